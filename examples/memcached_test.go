package examples_test

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestMemcached records Debian's memcached and a pipelining client, checks
// the Go plugin's records against its golden file, and queries them by the
// plugin's own fields.
func TestMemcached(t *testing.T) {
	needs(t, "memcached", "tcpdump", "go")
	dir := copyProject(t, "memcached")
	// The dissector's own unit test, natively, as the project's `make test`.
	cmd := exec.Command("go", "test", "-count=1", "./...")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test in %s: %v\n%s", filepath.Base(dir), err, out)
	}
	pcap := recorded(t, dir)
	data := installed(t, dir, "memcached", pcap)

	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`memcached && method == "get" && memcached_hits == 0`, []string{"get nobody", "get user:1"}},
		{`memcached && memcached_command == "incr" && failed`, []string{"incr user:1"}},
		{`memcached && memcached_counter > 4`, []string{"incr hits"}},
		{`memcached && memcached_keys > 1`, []string{"get user:1 user:2 user:3"}},
		{`memcached && memcached_flags == 42`, []string{"set user:2"}},
		{`memcached && memcached_noreply`, []string{"set quiet"}},
		{`memcached && memcached_result == "NOT_STORED"`, []string{"add user:1"}},
	} {
		got := calls(t, data, tc.filter)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("calls --filter '%s': %q, want %q", tc.filter, got, tc.want)
		}
	}
	if n := len(calls(t, data, "memcached")); n != 23 {
		t.Errorf("%d memcached records stored, want the golden file's 23", n)
	}

	// An assistant sees the same through MCP.
	got := viaMCP(t, data, "memcached", `memcached && method == "get" && memcached_hits == 0`)
	slices.Sort(got)
	if want := []string{"get nobody", "get user:1"}; !slices.Equal(got, want) {
		t.Errorf("MCP list_api_calls %s: %q, want %q", `memcached && method == "get" && memcached_hits == 0`, got, want)
	}

	// The capture without the packet of a get answered by a value: the
	// value, END and all, answers a request the plugin never saw.
	lostCommand(t, dir, "memcached", pcap, "get quiet\r\n")
}
