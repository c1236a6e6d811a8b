package fanout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

func TestParseWorkers(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want Static
		err  string
	}{
		{in: []string{"http://10.0.0.1:8898"}, want: Static{{Node: "10.0.0.1:8898", URL: "http://10.0.0.1:8898"}}},
		{in: []string{"a=http://10.0.0.1:8898/, b=https://w2:443", "c=http://[fd00::3]:8898"},
			want: Static{{Node: "a", URL: "http://10.0.0.1:8898"}, {Node: "b", URL: "https://w2:443"}, {Node: "c", URL: "http://[fd00::3]:8898"}}},
		{in: []string{"a=http://x:1,a=http://y:1"}, err: "node a is named twice"},
		{in: []string{"10.0.0.1:8898"}, err: "want http://HOST:PORT"},
		{in: []string{"a=ftp://x"}, err: "want http://HOST:PORT"},
		{in: []string{" , "}, err: "no workers given"},
	} {
		got, err := ParseWorkers(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Fatalf("%q: %v %v", tc.in, got, err)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q: worker %d = %+v, want %+v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

func TestReportWarning(t *testing.T) {
	r := &Report{nodes: map[string]*NodeStatus{}}
	if r.Warning() != "" || r.Nodes() != nil {
		t.Fatal("an empty report warns")
	}
	r.answered("a", 3)
	r.answered("b", 2)
	r.answered("c", 0)
	if w := r.Warning(); w != "" {
		t.Fatalf("all answered: %q", w)
	}
	r.failed("b", errors.New("connection refused"))
	r.answered("b", 5) // a later part of the answer does not make it whole
	if w, want := r.Warning(), "node b (connection refused) did not answer; results are from 2 of 3 nodes"; w != want {
		t.Errorf("warning %q, want %q", w, want)
	}
	r.failed("c", errors.New("stream cut short after 4 items"))
	if w, want := r.Warning(), "nodes b (connection refused), c (stream cut short after 4 items) did not answer; results are from 1 of 3 nodes"; w != want {
		t.Errorf("warning %q, want %q", w, want)
	}
	ns := r.Nodes()
	if ns[0].Node != "a" || !ns[0].OK || ns[0].Records != 3 || ns[1].OK {
		t.Errorf("nodes %+v", ns)
	}
}

func TestDerivedCacheEvictsTheOldestMinute(t *testing.T) {
	c := newDerivedCache(3)
	c.put("x", 10, 1, []byte("a"))
	c.put("y", 10, 1, []byte("b"))
	c.put("x", 11, 1, []byte("c"))
	c.put("x", 12, 2, []byte("d"))
	if _, _, ok := c.get("x", 10); ok {
		t.Error("minute 10 kept past the cap")
	}
	if e, v, ok := c.get("x", 12); !ok || e != 2 || string(v) != "d" {
		t.Errorf("minute 12: %d %q %v", e, v, ok)
	}
	if _, _, ok := c.get("x", 11); !ok {
		t.Error("minute 11 evicted")
	}
}

// A worker whose stream breaks its protocol (an error line, a wrong end
// count, no end line, not JSON) is reported by name with what it did, and
// its items are left out of the answer of the worker that did answer.
func TestBrokenStreams(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	var recs []*sdk.Record
	for i := range 5 {
		recs = append(recs, &sdk.Record{Protocol: "http", Timestamp: t0.Add(time.Duration(i) * time.Second), Method: "GET", Path: "/good", Status: 200})
	}
	if err := st.Put(ctx, recs); err != nil {
		t.Fatal(err)
	}
	wh, err := WorkerHandler(WorkerOptions{Node: "good", Store: FixedStore(st)})
	if err != nil {
		t.Fatal(err)
	}
	good := httptest.NewServer(wh)
	defer good.Close()
	badRec := storage.AppendRecord(nil, &sdk.Record{ID: "01234567890123456789ABCDEF", Protocol: "http",
		Timestamp: t0.Add(500 * time.Millisecond), Path: "/bad"})
	bad := string(appendFrame(nil, frameRecord, badRec))
	for _, tc := range []struct{ name, body, want string }{
		{"error frame", bad + string(appendFrame(nil, frameError, []byte("node bad: disk on fire"))), "disk on fire"},
		{"wrong count", bad + string(appendFrame(nil, frameEnd, []byte{7})), "ended after 1 items but says it sent 7"},
		{"no end", bad, "stream cut short after 1 items (the worker stopped"},
		{"cut in a frame", bad + string(appendFrame(nil, frameRecord, badRec)[:9]), "stream cut short after 1 items (the worker stopped"},
		{"not a stream", bad + "<html>" + strings.Repeat("x", 200), "a frame of unknown kind '<'"},
		{"huge frame", bad + "r\xff\xff\xff\xff\x0f", "frame of 4294967295 bytes"},
		{"bad record", bad + string(appendFrame(nil, frameRecord, badRec[:20])), "item 2 of the stream: storage: record"},
	} {
		broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, tc.body)
		}))
		cl, err := New(Options{Discovery: Static{{Node: "good", URL: good.URL}, {Node: "bad", URL: broken.URL}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, rep := Track(ctx)
		page, err := cl.Query(ctx, storage.Query{Limit: 10})
		broken.Close()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(page.Records) != 5 || page.Next != "" {
			t.Errorf("%s: %d records (next %q), want the good node's 5", tc.name, len(page.Records), page.Next)
		}
		for _, r := range page.Records {
			if r.Path != "/good" {
				t.Errorf("%s: the broken node's record %s kept", tc.name, r.Path)
			}
		}
		if w := rep.Warning(); !strings.HasPrefix(w, "node bad (") || !strings.Contains(w, tc.want) || !strings.HasSuffix(w, "results are from 1 of 2 nodes") {
			t.Errorf("%s: warning %q, want it to name bad and say %q", tc.name, w, tc.want)
		}
	}
	// A worker discovery knows to be down is reported with its reason.
	cl, _ := New(Options{Discovery: Static{{Node: "good", URL: good.URL}, {Node: "starting", Unavailable: "pod kubeshark-worker-x is Pending"}}})
	tctx, rep := Track(ctx)
	if page, err := cl.Query(tctx, storage.Query{}); err != nil || len(page.Records) != 5 {
		t.Fatalf("with an unavailable worker: %d records, %v", len(page.Records), err)
	}
	if w := rep.Warning(); w != "node starting (pod kubeshark-worker-x is Pending) did not answer; results are from 1 of 2 nodes" {
		t.Errorf("unavailable worker: %q", w)
	}
	// A worker that accepts the query and then says nothing holds up
	// the answer only for NodeTimeout, before its answer starts or in the
	// middle of its stream.
	for _, tc := range []struct{ name, prefix string }{{"before", ""}, {"during", bad}} {
		release := make(chan struct{})
		stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.prefix != "" {
				io.WriteString(w, tc.prefix)
				w.(http.Flusher).Flush()
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		cl, _ = New(Options{Discovery: Static{{Node: "good", URL: good.URL}, {Node: "stuck", URL: stuck.URL}}, NodeTimeout: 300 * time.Millisecond})
		tctx, rep = Track(ctx)
		start := time.Now()
		page, err := cl.Query(tctx, storage.Query{})
		if err != nil || len(page.Records) != 5 {
			t.Errorf("stuck %s its answer: %d records, %v, after %v", tc.name, len(page.Records), err, time.Since(start))
		}
		if w := rep.Warning(); !strings.HasPrefix(w, "node stuck (") || !strings.Contains(w, "silent for 300ms") {
			t.Errorf("stuck %s its answer: warning %q", tc.name, w)
		}
		close(release)
		stuck.Close()
	}
	// No node answering is an error, not an empty answer.
	cl, _ = New(Options{Discovery: Static{{Node: "gone", URL: "http://127.0.0.1:1"}}})
	if _, err := cl.Query(ctx, storage.Query{}); err == nil || !strings.Contains(err.Error(), "no node answered") {
		t.Errorf("every node down: %v", err)
	}
}

// Paging through the merge gives one store's pages whether the next page
// continues the parked merge or starts new streams from the cursor (a
// restarted hub, an evicted merge), in both orders.
func TestPagingResumesAndRestarts(t *testing.T) {
	ctx := context.Background()
	open := func() *storage.Store {
		st, err := storage.Open(ctx, storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	all := open()
	var static Static
	t0 := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	for i := range 3 {
		st := open()
		var recs []*sdk.Record
		for j := range 40 + 30*i {
			// Uneven spacing, so that runs of one node's records cross
			// page boundaries.
			recs = append(recs, &sdk.Record{Protocol: "http", Timestamp: t0.Add(time.Duration(3*j*j*(i+1)+i) * time.Millisecond), // never two at once
				Path: fmt.Sprintf("/n%d/%d", i, j), Status: 200})
		}
		if err := st.Put(ctx, recs); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			r.ID = ""
		}
		if err := all.Put(ctx, recs); err != nil {
			t.Fatal(err)
		}
		h, err := WorkerHandler(WorkerOptions{Node: fmt.Sprint(i), Store: FixedStore(st)})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		static = append(static, Worker{Node: fmt.Sprint(i), URL: srv.URL})
	}
	cl, err := New(Options{Discovery: static})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	pages := func(src querier, newest, restart bool) []string {
		var out []string
		q := storage.Query{Limit: 17, Newest: newest}
		for {
			p, err := src.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, r := range p.Records {
				paths = append(paths, r.Path)
			}
			out = append(out, strings.Join(paths, " "))
			if p.Next == "" {
				return out
			}
			if src == cl && len(cl.parked.m) != 1 {
				t.Fatalf("%d merges parked after a page with a next one", len(cl.parked.m))
			}
			if restart {
				cl.Close()
			}
			q.Cursor = p.Next
		}
	}
	for _, newest := range []bool{false, true} {
		want := pages(all, newest, false)
		for _, restart := range []bool{false, true} {
			got := pages(cl, newest, restart)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("newest %v, restart %v: pages differ from one store's:\n got %q\nwant %q", newest, restart, got, want)
			}
		}
	}
}

func TestNoWorkers(t *testing.T) {
	cl, err := New(Options{Discovery: Static{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Query(context.Background(), storage.Query{}); !errors.Is(err, ErrNoWorkers) {
		t.Errorf("Query with no workers: %v, want ErrNoWorkers", err)
	}
	if _, err := cl.Summary(context.Background()); !errors.Is(err, ErrNoWorkers) {
		t.Errorf("Summary with no workers: %v, want ErrNoWorkers", err)
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without a Discovery")
	}
}

// A node that goes away between two pages of a parked merge is named in
// every later page, and its records leave them.
func TestNodeLostBetweenPages(t *testing.T) {
	ctx := context.Background()
	var static Static
	var srvs []*httptest.Server
	t0 := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	for i := range 3 {
		st, err := storage.Open(ctx, storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		var recs []*sdk.Record
		for j := range 10000 {
			recs = append(recs, &sdk.Record{Protocol: "http", Timestamp: t0.Add(time.Duration(3*j+i) * time.Millisecond), Path: fmt.Sprintf("/n%d", i)})
		}
		if err := st.Put(ctx, recs); err != nil {
			t.Fatal(err)
		}
		h, _ := WorkerHandler(WorkerOptions{Node: fmt.Sprint(i), Store: FixedStore(st)})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		srvs = append(srvs, srv)
		static = append(static, Worker{Node: fmt.Sprintf("n%d", i), URL: srv.URL})
	}
	cl, _ := New(Options{Discovery: static})
	t.Cleanup(func() { cl.Close() })
	q := storage.Query{Limit: 30}
	qctx, rep := Track(ctx)
	p, err := cl.Query(qctx, q)
	if err != nil || len(p.Records) != 30 || rep.Warning() != "" || p.Next == "" {
		t.Fatalf("first page: %d records, %v, %q", len(p.Records), err, rep.Warning())
	}
	// The node goes away while its stream is parked, well before its
	// 10,000 records are sent (a stream that waits for the merge holds
	// far fewer in its buffers). What the hub had already received from it
	// is good and is used; the page in which its stream breaks, and every
	// later one, name it and hold none of its records.
	srvs[1].CloseClientConnections()
	seen := false
	for page := 2; p.Next != "" && page < 1000; page++ {
		q.Cursor = p.Next
		qctx, rep = Track(ctx)
		if p, err = cl.Query(qctx, q); err != nil {
			t.Fatal(err)
		}
		w := rep.Warning()
		if w == "" {
			if seen {
				t.Fatalf("page %d: the lost node is no longer named", page)
			}
			continue
		}
		seen = true
		if !strings.HasPrefix(w, "node n1 (") || !strings.HasSuffix(w, "results are from 2 of 3 nodes") {
			t.Errorf("page %d: warning %q", page, w)
		}
		if len(p.Records) != 30 && p.Next != "" {
			t.Errorf("page %d: %d records, want a full page from the others", page, len(p.Records))
		}
		for _, r := range p.Records {
			if r.Path == "/n1" {
				t.Fatalf("page %d names n1 as missing but holds its records", page)
			}
		}
	}
	if !seen {
		t.Fatal("the lost node was never named")
	}
}
