package examples_test

import (
	"slices"
	"testing"
)

// TestBeanstalk records Debian's beanstalkd with a pipelining producer and
// a worker, checks the C plugin's records against its golden file, and
// queries them by the plugin's own fields.
func TestBeanstalk(t *testing.T) {
	needs(t, "beanstalkd", "tcpdump", "clang-14", "wasm-ld")
	dir := copyProject(t, "beanstalk")
	pcap := recorded(t, dir)
	data := installed(t, dir, "beanstalk", pcap)

	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`beanstalk && method == "put" && beanstalk_tube == "emails"`, []string{"put emails", "put emails", "put emails"}},
		{`beanstalk && beanstalk_priority >= 100`, []string{"put emails"}},
		{`beanstalk && beanstalk_result == "RESERVED" && beanstalk_job == 2`, []string{"reserve-with-timeout", "reserve-with-timeout", "reserve-with-timeout"}}, // after put, kick and release,
		{`beanstalk && failed`, []string{"frobnicate"}},
		{`beanstalk && beanstalk_result == "NOT_FOUND"`, []string{"delete 99"}},
		{`beanstalk && beanstalk_count == 1`, []string{"ignore default", "kick"}},
	} {
		got := calls(t, data, tc.filter)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("calls --filter '%s': %q, want %q", tc.filter, got, tc.want)
		}
	}
	if n := len(calls(t, data, "beanstalk")); n != 22 {
		t.Errorf("%d beanstalk records stored, want the golden file's 22", n)
	}

	// An assistant sees the same through MCP.
	got := viaMCP(t, data, "beanstalk", `beanstalk && failed`)
	slices.Sort(got)
	if want := []string{"frobnicate"}; !slices.Equal(got, want) {
		t.Errorf("MCP list_api_calls %s: %q, want %q", `beanstalk && failed`, got, want)
	}
}
