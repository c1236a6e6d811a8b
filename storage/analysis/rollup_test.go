package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

func TestSketchMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	values := func(n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			switch i % 17 {
			case 0:
				out[i] = 0 // counted as zero, not binned
			default:
				out[i] = 0.05 + rng.ExpFloat64()*30
			}
		}
		return out
	}
	tests := []struct {
		name  string
		parts []int // sizes of the sketches merged
		cap   int
		alpha float64
	}{
		{"exact into exact", []int{10, 20, 30}, 1024, groupAlpha},
		{"exact up to the cap", []int{1000, 24}, 1024, groupAlpha},
		{"exact past the cap", []int{1000, 25}, 1024, groupAlpha},
		{"binned into exact", []int{10, 2000}, 1024, groupAlpha},
		{"binned into binned", []int{3000, 2000, 5}, 1024, groupAlpha},
		{"cell sized", []int{5, 6, 7}, 16, cellAlpha},
		{"empty parts", []int{0, 7, 0}, 16, cellAlpha},
	}
	for _, tt := range tests {
		whole := newSketch(tt.cap, tt.alpha)
		merged := newSketch(tt.cap, tt.alpha)
		for _, n := range tt.parts {
			part := newSketch(tt.cap, tt.alpha)
			for _, v := range values(n) {
				part.add(v)
				whole.add(v)
			}
			if err := merged.mergeEncoded(appendSketch(nil, &part), tt.alpha); err != nil {
				t.Fatal(err)
			}
		}
		if merged.n != whole.n || merged.max != whole.max || merged.approximate() != whole.approximate() {
			t.Errorf("%s: merged n %d max %v binned %v, added n %d max %v binned %v", tt.name,
				merged.n, merged.max, merged.approximate(), whole.n, whole.max, whole.approximate())
		}
		for _, q := range []float64{0, 0.01, 0.5, 0.95, 0.99, 1} {
			if a, b := merged.quantile(q), whole.quantile(q); a != b {
				t.Errorf("%s: q%v merged %v, added %v", tt.name, q, a, b)
			}
		}
	}

	// Bins of another α are re-binned: within both errors.
	fine := newSketch(0, groupAlpha)
	coarse := newSketch(0, cellAlpha)
	exact := values(5000)
	for _, v := range exact {
		fine.add(v)
	}
	if err := coarse.mergeEncoded(appendSketch(nil, &fine), groupAlpha); err != nil {
		t.Fatal(err)
	}
	truth := newSketch(len(exact), groupAlpha)
	for _, v := range exact {
		truth.add(v)
	}
	for _, q := range []float64{0.5, 0.95, 0.99} {
		got, want := coarse.quantile(q), truth.quantile(q)
		if math.Abs(got-want) > (groupAlpha+cellAlpha)*want {
			t.Errorf("re-binned q%v = %v, true %v", q, got, want)
		}
	}
}

func TestSketchEncoding(t *testing.T) {
	for _, n := range []int{0, 1, 100, 1024, 1025, 20000} {
		s := newSketch(groupExact, groupAlpha)
		for i := 0; i < n; i++ {
			s.add(float64(i%300) * 0.37)
		}
		b := appendSketch(nil, &s)
		if err := checkEncoded(b); err != nil {
			t.Fatalf("n=%d: check: %v", n, err)
		}
		if encodedBinned(b) != s.approximate() {
			t.Errorf("n=%d: encodedBinned %v", n, encodedBinned(b))
		}
		got := newSketch(groupExact, groupAlpha)
		if err := got.mergeEncoded(b, groupAlpha); err != nil {
			t.Fatalf("n=%d: decode: %v", n, err)
		}
		if got.n != s.n || got.max != s.max || got.approximate() != s.approximate() || got.quantile(0.95) != s.quantile(0.95) || got.quantile(0.5) != s.quantile(0.5) {
			t.Errorf("n=%d: decoded n %d p95 %v, encoded n %d p95 %v", n, got.n, got.quantile(0.95), s.n, s.quantile(0.95))
		}
		if n == 20000 && len(b) > 1000 {
			t.Errorf("binned sketch of 300 distinct values takes %d bytes", len(b))
		}
		for cut := 0; cut < len(b); cut += 1 + len(b)/100 {
			if checkEncoded(b[:cut]) == nil {
				t.Fatalf("n=%d: sketch cut at %d of %d bytes passes", n, cut, len(b))
			}
		}
	}
}

