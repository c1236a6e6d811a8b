package analysis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// TestRollupBuilderMatchesScan stores records through a RollupBuilder, in
// batches whose records come out of time order within each minute, and
// checks that the statistics read from its rollups are those of a scan,
// that it leaves to the scan exactly the minutes it cannot vouch for, and
// that warming afterwards builds only those.
func TestRollupBuilderMatchesScan(t *testing.T) {
	ctx := context.Background()
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	at := func(min float64) time.Time { return start.Add(time.Duration(min * float64(time.Minute))) }
	rng := rand.New(rand.NewPCG(7, 8))
	st := openStore(t, nil)

	// Minute 5 holds a record before the builder starts: its rollups must
	// come from a scan, which sees that record too.
	if err := st.Put(ctx, []*sdk.Record{rollupRecord(rng, at(5.5), 50)}); err != nil {
		t.Fatal(err)
	}
	b, err := NewRollupBuilder(ctx, st)
	if err != nil {
		t.Fatal(err)
	}

	var recs []*sdk.Record
	for m := 0; m < 12; m++ {
		n := 100 + rng.IntN(100)
		if m == 3 {
			n = 1500 // binned sketches
		}
		var minute []*sdk.Record
		for i := 0; i < n; i++ {
			ts := at(float64(m)).Add(time.Duration(rng.Int64N(int64(time.Minute))))
			minute = append(minute, rollupRecord(rng, ts, rng.IntN(100)))
		}
		if m == 10 {
			// One endpoint answers with 70 status codes: more than a
			// minute tracks, so which ones depends on the order.
			for i := 0; i < 70; i++ {
				r := rollupRecord(rng, at(10.5).Add(time.Duration(i)*time.Millisecond), 50)
				r.Path, r.Status = "/codes", 300+i
				v := 1.0
				r.ElapsedMs, r.Response = &v, &sdk.Message{Size: 1}
				minute = append(minute, r)
			}
		}
		rng.Shuffle(len(minute), func(i, j int) { minute[i], minute[j] = minute[j], minute[i] })
		recs = append(recs, minute...)
	}
	putAndAdd(ctx, t, st, b, recs)
	// A record the builder never saw, in minute 8.
	if err := st.Put(ctx, []*sdk.Record{rollupRecord(rng, at(8.2), 50)}); err != nil {
		t.Fatal(err)
	}
	stored, err := b.Store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Twelve minutes less 5 (older records), 8 (a record unseen) and 10
	// (too many status codes).
	if stored != 9 {
		t.Errorf("builder cached %d minutes, want 9", stored)
	}
	var built []int64
	cache := &countingCache{Store: st}
	for m := range 12 {
		_, _, err := st.GetDerived(ctx, pieceName(ByEndpoint, wholeMinute), storage.MinuteOf(at(float64(m))))
		if err == nil {
			built = append(built, int64(m))
		}
	}
	if want := []int64{0, 1, 2, 3, 4, 6, 7, 9, 11}; !slices.Equal(built, want) {
		t.Errorf("minutes with a rollup from the builder: %v, want %v", built, want)
	}
	if err := WarmRollups(ctx, cache, Window{}); err != nil {
		t.Fatal(err)
	}
	if n := cache.puts.Load(); n != 3*3 {
		t.Errorf("warming after the builder cached %d rollups, want 9 (3 minutes × 3 groupings)", n)
	}
	cache.puts.Store(0)
	w := func(a, b float64) Window { return Window{Start: at(a), End: at(b)} }
	for _, q := range []StatsQuery{
		{},
		{GroupBy: ByServer},
		{GroupBy: ByProtocol, Buckets: 6},
		{Window: w(2.5, 11.2), Buckets: 4},
		{Window: w(0, 12), Limit: 3},
	} {
		got, err := Stats(ctx, cache, q)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Stats(ctx, scanOnly{st}, q)
		if err != nil {
			t.Fatal(err)
		}
		sameStats(t, fmt.Sprintf("stats %s by %s", q.Window, q.GroupBy), got, want)
	}
	if n := cache.puts.Load() - cache.slices.Load(); n != 0 {
		t.Errorf("%d whole-minute rollups rebuilt by the queries", n)
	}
}

// putAndAdd stores recs and hands them to the builder as an import does:
// in batches (of 97, so that batches do not line up with minutes).
func putAndAdd(ctx context.Context, t *testing.T, st *storage.Store, b *RollupBuilder, recs []*sdk.Record) {
	t.Helper()
	for len(recs) > 0 {
		batch := recs[:min(97, len(recs))]
		recs = recs[len(batch):]
		if err := st.Put(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if err := b.Add(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRollupBuilderCachesTheNewestMinutes imports records of the current
// minute and of later ones (records stamped ahead of this clock, which
// keep the test independent of the minute turning): the builder caches
// their rollups too, so that neither warming nor learning the endpoint
// templates after the import reads a record back beyond the window's
// ends, and both give what a scan gives.
func TestRollupBuilderCachesTheNewestMinutes(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	rng := rand.New(rand.NewPCG(3, 4))
	st := openStore(t, nil)
	b, err := NewRollupBuilder(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*sdk.Record
	for m := range 3 {
		for range 150 {
			ts := now.Truncate(time.Minute).Add(time.Duration(m)*time.Minute + time.Duration(rng.Int64N(int64(time.Minute))))
			recs = append(recs, rollupRecord(rng, ts, rng.IntN(100)))
		}
	}
	all := slices.Clone(recs)
	putAndAdd(ctx, t, st, b, recs)
	stored, err := b.Store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stored != 3 {
		t.Errorf("builder cached %d minutes, want 3", stored)
	}
	cache := &countingCache{Store: st}
	if err := WarmRollups(ctx, cache, Window{}); err != nil {
		t.Fatal(err)
	}
	if n := cache.puts.Load(); n != 0 {
		t.Errorf("warming after the builder cached %d rollups, want none", n)
	}

	reads := &countingQueries{Store: st}
	var memo TemplateMemo
	got, err := memo.Templates(ctx, reads)
	if err != nil {
		t.Fatal(err)
	}
	// The memo's key and the learning each find the window's two ends.
	if n := reads.records.Load(); n > 4 {
		t.Errorf("learning the templates after the import read %d records, want the window's two ends (twice) at most", n)
	}
	want, err := Templates(ctx, scanOnly{st})
	if err != nil {
		t.Fatal(err)
	}
	if got.Servers() != want.Servers() {
		t.Errorf("templates of %d servers, a scan learns %d", got.Servers(), want.Servers())
	}
	for _, r := range all {
		if g, w := got.OfRecord(r), want.OfRecord(r); g != w {
			t.Errorf("%s %s: template %q, a scan learns %q", r.Method, r.Path, g, w)
		}
	}
	if !slices.ContainsFunc(all, func(r *sdk.Record) bool { return want.OfRecord(r) != r.Path }) {
		t.Error("a scan learns no template: the comparison above compares paths only")
	}
	q := StatsQuery{Buckets: 3}
	gotStats, err := Stats(ctx, cache, q)
	if err != nil {
		t.Fatal(err)
	}
	wantStats, err := Stats(ctx, scanOnly{st}, q)
	if err != nil {
		t.Fatal(err)
	}
	sameStats(t, "stats of the newest minutes", gotStats, wantStats)
}
