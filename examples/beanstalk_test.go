package examples_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
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

	// The capture without the packet of the worker's first command: its
	// reply answers a command the plugin never saw.
	lostCommand(t, dir, "beanstalk", pcap, "use emails\r\n")
}

// TestBeanstalkClose checks the C plugin's connection-close path, suspected
// of losing records: 300 connections open at once (the SDK's connection
// table grows and shifts entries on removal), each with a put answered and
// a reserve still unanswered when it closes, closed in shuffled order. Every
// put has its record and every pending reserve a "no reply" record.
func TestBeanstalkClose(t *testing.T) {
	needs(t, "clang-14", "wasm-ld")
	dir := copyProject(t, "beanstalk")
	ks(t, "", "plugin", "build", dir)
	pcap := filepath.Join(t.TempDir(), "close.pcap")
	f, err := os.Create(pcap)
	if err != nil {
		t.Fatal(err)
	}
	w, err := synth.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 5, 1, 14, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	const n = 300
	var conns []*synth.Conn
	for i := range n {
		c := w.Conn(netip.MustParseAddrPort(fmt.Sprintf("10.0.%d.%d:40000", i/200, 1+i%200)), netip.MustParseAddrPort("10.9.1.1:11300"), at(i))
		if err := c.Client([]byte("put 0 0 60 1\r\na\r\n"), at(1000+i)); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		c.Server([]byte(fmt.Sprintf("INSERTED %d\r\n", i)), at(2000+i))
		c.Client([]byte("reserve\r\n"), at(3000+i))
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { conns[i], conns[j] = conns[j], conns[i] })
	for i, c := range conns {
		c.Close(at(4000 + i))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := ks(t, t.TempDir(), "plugin", "test", filepath.Join(dir, "beanstalk.wasm"), pcap)
	jobs := map[string]bool{}
	noReply := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Method, Summary string
			Response        map[string]any `json:"response_fields"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("plugin test output %q: %v", line, err)
		}
		switch {
		case r.Method == "put" && r.Response != nil:
			jobs[fmt.Sprint(r.Response["beanstalk_job"])] = true
		case r.Method == "reserve" && r.Summary == "no reply":
			noReply++
		default:
			t.Errorf("unexpected record %s", line)
		}
	}
	if len(jobs) != n || noReply != n {
		t.Fatalf("%d distinct answered puts and %d unanswered reserves, want %d and %d", len(jobs), noReply, n, n)
	}
}
