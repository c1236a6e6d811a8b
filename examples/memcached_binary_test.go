package examples_test

import (
	"slices"
	"testing"
)

// TestMemcachedBinary records Debian's memcached speaking the binary
// protocol (-B binary) to two pipelining clients, one with quiet commands,
// checks the Rust plugin's records against its golden file, and queries
// them by the plugin's own fields.
func TestMemcachedBinary(t *testing.T) {
	needs(t, "memcached", "tcpdump", "/usr/bin/rustc")
	dir := copyProject(t, "memcached_binary")
	pcap := recorded(t, dir)
	data := installed(t, dir, "memcached_binary", pcap)

	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`memcached_binary && status_code == 1`, []string{"deleteq user:1", "get nobody"}},
		{`memcached_binary && failed`, []string{"increment user:1"}},
		{`memcached_binary && memcached_binary_counter == 15`, []string{"increment hits"}},
		{`memcached_binary && memcached_binary_quiet && summary == "quiet: miss"`, []string{"getq nobody"}},
		{`memcached_binary && memcached_binary_opcode == 0 && memcached_binary_value_bytes == 5`, []string{"get user:1"}},
		{`memcached_binary && memcached_binary_key == "later"`, []string{"setq later"}},
	} {
		got := calls(t, data, tc.filter)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("calls --filter '%s': %q, want %q", tc.filter, got, tc.want)
		}
	}
	if n := len(calls(t, data, "memcached_binary")); n != 21 {
		t.Errorf("%d memcached_binary records stored, want the golden file's 21", n)
	}

	// An assistant sees the same through MCP.
	got := viaMCP(t, data, "memcached_binary", `memcached_binary && memcached_binary_quiet && summary == "quiet: miss"`)
	slices.Sort(got)
	if want := []string{"getq nobody"}; !slices.Equal(got, want) {
		t.Errorf("MCP list_api_calls %s: %q, want %q", `memcached_binary && memcached_binary_quiet && summary == "quiet: miss"`, got, want)
	}
}
