package main

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// feed offers the chunks of one direction as the host would: what a call
// leaves unconsumed comes again with the next chunk appended.
func feed(t *testing.T, c sdk.Conn, dir sdk.Direction, chunks ...string) {
	t.Helper()
	var buf []byte
	for _, ch := range chunks {
		buf = append(buf, ch...)
		used, _ := c.Feed(dir, buf, 1, 2)
		if used < 0 {
			t.Fatalf("feed refused %q", buf)
		}
		buf = buf[used:]
	}
	if len(buf) > 0 {
		t.Fatalf("left unconsumed: %q", buf)
	}
}

// TestFeed runs the dissector natively (go test, no WebAssembly) on a
// pipelined conversation split mid-line and mid-data-block.
func TestFeed(t *testing.T) {
	var recs []*sdk.Record
	c := dissector{}.Open(sdk.ConnInfo{ID: 1, Oriented: true}, sdk.EmitFunc(func(r *sdk.Record) { recs = append(recs, r) }))
	feed(t, c, sdk.DirA, "set user:1 5 0 5\r\nal", "ice\r\nget user:1 user:2\r\nincr n 3\r\ndelete x noreply\r\n")
	feed(t, c, sdk.DirB, "STORED\r\nVALUE user:1 5 5\r\nali", "ce\r\nEND\r\n7\r\n")
	type want struct {
		method, path, status string
		failed               bool
		field                string
		value                any
	}
	wants := []want{
		{"delete", "x", "", false, "memcached_noreply", true}, // noreply: emitted at once
		{"set", "user:1", "STORED", false, "memcached_bytes", 5},
		{"get", "user:1 user:2", "END", false, "memcached_hits", 1},
		{"incr", "n", "OK", false, "memcached_counter", 7},
	}
	if len(recs) != len(wants) {
		t.Fatalf("%d records, want %d", len(recs), len(wants))
	}
	for i, w := range wants {
		r := recs[i]
		if r.Method != w.method || r.Path != w.path || r.StatusText != w.status || r.Failed != w.failed {
			t.Errorf("record %d: %s %q %q failed=%v, want %+v", i, r.Method, r.Path, r.StatusText, r.Failed, w)
		}
		v, ok := r.Request.Get(w.field)
		if !ok && r.Response != nil {
			v, _ = r.Response.Get(w.field)
		}
		if v != w.value {
			t.Errorf("record %d: %s = %v, want %v", i, w.field, v, w.value)
		}
	}
}

func TestErrorsAndMisses(t *testing.T) {
	var recs []*sdk.Record
	c := dissector{}.Open(sdk.ConnInfo{ID: 1, Oriented: true}, sdk.EmitFunc(func(r *sdk.Record) { recs = append(recs, r) }))
	feed(t, c, sdk.DirA, "get nope\r\nincr s 1\r\n")
	feed(t, c, sdk.DirB, "END\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	if v, _ := recs[0].Response.Get("memcached_hits"); v != 0 || recs[0].Summary != "miss" || recs[0].Failed {
		t.Errorf("miss: hits %v summary %q failed %v", v, recs[0].Summary, recs[0].Failed)
	}
	if !recs[1].Failed || recs[1].StatusText != "CLIENT_ERROR" {
		t.Errorf("client error: %+v", recs[1])
	}
	for _, tc := range []struct {
		data string
		conf uint8
		more bool
	}{
		{"get k\r\n", 80, false}, {"ge", 0, true}, {"GET / HTTP/1.1\r\n", 0, false}, {"set k 0 0 1", 0, true}, {"PING alice\n", 0, false},
	} {
		p := (dissector{}).Probe(sdk.DirA, []byte(tc.data))
		if p.Confidence != tc.conf || p.NeedMore != tc.more {
			t.Errorf("probe %q: %+v", tc.data, p)
		}
	}
}

// TestReplyBeforeRequest: each direction is reassembled on its own, so the
// host may offer a reply before the request it answers; the reply waits.
func TestReplyBeforeRequest(t *testing.T) {
	var recs []*sdk.Record
	c := dissector{}.Open(sdk.ConnInfo{ID: 1, Oriented: true}, sdk.EmitFunc(func(r *sdk.Record) { recs = append(recs, r) }))
	if used, _ := c.Feed(sdk.DirB, []byte("STORED\r\n"), 1, 1); used != 0 {
		t.Fatalf("a reply to nothing yet: consumed %d, want 0 (kept)", used)
	}
	feed(t, c, sdk.DirA, "set k 0 0 1\r\nx\r\n")
	feed(t, c, sdk.DirB, "STORED\r\n")
	if len(recs) != 1 || recs[0].StatusText != "STORED" {
		t.Fatalf("records %v", recs)
	}
}
