package analysis

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// TestLearnedTemplatesGroupAFailingDependency is the case: a
// profile service whose user paths carry names fails; stats, compare and
// anomalies show one endpoint /users/{param} with every call, not one row
// per user, and the figures of the merged row are those of all its calls.
func TestLearnedTemplatesGroupAFailingDependency(t *testing.T) {
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"}
	var recs []*sdk.Record
	n := 0
	for minute := 0; minute < 10; minute++ {
		for i, u := range users {
			failing := minute >= 5
			c := call{at: time.Duration(minute)*time.Minute + time.Duration(i)*time.Second, src: "10.0.0.5", dst: "10.0.0.9:8080",
				method: "GET", path: "/users/" + u + "?fields=name", status: 200, ms: 10}
			if failing {
				c.status, c.failed, c.ms = 503, true, 250
			}
			recs = append(recs, c.rec())
			n++
		}
		// A route with few word values stays apart.
		for _, p := range []string{"/health", "/ready"} {
			recs = append(recs, call{at: time.Duration(minute) * time.Minute, src: "10.0.0.5", dst: "10.0.0.9:8080", method: "GET", path: p, status: 200, ms: 1}.rec())
		}
	}
	st := openStore(t, recs)
	ctx := context.Background()

	stats, err := Stats(ctx, st, StatsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]GroupStats{}
	for _, g := range stats.Groups {
		rows[g.Path] = g
	}
	u := rows["/users/{param}"]
	if len(stats.Groups) != 3 || u.Count != n || u.Errors != n/2 || u.Latency.Max != 250 || u.Latency.P50 != 10 {
		t.Fatalf("stats: %d groups (%v); /users/{param}: %d calls, %d errors, p50 %v max %v; want 3 groups and %d calls, %d errors", len(stats.Groups), stats.Summary, u.Count, u.Errors, u.Latency.P50, u.Latency.Max, n, n/2)
	}

	half := Window{Start: t0, End: t0.Add(5 * time.Minute)}
	rest := Window{Start: t0.Add(5 * time.Minute), End: t0.Add(10 * time.Minute)}
	cmp, err := Compare(ctx, st, CompareQuery{A: half, B: rest})
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Compared != 3 || cmp.Rows[0].Path != "/users/{param}" || cmp.Rows[0].B.ErrorRate != 1 {
		t.Fatalf("compare: %d rows, first %s (error rate %v): %s", cmp.Compared, cmp.Rows[0].Path, cmp.Rows[0].B.ErrorRate, cmp.Summary)
	}

	an, err := Anomalies(ctx, st, AnomalyQuery{Baseline: half, Target: rest})
	if err != nil {
		t.Fatal(err)
	}
	endpoints := map[string]bool{}
	for _, a := range an.Anomalies {
		endpoints[a.Key] = true
	}
	if len(endpoints) != 1 || an.Anomalies[0].Path != "/users/{param}" || len(an.Anomalies[0].ExampleIDs) == 0 || len(an.RootCauses) != 1 {
		t.Fatalf("anomalies: %d endpoints (%v), want one, /users/{param}, with examples: %s", len(endpoints), endpoints, an.Summary)
	}

	// The per-call templates, learned over the whole store, agree.
	set, err := Templates(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*sdk.Record{recs[0], recs[len(recs)-3], recs[len(recs)-1]} {
		want := "/users/{param}"
		if r.Path == "/health" || r.Path == "/ready" {
			want = r.Path
		}
		if got := set.OfRecord(r); got != want {
			t.Errorf("Templates: %s → %q, want %q", r.Path, got, want)
		}
	}
}

// TestTemplatesLearnFromTheNewestDay: the per-call templates come from the
// last TemplateSpan of data, so paths seen only before it keep their shape.
func TestTemplatesLearnFromTheNewestDay(t *testing.T) {
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	var recs []*sdk.Record
	for i, u := range users {
		recs = append(recs,
			call{at: time.Duration(i) * time.Second, src: "10.0.0.5", dst: "10.0.0.9:8080", method: "GET", path: "/old/" + u, status: 200, ms: 1}.rec(),
			call{at: TemplateSpan + time.Hour + time.Duration(i)*time.Second, src: "10.0.0.5", dst: "10.0.0.9:8080", method: "GET", path: "/users/" + u, status: 200, ms: 1}.rec())
	}
	set, err := Templates(context.Background(), openStore(t, recs))
	if err != nil {
		t.Fatal(err)
	}
	if got := set.OfRecord(recs[1]); got != "/users/{param}" {
		t.Errorf("a path of the newest day: %q, want /users/{param}", got)
	}
	if got := set.OfRecord(recs[0]); got != "/old/alice" {
		t.Errorf("a path seen only before the newest day: %q, want its shape /old/alice", got)
	}
}

// TestTemplatesOfAShortCaptureFromRollups: the templates of a capture
// shorter than a minute come from its minute's rollup once warmed, with
// no record read, and are those learned from its records.
func TestTemplatesOfAShortCaptureFromRollups(t *testing.T) {
	ctx := context.Background()
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	var recs []*sdk.Record
	for i, u := range users {
		recs = append(recs,
			call{at: 10*time.Second + time.Duration(i)*time.Second, src: "10.0.0.5", dst: "10.0.0.9:8080", proto: "http", method: "GET", path: "/users/" + u, status: 200, ms: 1}.rec(),
			call{at: 10*time.Second + time.Duration(i)*time.Second, src: "10.0.0.5", dst: "10.0.0.7:6379", proto: "redis", method: "GET", path: "key:" + u, status: 0, ms: 1}.rec())
	}
	st := openStore(t, recs)
	want, err := Templates(ctx, scanOnly{st})
	if err != nil {
		t.Fatal(err)
	}
	if err := WarmRollups(ctx, st, Window{}); err != nil {
		t.Fatal(err)
	}
	src := &countingQueries{Store: st}
	got, err := Templates(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	// Two records bound the data's span (resolve); no other is read.
	if n := src.records.Load(); n > 2 {
		t.Errorf("learning read %d records; want the minute's rollup only", n)
	}
	for _, r := range recs {
		if g, w := got.OfRecord(r), want.OfRecord(r); g != w {
			t.Errorf("%s %s: %q from the rollup, %q from the records", r.Protocol, r.Path, g, w)
		}
	}
	if g := got.OfRecord(recs[0]); g != "/users/{param}" {
		t.Errorf("template %q, want /users/{param}", g)
	}
}

// countingQueries counts the records read from a store.
type countingQueries struct {
	*storage.Store
	records atomic.Int64
}

func (c *countingQueries) Query(ctx context.Context, q storage.Query) (storage.Page, error) {
	p, err := c.Store.Query(ctx, q)
	c.records.Add(int64(len(p.Records)))
	return p, err
}