func TestPlanSpan(t *testing.T) {
	m := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Minute))) }
	open := Window{}
	tests := []struct {
		name       string
		asked, w   Window
		by         GroupBy
		ok         bool
		lo, hi     float64 // minutes after t0
		head, tail Window
	}{
		{"aligned", Window{m(0), m(5)}, Window{m(0), m(5)}, ByEndpoint, true, 0, 5, Window{}, Window{}},
		{"edges", Window{m(0.5), m(5.25)}, Window{m(0.5), m(5.25)}, ByServer, true, 1, 5, Window{m(0.5), m(1)}, Window{m(5), m(5.25)}},
		{"open sides widen", open, Window{m(0.5), m(5.25)}, ByProtocol, true, 0, 6, Window{}, Window{}},
		{"too short", Window{m(0.5), m(2.5)}, Window{m(0.5), m(2.5)}, ByEndpoint, false, 0, 0, Window{}, Window{}},
		{"two whole minutes", Window{m(0.5), m(3)}, Window{m(0.5), m(3)}, ByEndpoint, true, 1, 3, Window{m(0.5), m(1)}, Window{}},
		{"by client", Window{m(0), m(5)}, Window{m(0), m(5)}, ByClient, false, 0, 0, Window{}, Window{}},
		{"empty store", open, open, ByEndpoint, false, 0, 0, Window{}, Window{}},
	}
	for _, tt := range tests {
		sp, ok := planSpan(tt.asked, tt.w, nil, tt.by)
		if ok != tt.ok {
			t.Errorf("%s: rollups %v, want %v", tt.name, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		want := span{head: tt.head, tail: tt.tail, lo: storage.MinuteOf(m(tt.lo)), hi: storage.MinuteOf(m(tt.hi))}
		if sp != want {
			t.Errorf("%s: %+v, want %+v", tt.name, sp, want)
		}
	}
	if _, ok := planSpan(Window{m(0), m(5)}, Window{m(0), m(5)}, matchAll{}, ByEndpoint); ok {
		t.Error("rollups planned for a query with a Match")
	}
}

type matchAll struct{ storage.Matcher }

func TestMinuteGrid(t *testing.T) {
	m := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Minute))) }
	tests := []struct {
		w       Window
		buckets int
		want    Window
		n       int
	}{
		{Window{m(0), m(5)}, 20, Window{m(0), m(5)}, 5},
		{Window{m(0.5), m(4.2)}, 20, Window{m(0), m(5)}, 5},
		{Window{m(0), m(60)}, 20, Window{m(0), m(60)}, 20},
		{Window{m(0), m(61)}, 20, Window{m(0), m(64)}, 16},
		{Window{m(0), m(15)}, 4, Window{m(0), m(16)}, 4},
		{Window{m(0), m(7)}, 1, Window{m(0), m(7)}, 1},
	}
	for _, tt := range tests {
		got, n := minuteGrid(tt.w, tt.buckets)
		if got != tt.want || n != tt.n {
			t.Errorf("%s in %d: %s × %d, want %s × %d", tt.w, tt.buckets, got, n, tt.want, tt.n)
		}
	}
}

