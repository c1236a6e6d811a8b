package main_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"

	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

func TestMCPCommandFlags(t *testing.T) {
	data := t.TempDir()
	r := ks(t, data, "mcp", "--list-tools")
	if r.code != 0 {
		t.Fatalf("--list-tools: exit %d: %s", r.code, r.stderr)
	}
	for _, tool := range []string{"list_api_calls", "get_api_call", "get_api_stats", "find_anomalies", "get_tcp_insights", "export_snapshot_pcap", "disable_dissection"} {
		if !strings.Contains(r.stdout, tool+" ") {
			t.Errorf("--list-tools lacks %s:\n%s", tool, r.stdout)
		}
	}
	r = ks(t, data, "mcp", "--proxy")
	if r.code == 0 || !strings.Contains(r.stderr, "--proxy") || !strings.Contains(r.stderr, "not available yet") || r.stdout != "" {
		t.Fatalf("--proxy: exit %d, stderr %q, stdout %q", r.code, r.stderr, r.stdout)
	}
	r = ks(t, data, "mcp", "--url", "http://127.0.0.1:1", "--list-tools")
	if r.code == 0 || r.stdout != "" {
		t.Fatalf("--url with --list-tools: exit %d, stdout %q", r.code, r.stdout)
	}
	r = ks(t, data, "hub", "token")
	if r.code == 0 || !strings.Contains(r.stderr, "start `kubeshark hub` once") {
		t.Fatalf("hub token before the first start: exit %d, %q", r.code, r.stderr)
	}
	r = ks(t, data, "sample", "--scenario", "chaos", t.TempDir()+"/x.pcap")
	if r.code == 0 || !strings.Contains(r.stderr, "want http or cascade") {
		t.Fatalf("bad scenario: exit %d, %q", r.code, r.stderr)
	}
}

// An assistant starting `kubeshark mcp` while an import holds the store
// gets a server at once; calls then say the store is busy instead of
// hanging, and work again once it is free.
func TestMCPStartsWhileTheStoreIsBusy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	data := t.TempDir()
	held, err := storage.Open(context.Background(), storage.Options{Dir: filepath.Join(data, "store"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewStdioMCPClient(binary_, nil, "--data", data, "mcp")
	if err != nil {
		held.Close()
		t.Fatal(err)
	}
	s := mcptest.Connect(t, c)
	res := s.Call(t, "get_data_boundaries", nil)
	if !res.IsError || !strings.Contains(mcptest.Text(res), "in use by another kubeshark process") {
		t.Fatalf("call on a busy store: %v %q", res.IsError, mcptest.Text(res))
	}
	held.Close()
	s.Get(t, "get_data_boundaries", nil, nil)
}
