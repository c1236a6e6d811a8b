package storage

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// queryAll pages through q with the given page size and returns all ids,
// failing on duplicates.
func queryAll(t *testing.T, s *Store, q Query) []string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		p, err := s.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if q.Limit > 0 && len(p.Records) > q.Limit {
			t.Fatalf("page of %d records, limit %d", len(p.Records), q.Limit)
		}
		for _, r := range p.Records {
			if seen[r.ID] {
				t.Fatalf("record %s returned twice", r.ID)
			}
			seen[r.ID] = true
			out = append(out, r.ID)
		}
		if p.Next == "" {
			return out
		}
		if len(p.Records) == 0 {
			t.Fatal("empty page with a Next cursor")
		}
		q.Cursor = p.Next
	}
}

// scanIDs evaluates q by brute force through the primary scan, the
// reference the index paths must agree with.
func scanIDs(t *testing.T, s *Store, q Query) []string {
	t.Helper()
	var out []string
	err := s.db.View(func(txn *badger.Txn) error {
		return s.walk(context.Background(), txn, plan{prefix: []byte{prefixRecord}, primary: true}, q, nil,
			func(_ rawID, r *sdk.Record) (bool, error) { out = append(out, r.ID); return true, nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func reversed(s []string) []string {
	c := slices.Clone(s)
	slices.Reverse(c)
	return c
}

func TestQueryTimeRangeOrderAndPaging(t *testing.T) {
	s := openMem(t)
	recs := synthN(0, 1000)
	// Same-timestamp records must still page without gaps.
	for _, r := range recs[500:520] {
		r.Timestamp = recs[500].Timestamp
	}
	// Put out of time order, in several batches.
	mustPut(t, s, recs[600:])
	mustPut(t, s, recs[:600])
	all := make([]string, len(recs))
	for i, r := range recs {
		all[i] = r.ID
	}
	slices.Sort(all) // ids sort by time; ties by insertion counter

	ts := func(i int) time.Time { return recs[i].Timestamp }
	tests := []struct {
		name string
		q    Query
		want []string
	}{
		{"all", Query{}, all},
		{"since", Query{Since: ts(990)}, all[990:]},
		{"until", Query{Until: ts(10)}, all[:10]},
		{"range", Query{Since: ts(100), Until: ts(200)}, all[100:200]},
		{"range ties", Query{Since: ts(500), Until: ts(521)}, all[500:521]},
		{"range ties by one", Query{Since: ts(495), Until: ts(525), Limit: 1}, all[495:525]},
		{"newest ties by one", Query{Since: ts(495), Until: ts(525), Limit: 1, Newest: true}, reversed(all[495:525])},
		{"empty range", Query{Since: ts(200), Until: ts(200)}, nil},
		{"newest", Query{Newest: true}, reversed(all)},
		{"newest range", Query{Newest: true, Since: ts(100), Until: ts(200)}, reversed(all[100:200])},
	}
	for _, tt := range tests {
		for _, limit := range []int{0, 7, 100, 1000} {
			q := tt.q
			if q.Limit == 0 {
				q.Limit = limit
			}
			got := queryAll(t, s, q)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s limit %d: got %d ids, want %d (first diff at %d)", tt.name, limit, len(got), len(tt.want), firstDiff(got, tt.want))
			}
		}
	}

	p, err := s.Query(context.Background(), Query{Limit: 1000})
	if err != nil || p.Next != "" || len(p.Records) != 1000 {
		t.Fatalf("exact-size page: %d records, next %q, %v", len(p.Records), p.Next, err)
	}
	if r := p.Records[0]; r.Request.Body != "" || r.Response.Body != "" || len(r.Request.Headers) == 0 || r.Response.BodySize == 0 {
		t.Fatalf("listing without bodies: %+v", r.Request)
	}
	p, err = s.Query(context.Background(), Query{Limit: 1, WithBodies: true})
	if err != nil || p.Records[0].Response.Body == "" {
		t.Fatalf("WithBodies: %v", err)
	}
	if _, err := s.Query(context.Background(), Query{Cursor: "bogus"}); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestQueryFiltersIndexAndScanAgree(t *testing.T) {
	s := openMem(t)
	mustPut(t, s, synthN(0, 800))
	filters := []struct {
		filter  string
		indexed bool
	}{
		{`protocol=http`, true},
		{`protocol=HTTP`, true},
		{`protocol=dns status=404`, true},
		{`status=500`, true},
		{`failed=true`, true},
		{`failed!=false method=GET`, true},
		{`failed=false`, false},
		{`src=10.0.0.3`, true},
		{`src=10.0.0.3:40003`, true},
		{`dst=10.0.1.2`, true},
		{`dst=10.0.1.2:443`, true},
		{`dst=10.0.1.0:80 status=200 protocol=http`, true},
		{`failed=true dst=10.0.1.0:80`, true},
		{`protocol!=http`, false},
		{`method=post`, false},
		{`path~/users/1`, false},
		{`status>=500`, false},
		{`elapsed_ms<10`, false},
		{`stream=s7`, false},
		{`summary~"item 19"`, false},
		{`protocol=smtp`, true},
	}
	since, until := base.Add(200*time.Millisecond), base.Add(700*time.Millisecond)
	for _, tt := range filters {
		f, err := ParseFilter(tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(filterTests(f)) > 0; got != tt.indexed {
			t.Errorf("%s: indexed = %v, want %v", tt.filter, got, tt.indexed)
		}
		for _, q := range []Query{
			{Filter: f},
			{Filter: f, Newest: true, Limit: 37},
			{Filter: f, Since: since, Until: until, Limit: 50},
			{Filter: f, Since: since, Until: until, Newest: true},
		} {
			want := scanIDs(t, s, Query{Filter: f, Since: q.Since, Until: q.Until, Newest: q.Newest})
			got := queryAll(t, s, q)
			if !slices.Equal(got, want) {
				t.Errorf("%s (newest=%v limit=%d since=%v): index path %d ids, scan %d", tt.filter, q.Newest, q.Limit, !q.Since.IsZero(), len(got), len(want))
			}
			if tt.filter != "protocol=smtp" && q.Since.IsZero() && len(want) == 0 {
				t.Errorf("%s: matches nothing; the test data should exercise it", tt.filter)
			}
		}
	}
}

func TestSummary(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	sum, err := s.Summary(ctx)
	if err != nil || sum.Total != 0 || !sum.First.IsZero() {
		t.Fatalf("empty summary: %+v %v", sum, err)
	}
	recs := synthN(0, 700)
	mustPut(t, s, recs)
	sum, err = s.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	failed := 0
	for _, r := range recs {
		want[r.Protocol]++
		if r.Failed {
			failed++
		}
	}
	if sum.Total != 700 || sum.Failed != failed || len(sum.ByProtocol) != len(want) {
		t.Fatalf("summary %+v, want total 700 failed %d protocols %v", sum, failed, want)
	}
	for p, n := range want {
		if sum.ByProtocol[p] != n {
			t.Errorf("protocol %s: %d, want %d", p, sum.ByProtocol[p], n)
		}
	}
	if !sum.First.Equal(recs[0].Timestamp) || !sum.Last.Equal(recs[699].Timestamp) {
		t.Errorf("first/last %v %v", sum.First, sum.Last)
	}
	if n, _ := s.Count(ctx); n != 700 {
		t.Errorf("count %d", n)
	}
}

// funcMatcher is a Matcher for testing the wiring without a language.
type funcMatcher struct {
	fn    func(*sdk.Record) (bool, error)
	terms []IndexTerm
	reads RecordParts
	calls int
}

func (m *funcMatcher) Match(r *sdk.Record) (bool, error) { m.calls++; return m.fn(r) }
func (m *funcMatcher) IndexTerms() []IndexTerm           { return m.terms }
func (m *funcMatcher) Reads() RecordParts                { return m.reads }
func (m *funcMatcher) String() string                    { return "test matcher" }

func TestQueryMatcher(t *testing.T) {
	s := openMem(t)
	recs := synthN(0, 600)
	mustPut(t, s, recs)
	ctx := context.Background()

	// want lists, in time order, the records pred keeps.
	want := func(pred func(*sdk.Record) bool) []string {
		var out []string
		for _, r := range recs {
			if pred(r) {
				out = append(out, r.ID)
			}
		}
		return out
	}
	is500 := func(r *sdk.Record) bool { return r.Status == 500 }
	dst := func(r *sdk.Record) bool { return r.Dst.IP == "10.0.1.2" && r.Dst.Port == 80 }
	for _, tc := range []struct {
		name  string
		pred  func(*sdk.Record) bool
		terms []IndexTerm
		// maxCalls bounds the records the matcher is asked about: an
		// index scan visits only the index value's records.
		maxCalls int
	}{
		{"no index", is500, nil, 600},
		{"status index", is500, []IndexTerm{{Kind: IndexStatus, Num: 500}}, 100},
		{"protocol index", func(r *sdk.Record) bool { return r.Protocol == "dns" && r.Method == "GET" }, []IndexTerm{{Kind: IndexProtocol, Str: "DNS"}}, 150},
		{"failed index", func(r *sdk.Record) bool { return r.Failed }, []IndexTerm{{Kind: IndexFailed}}, 86},
		{"src index", func(r *sdk.Record) bool { return r.Src.IP == "10.0.0.3" }, []IndexTerm{{Kind: IndexSrcIP, Str: "10.0.0.3"}}, 120},
		{"dst ip:port index", dst, []IndexTerm{{Kind: IndexDstIP, Str: "10.0.1.2"}, {Kind: IndexDstIPPort, Str: "10.0.1.2", Num: 80}}, 100},
		{"bad port ignored", is500, []IndexTerm{{Kind: IndexDstIPPort, Str: "10.0.1.2", Num: 70000}}, 600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &funcMatcher{fn: func(r *sdk.Record) (bool, error) { return tc.pred(r), nil }, terms: tc.terms}
			got := queryAll(t, s, Query{Match: m, Limit: 17})
			if w := want(tc.pred); !slices.Equal(got, w) {
				t.Fatalf("got %d records, want %d", len(got), len(w))
			}
			m.calls = 0
			if _, err := s.Query(ctx, Query{Match: m}); err != nil {
				t.Fatal(err)
			}
			if m.calls > tc.maxCalls {
				t.Fatalf("matcher asked about %d records, want at most %d", m.calls, tc.maxCalls)
			}
		})
	}

	t.Run("with Filter", func(t *testing.T) {
		f, err := ParseFilter("protocol=http")
		if err != nil {
			t.Fatal(err)
		}
		m := &funcMatcher{fn: func(r *sdk.Record) (bool, error) { return r.Status == 404, nil }}
		got := queryAll(t, s, Query{Filter: f, Match: m})
		if w := want(func(r *sdk.Record) bool { return r.Protocol == "http" && r.Status == 404 }); !slices.Equal(got, w) || len(w) == 0 {
			t.Fatalf("got %d, want %d", len(got), len(w))
		}
	})

	t.Run("errors leave records out", func(t *testing.T) {
		m := &funcMatcher{fn: func(r *sdk.Record) (bool, error) {
			if r.Status == 500 {
				return true, errors.New("boom")
			}
			return r.Status == 404, nil
		}}
		got := queryAll(t, s, Query{Match: m})
		if w := want(func(r *sdk.Record) bool { return r.Status == 404 }); !slices.Equal(got, w) {
			t.Fatalf("got %d, want %d", len(got), len(w))
		}
	})

	t.Run("reads", func(t *testing.T) {
		sawMessages, sawBodies := false, false
		probe := func(r *sdk.Record) (bool, error) {
			if r.Request != nil && len(r.Request.Headers) > 0 {
				sawMessages = true
			}
			if r.Response != nil && r.Response.Body != "" {
				sawBodies = true
			}
			return r.Status == 201, nil
		}
		for _, tc := range []struct {
			reads            RecordParts
			withBodies       bool
			messages, bodies bool
			resultHasBodies  bool
		}{
			{0, false, false, false, false},
			{ReadsMessages, false, true, false, false},
			{ReadsMessages | ReadsBodies, false, true, true, false},
			{ReadsBodies, true, true, true, true},
		} {
			sawMessages, sawBodies = false, false
			p, err := s.Query(ctx, Query{Match: &funcMatcher{fn: probe, reads: tc.reads}, WithBodies: tc.withBodies, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			if sawMessages != tc.messages || sawBodies != tc.bodies {
				t.Errorf("reads %b: matcher saw messages %v bodies %v, want %v %v", tc.reads, sawMessages, sawBodies, tc.messages, tc.bodies)
			}
			if len(p.Records) != 3 || p.Records[0].Request == nil || len(p.Records[0].Request.Headers) == 0 {
				t.Fatalf("reads %b: records incomplete: %+v", tc.reads, p.Records)
			}
			if has := p.Records[0].Response.Body != ""; has != tc.resultHasBodies {
				t.Errorf("reads %b, WithBodies %v: result has bodies %v", tc.reads, tc.withBodies, has)
			}
		}
	})
}

func TestIndexTermString(t *testing.T) {
	for _, tc := range []struct {
		t    IndexTerm
		want string
	}{
		{IndexTerm{Kind: IndexProtocol, Str: "http"}, "protocol=http"},
		{IndexTerm{Kind: IndexStatus, Num: 500}, "status=500"},
		{IndexTerm{Kind: IndexFailed}, "failed"},
		{IndexTerm{Kind: IndexSrcIP, Str: "10.0.0.1"}, "src.ip=10.0.0.1"},
		{IndexTerm{Kind: IndexDstIP, Str: "::1"}, "dst.ip=::1"},
		{IndexTerm{Kind: IndexDstIPPort, Str: "::1", Num: 80}, "dst=[::1]:80"},
	} {
		if got := tc.t.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.t, got, tc.want)
		}
	}
}

// SizesOnly keeps what counting needs (sizes, which messages exist) and
// drops headers and fields, unless a Matcher evaluated after decoding
// reads them.
func TestQuerySizesOnly(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	mustPut(t, s, synthN(0, 50))
	full, err := s.Query(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	light, err := s.Query(ctx, Query{SizesOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(light.Records) != 50 || len(full.Records) != 50 {
		t.Fatalf("%d and %d records", len(light.Records), len(full.Records))
	}
	for i, r := range light.Records {
		f := full.Records[i]
		if r.ID != f.ID || r.Path != f.Path || r.Request.Size != f.Request.Size || r.Response.Size != f.Response.Size ||
			r.Response.BodySize != f.Response.BodySize || (r.ElapsedMs == nil) != (f.ElapsedMs == nil) {
			t.Fatalf("record %d differs beyond headers and fields: %+v vs %+v", i, r, f)
		}
		if len(r.Request.Headers) != 0 || len(r.Response.Fields) != 0 {
			t.Fatalf("record %d kept headers %v or fields %v", i, r.Request.Headers, r.Response.Fields)
		}
		if len(f.Request.Headers) == 0 || len(f.Response.Fields) == 0 {
			t.Fatalf("full record %d lacks headers or fields", i)
		}
	}
	m := &funcMatcher{fn: func(r *sdk.Record) (bool, error) { return len(r.Request.Headers) > 0, nil }, reads: ReadsMessages}
	p, err := s.Query(ctx, Query{SizesOnly: true, Match: m})
	if err != nil || len(p.Records) != 50 {
		t.Fatalf("a matcher reading headers saw %d records with them: %v", len(p.Records), err)
	}
}
