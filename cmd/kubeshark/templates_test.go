package main_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestCallsShowAndFilterByTemplate: on the Redis incident, whose API paths
// carry game names (/api/leaderboard/chess, ...), calls and call show each
// call's learned template, and --filter selects by it.
func TestCallsShowAndFilterByTemplate(t *testing.T) {
	data := t.TempDir()
	f := filepath.Join(t.TempDir(), "redis.pcap")
	if r := ks(t, t.TempDir(), "sample", "--scenario", "redis-latency", f); r.code != 0 {
		t.Fatalf("sample: %+v", r)
	}
	if r := ks(t, data, "import", f); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	type withTemplate struct {
		ID       string `json:"id"`
		Protocol string `json:"protocol"`
		Method   string `json:"method"`
		Path     string `json:"path"`
		Template string `json:"template"`
	}
	list := func(args ...string) []withTemplate {
		t.Helper()
		r := ks(t, data, append([]string{"calls", "-o", "json", "--limit", "0"}, args...)...)
		var out []withTemplate
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
			t.Fatalf("calls %v: %v %+v", args, err, r)
		}
		return out
	}
	all := list()
	board := 0
	for _, c := range all {
		if c.Template == "" {
			t.Fatalf("call %s %s %s has no template", c.Protocol, c.Method, c.Path)
		}
		if strings.HasPrefix(c.Path, "/api/leaderboard/") {
			board++
		}
	}
	got := list("--filter", `template == "/api/leaderboard/{param}"`)
	if board == 0 || len(got) != board {
		t.Fatalf(`template == "/api/leaderboard/{param}": %d calls, want the %d leaderboard calls`, len(got), board)
	}
	if ep := list("--filter", `endpoint == "GET /api/leaderboard/{param}"`); len(ep) != board {
		t.Fatalf("endpoint filter: %d calls, want %d", len(ep), board)
	}
	r := ks(t, data, "call", "-o", "text", got[0].ID)
	if r.code != 0 || !strings.Contains(r.stdout, "endpoint GET /api/leaderboard/{param}") {
		t.Fatalf("call -o text:\n%s", r.stdout)
	}
	r = ks(t, data, "calls", "--limit", "3", "--filter", "http")
	if !strings.Contains(r.stdout, "TEMPLATE") || !strings.Contains(r.stdout, "{param}") {
		t.Fatalf("table:\n%s", r.stdout)
	}
}