func TestRollupEncoding(t *testing.T) {
	base := storage.MinuteOf(t0)
	recs := rollupRecords(rand.New(rand.NewPCG(1, 1)), t0, 1, 400)
	st := openStore(t, recs)
	for _, by := range []GroupBy{ByEndpoint, ByServer, ByProtocol} {
		r, err := buildRollup(context.Background(), st, by, Window{Start: t0, End: t0.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		b := encodeRollup(r, base)
		var got rollupRows
		if err := decodeRollup(b, base, &got); err != nil {
			t.Fatalf("%s: %v", by, err)
		}
		want := append(append([]*agg{r.total}, r.protos...), r.groups...)
		if len(got.rows) != len(want) || got.protos != len(r.protos) || got.untracked != r.untracked {
			t.Fatalf("%s: decoded %d rows %d protos, want %d and %d", by, len(got.rows), got.protos, len(want), len(r.protos))
		}
		for i, g := range want {
			row := &got.rows[i]
			lat := newSketch(groupExact, groupAlpha)
			if err := lat.mergeEncoded(row.lat, groupAlpha); err != nil {
				t.Fatal(err)
			}
			dec := rollRow{key: row.key, count: row.count, errors: row.errors, noResp: row.noResp, reqBytes: row.reqBytes,
				respBytes: row.respBytes, first: row.first, last: row.last, statuses: row.statuses, timed: row.timed}
			enc := rollRow{key: g.key, count: g.count, errors: g.errors, noResp: g.noResp, reqBytes: g.reqBytes,
				respBytes: g.respBytes, first: g.first, last: g.last, statuses: g.statuses, timed: g.lat.n > 0}
			if !reflect.DeepEqual(dec, enc) || latencyOf(&lat) != latencyOf(&g.lat) {
				t.Fatalf("%s: row %d decodes to %+v %+v, want %+v %+v", by, i, dec, latencyOf(&lat), enc, latencyOf(&g.lat))
			}
		}
		// Damage never panics and is reported.
		for cut := 0; cut < len(b); cut += 1 + len(b)/300 {
			if err := decodeRollup(b[:cut], base, &got); err == nil {
				t.Fatalf("%s: a rollup cut at %d of %d bytes decodes", by, cut, len(b))
			}
		}
		bad := append([]byte{rollupVersion + 1}, b[1:]...)
		if err := decodeRollup(bad, base, &got); err == nil {
			t.Errorf("%s: another version decodes", by)
		}
	}
}

// rollupRecords makes minutes of varied traffic from start: n calls a
// minute on average, over servers, protocols, named workloads, many
// status codes, unanswered calls and zero latencies.
func rollupRecords(rng *rand.Rand, start time.Time, minutes, n int) []*sdk.Record {
	var out []*sdk.Record
	for m := 0; m < minutes; m++ {
		k := n/2 + rng.IntN(n)
		for i := 0; i < k; i++ {
			ts := start.Add(time.Duration(m)*time.Minute + time.Duration(rng.Int64N(int64(time.Minute))))
			out = append(out, rollupRecord(rng, ts, rng.IntN(100)))
		}
	}
	return out
}

func rollupRecord(rng *rand.Rand, ts time.Time, kind int) *sdk.Record {
	r := &sdk.Record{
		Protocol: "http", Timestamp: ts, Method: []string{"GET", "GET", "POST", "PUT"}[rng.IntN(4)],
		Src:    sdk.Endpoint{IP: fmt.Sprintf("10.1.0.%d", rng.IntN(6)), Port: uint16(30000 + rng.IntN(1000))},
		Dst:    sdk.Endpoint{IP: fmt.Sprintf("10.2.0.%d", rng.IntN(5)), Port: 80},
		Stream: "s", Dissector: "test@1", Path: fmt.Sprintf("/api/orders/%d", rng.IntN(1000)), Status: 200,
		Request: &sdk.Message{Size: int64(100 + rng.IntN(200))},
	}
	switch {
	case kind < 10:
		r.Protocol, r.Method, r.Path, r.Status = "dns", "A", "example.com", 0
		r.Dst = sdk.Endpoint{IP: "10.2.0.53", Port: 53}
	case kind < 20:
		r.Dst = sdk.Endpoint{IP: "10.3.0.1", Port: 8080, Name: "cart", Namespace: "shop"}
		r.Path = "/cart"
		// Twenty status codes: more than a row lists or tracks.
		r.Status = 400 + rng.IntN(20)
		r.Failed = r.Status >= 410
	case kind < 25:
		r.Path = "/health"
	}
	switch x := rng.IntN(100); {
	case x < 3:
		r.Status, r.Failed = 503, true
	case x < 5:
		r.Status, r.Failed = 500, true
	case x < 9:
		r.Status = 404
	}
	if rng.IntN(20) == 0 {
		return r // no response
	}
	v := rng.ExpFloat64() * 25
	if rng.IntN(50) == 0 {
		v = 0
	}
	r.ElapsedMs = &v
	r.Response = &sdk.Message{Size: int64(rng.IntN(2000))}
	return r
}

// scanOnly hides a Source's MinuteCache, forcing the scan path.
type scanOnly struct{ src Source }

func (s scanOnly) Query(ctx context.Context, q storage.Query) (storage.Page, error) {
	return s.src.Query(ctx, q)
}

// countingCache counts the rollups computed and stored, and those of
// 10-second slices apart.
type countingCache struct {
	*storage.Store
	puts, slices atomic.Int64
}

func (c *countingCache) PutDerived(ctx context.Context, name string, minute int64, epoch uint64, val []byte) (bool, error) {
	c.puts.Add(1)
	if strings.Contains(name, "/10s/") {
		c.slices.Add(1)
	}
	return c.Store.PutDerived(ctx, name, minute, epoch, val)
}

// TestRollupsMatchScan checks every query the rollups serve against the
// scan path over a store that changes under the cache: records replaced
// in a minute, records added to an old minute, and retention deleting the
// oldest minutes.
func TestRollupsMatchScan(t *testing.T) {
	ctx := context.Background()
	// Two hours ago, so retention by age can cut into it and no minute is
	// too recent to cache.
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	rng := rand.New(rand.NewPCG(3, 4))
	recs := rollupRecords(rng, start, 30, 150)
	// Two busy minutes: over 1,024 calls of one endpoint, so their rollups
	// hold binned sketches.
	for _, m := range []int{11, 12} {
		for i := 0; i < 1500; i++ {
			r := rollupRecord(rng, start.Add(time.Duration(m)*time.Minute+time.Duration(i)*time.Millisecond*39), 50)
			r.Dst, r.Path, r.Method = sdk.Endpoint{IP: "10.2.0.9", Port: 80}, "/busy", "GET"
			recs = append(recs, r)
		}
	}
	retentionAge := 2*time.Hour - 4*time.Minute - 30*time.Second
	st, err := storage.Open(ctx, storage.Options{Dir: t.TempDir(), RetentionAge: retentionAge, RetentionEvery: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Put(ctx, recs); err != nil {
		t.Fatal(err)
	}
	cache := &countingCache{Store: st}
	at := func(min float64) time.Time { return start.Add(time.Duration(min * float64(time.Minute))) }
	w := func(a, b float64) Window { return Window{Start: at(a), End: at(b)} }

	stats := []StatsQuery{
		{},
		{GroupBy: ByServer},
		{GroupBy: ByProtocol, Buckets: 7},
		{Window: w(2.5, 25.2), Buckets: 7},
		{Window: w(5, 20), Limit: 3},
		{Window: w(-5, 40), GroupBy: ByServer},
		{Window: Window{End: at(17.3)}, Buckets: -1},
		{Window: Window{Start: at(9.9)}},
		{Window: w(10, 14), Buckets: MaxBuckets},
		// Edges on 10-second slices, inside them, and within one slice.
		{Window: w(2+20.0/60, 6+40.0/60)},
		{Window: w(3+25.0/60, 9+35.0/60), GroupBy: ByServer},
		{Window: w(4+2.0/60, 7+8.0/60), GroupBy: ByProtocol},
		{GroupBy: ByClient}, // scanned either way
	}
	compares := []CompareQuery{
		{A: w(1.25, 12), B: w(12, 29.7)},
		{A: w(0, 15), B: w(15, 30), GroupBy: ByServer, Limit: 2},
	}
	anomalies := []AnomalyQuery{{Baseline: w(0, 15), Target: w(15, 30)}}
	check := func(stage string) {
		t.Helper()
		for _, q := range stats {
			got, err := Stats(ctx, cache, q)
			if err != nil {
				t.Fatalf("%s: %+v: %v", stage, q, err)
			}
			want, err := Stats(ctx, scanOnly{st}, q)
			if err != nil {
				t.Fatal(err)
			}
			sameStats(t, fmt.Sprintf("%s: stats %s by %s", stage, q.Window, q.GroupBy), got, want)
		}
		for _, q := range compares {
			got, err := Compare(ctx, cache, q)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Compare(ctx, scanOnly{st}, q)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffJSON(got, want); d != "" {
				t.Errorf("%s: compare %s / %s: %s", stage, q.A, q.B, d)
			}
		}
		for _, q := range anomalies {
			got, err := Anomalies(ctx, cache, q)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Anomalies(ctx, scanOnly{st}, q)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffJSON(got, want); d != "" {
				t.Errorf("%s: anomalies: %s", stage, d)
			}
		}
	}

	check("cold")
	if cache.puts.Load() == 0 || cache.slices.Load() == 0 {
		t.Fatalf("%d rollups cached, %d of them slices", cache.puts.Load(), cache.slices.Load())
	}
	cache.puts.Store(0)
	check("warm")
	if n := cache.puts.Load(); n != 0 {
		t.Errorf("%d rollups computed again with nothing changed", n)
	}

	// Replace some records of minute 7: slower, failing.
	p, err := st.Query(ctx, storage.Query{Since: at(7), Until: at(8), Limit: 20})
	if err != nil || len(p.Records) == 0 {
		t.Fatalf("minute 7: %d records, %v", len(p.Records), err)
	}
	for _, r := range p.Records {
		v := 900.0
		r.ElapsedMs, r.Status, r.Failed = &v, 502, true
		r.Response = &sdk.Message{Size: 1}
	}
	if err := st.Put(ctx, p.Records); err != nil {
		t.Fatal(err)
	}
	cache.puts.Store(0)
	check("after replacing records")
	// Minute 7 is recomputed once per grouping that reads it (endpoint,
	// server, protocol), nothing else.
	if n := cache.puts.Load(); n != 3 {
		t.Errorf("%d rollups recomputed after a change to one minute, want 3", n)
	}

	// New calls in an old minute, including a new endpoint.
	var late []*sdk.Record
	for i := 0; i < 40; i++ {
		r := rollupRecord(rng, at(3+float64(i)/60), i)
		if i%4 == 0 {
			r.Path = "/late"
		}
		late = append(late, r)
	}
	if err := st.Put(ctx, late); err != nil {
		t.Fatal(err)
	}
	check("after a Put into an old minute")

	// Retention by age deletes the first 4.5 minutes.
	n, err := st.EnforceRetention(ctx)
	if err != nil || n == 0 {
		t.Fatalf("retention deleted %d: %v", n, err)
	}
	check("after retention")
	e, err := st.MinuteEpochs(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e[storage.MinuteOf(at(2))]; ok {
		t.Error("retention left the epoch of an emptied minute")
	}
}

// sameStats compares two Stats results: everything equal except the
// series cells' p95, which rollups may compute at 1% where a scan keeps
// 5% (see cellSketches).
func sameStats(t *testing.T, name string, got, want StatsResult) {
	t.Helper()
	rows := func(r *StatsResult) []*GroupStats {
		out := []*GroupStats{&r.Total}
		for i := range r.Groups {
			out = append(out, &r.Groups[i])
		}
		for i := range r.Protocols {
			out = append(out, &r.Protocols[i])
		}
		return out
	}
	gr, wr := rows(&got), rows(&want)
	if len(gr) == len(wr) {
		for i := range gr {
			if len(gr[i].Series) != len(wr[i].Series) {
				continue
			}
			for j := range gr[i].Series {
				a, b := &gr[i].Series[j], &wr[i].Series[j]
				if math.Abs(a.P95-b.P95) > (groupAlpha+cellAlpha)*max(a.P95, b.P95)+0.002 {
					t.Errorf("%s: %s bucket %d p95 %v, scan %v", name, gr[i].Key, j, a.P95, b.P95)
				}
				a.P95 = b.P95
			}
		}
	}
	if d := diffJSON(got, want); d != "" {
		t.Errorf("%s: %s", name, d)
	}
	if got.Total.Count == 0 && got.Window.Duration() > 0 {
		t.Errorf("%s: no calls", name)
	}
}

// diffJSON renders the first line where the indented JSON of got and want
// differ, "" when they are the same.
func diffJSON(got, want any) string {
	g, err1 := json.MarshalIndent(got, "", " ")
	w, err2 := json.MarshalIndent(want, "", " ")
	if err1 != nil || err2 != nil {
		return fmt.Sprint(err1, err2)
	}
	gl, wl := strings.Split(string(g), "\n"), strings.Split(string(w), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var a, b string
		if i < len(gl) {
			a = gl[i]
		}
		if i < len(wl) {
			b = wl[i]
		}
		if a != b {
			return fmt.Sprintf("line %d: rollups %s, scan %s", i+1, strings.TrimSpace(a), strings.TrimSpace(b))
		}
	}
	return ""
}

func TestWarmRollups(t *testing.T) {
	ctx := context.Background()
	start := time.Now().Add(-time.Hour).Truncate(time.Minute)
	st := openStore(t, rollupRecords(rand.New(rand.NewPCG(5, 6)), start.Add(20*time.Second), 6, 50))
	cache := &countingCache{Store: st}
	if err := WarmRollups(ctx, cache, Window{}); err != nil {
		t.Fatal(err)
	}
	// Seven minutes hold records (the last one partly), three groupings.
	if n := cache.puts.Load(); n != 7*3 {
		t.Fatalf("warming cached %d rollups, want 21", n)
	}
	cache.puts.Store(0)
	if err := WarmRollups(ctx, cache, Window{}); err != nil {
		t.Fatal(err)
	}
	for _, by := range []GroupBy{ByEndpoint, ByServer, ByProtocol} {
		if _, err := Stats(ctx, cache, StatsQuery{GroupBy: by}); err != nil {
			t.Fatal(err)
		}
	}
	if n := cache.puts.Load(); n != 0 {
		t.Errorf("%d rollups built after warming", n)
	}
	if err := WarmRollups(ctx, openStore(t, nil), Window{}); err != nil {
		t.Errorf("warming an empty store: %v", err)
	}
}

// TestRollupsOfALiveStore covers a capture still writing: the current
// minute is read from records every time and never cached.
func TestRollupsOfALiveStore(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	rng := rand.New(rand.NewPCG(9, 9))
	var recs []*sdk.Record
	for i := 0; i < 600; i++ {
		recs = append(recs, rollupRecord(rng, now.Add(-time.Duration(rng.Int64N(int64(5*time.Minute)))), i%100))
	}
	st := openStore(t, recs)
	cache := &countingCache{Store: st}
	for _, q := range []StatsQuery{{}, {Window: Window{Start: now.Add(-4*time.Minute - 17*time.Second)}, GroupBy: ByServer}} {
		cur := storage.MinuteOf(time.Now())
		got, err := Stats(ctx, cache, q)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Stats(ctx, scanOnly{st}, q)
		if err != nil {
			t.Fatal(err)
		}
		sameStats(t, fmt.Sprintf("live stats %s by %s", q.Window, q.GroupBy), got, want)
		if storage.MinuteOf(time.Now()) != cur {
			continue // the minute turned during the query
		}
		for _, name := range []string{pieceName(ByEndpoint, wholeMinute), pieceName(ByServer, wholeMinute), pieceName(ByServer, 0)} {
			if _, _, err := st.GetDerived(ctx, name, cur); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%s of the current minute: %v, want not cached", name, err)
			}
		}
	}
	if cache.puts.Load() == 0 {
		t.Error("no rollup of an earlier minute was cached")
	}
}
