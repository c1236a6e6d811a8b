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
		statsAsScan(ctx, t, cache, fmt.Sprintf("stats %s by %s", q.Window, q.GroupBy), q)
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
	statsAsScan(ctx, t, cache, "stats of the newest minutes", StatsQuery{Buckets: 3})
}

// TestReimportsMatchARebuild runs sequences of imports into one store, each
// as the import command does (a RollupBuilder fed batch by batch, its
// Store, then WarmRollups), and checks after each that every minute's
// cached rollups are byte for byte those built from the stored records,
// and that WarmRollups rebuilt only the minutes the builder could not
// vouch for: those holding older records the import did not replace.
func TestReimportsMatchARebuild(t *testing.T) {
	ctx := context.Background()
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	minutes := func(m float64) time.Duration { return time.Duration(m * float64(time.Minute)) }
	// capture makes n records at random times in [from, to) minutes after
	// start, with ids that depend only on seed and the record's place, as
	// an import's do on the capture.
	capture := func(seed uint64, from, to float64, n int) []*sdk.Record {
		rng := rand.New(rand.NewPCG(seed, 1))
		out := make([]*sdk.Record, n)
		for i := range out {
			ts := start.Add(minutes(from) + time.Duration(rng.Int64N(int64(minutes(to-from)))))
			out[i] = rollupRecord(rng, ts, rng.IntN(100))
			out[i].ID = storage.NewID(ts, seed<<32|uint64(i))
		}
		return out
	}
	// a spans minutes 0 to 6, the last one half full.
	a := func() []*sdk.Record { return capture(1, 0, 6.5, 1300) }
	from := func(recs []*sdk.Record, m float64) []*sdk.Record {
		return slices.DeleteFunc(recs, func(r *sdk.Record) bool { return r.Timestamp.Before(start.Add(minutes(m))) })
	}
	join := func(parts ...[]*sdk.Record) []*sdk.Record { return slices.Concat(parts...) }
	// c adds records to a's last minute, after a's, and to the next two,
	// a quarter of them with thirty status codes a's never had: the rows
	// of minute 6 then track more codes than a query does.
	c := func() []*sdk.Record {
		recs := capture(3, 6.5, 9, 400)
		for i, r := range recs {
			if i%4 == 0 && r.Response != nil {
				r.Status = 600 + i%30
			}
		}
		return recs
	}
	type imp struct {
		recs func() []*sdk.Record
		// rebuilt is how many minutes WarmRollups rebuilds after it;
		// raw: the records are stored without a builder, and not warmed.
		rebuilt int
	}
	const raw = -1
	for _, tc := range []struct {
		name    string
		imports []imp
	}{
		{"fresh", []imp{{a, 0}}},
		{"the same capture twice", []imp{{a, 0}, {a, 0}}},
		{"the same capture three times", []imp{{a, 0}, {a, 0}, {a, 0}}},
		{"the same records in another order", []imp{{a, 0}, {func() []*sdk.Record {
			recs := a()
			rand.New(rand.NewPCG(9, 9)).Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
			return recs
		}, 0}}},
		{"the same ids, other records", []imp{{a, 0}, {func() []*sdk.Record {
			recs := a()
			rng := rand.New(rand.NewPCG(5, 5))
			for i, r := range recs {
				if i%3 == 0 {
					other := rollupRecord(rng, r.Timestamp, rng.IntN(100))
					other.ID = r.ID
					recs[i] = other
				}
			}
			return recs
		}, 0}}},
		// Minute 3 keeps a's records before 3:30, which b does not hold;
		// b replaces all of minutes 4 to 6 and adds records to 6 and on.
		{"an overlapping capture", []imp{{a, 0}, {func() []*sdk.Record { return join(from(a(), 3.5), capture(2, 6.5, 9, 400)) }, 1}}},
		// Minute 6 keeps a's records, and c adds to it, after them: the
		// older rollup continued with c's rows.
		{"records added to a minute present", []imp{{a, 0}, {c, 0}}},
		{"records added to a minute present, twice", []imp{{a, 0}, {func() []*sdk.Record { return capture(3, 6.5, 6.7, 100) }, 0}, {func() []*sdk.Record { return capture(5, 6.7, 9, 400) }, 0}}},
		// Added before the older records, or with one of them replaced,
		// the minute's scan order is not the older rollup's then c's.
		{"records added before a minute's older ones", []imp{{func() []*sdk.Record { return from(a(), 0.5) }, 0}, {func() []*sdk.Record { return capture(3, 0, 0.4, 100) }, 1}}},
		{"records added to a minute present, an older one replaced", []imp{{a, 0}, {func() []*sdk.Record { return join(c(), from(a(), 6.4)[:1]) }, 1}}},
		{"records added to a minute present twice in one import", []imp{{a, 0}, {func() []*sdk.Record { return join(c(), c()) }, 3}}},
		// Records stored without a builder nor warming (as a store written
		// by another command): no older rollup to continue.
		{"records added to a minute without rollups", []imp{{a, raw}, {c, 7}}},
		// One of minute 6's records changed since its rollup was cached:
		// the rollup is stale.
		{"records added to a minute whose rollup is stale", []imp{{a, 0}, {func() []*sdk.Record {
			old := from(a(), 6.4)[0]
			r := rollupRecord(rand.New(rand.NewPCG(6, 6)), old.Timestamp, 15)
			r.ID = old.ID
			return []*sdk.Record{r}
		}, raw}, {c, 1}}},
		// Another capture of the same minutes: every minute changes.
		{"records added to every minute", []imp{{a, 0}, {func() []*sdk.Record { return capture(4, 0, 6.5, 300) }, 7}}},
		// The second import leaves out a record of minute 2, still stored.
		{"a record not imported again", []imp{{a, 0}, {func() []*sdk.Record {
			recs := a()
			i := slices.IndexFunc(recs, func(r *sdk.Record) bool {
				return storage.MinuteOf(r.Timestamp) == storage.MinuteOf(start.Add(minutes(2)))
			})
			return slices.Delete(recs, i, i+1)
		}, 1}}},
		// Every record twice in one import: the builder counts each twice,
		// the store holds it once.
		{"a capture twice in one import", []imp{{func() []*sdk.Record { return join(a(), a()) }, 7}}},
		{"a capture twice in one import, again", []imp{{a, 0}, {func() []*sdk.Record { return join(a(), a()) }, 7}}},
		{"an overlapping capture, then the first again", []imp{{a, 0}, {func() []*sdk.Record { return join(from(a(), 3.5), capture(2, 6.5, 9, 400)) }, 1}, {a, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t, nil)
			for i, im := range tc.imports {
				if im.rebuilt == raw {
					if err := st.Put(ctx, im.recs()); err != nil {
						t.Fatal(err)
					}
					continue
				}
				b, err := NewRollupBuilder(ctx, st)
				if err != nil {
					t.Fatal(err)
				}
				putAndAdd(ctx, t, st, b, im.recs())
				if _, err := b.Store(ctx); err != nil {
					t.Fatal(err)
				}
				cache := &countingCache{Store: st}
				if err := WarmRollups(ctx, cache, Window{}); err != nil {
					t.Fatal(err)
				}
				if n := int(cache.puts.Load()); n != im.rebuilt*len(rollupGroupings) {
					t.Errorf("import %d: warming rebuilt %d rollups, want %d (%d minutes × %d groupings)", i+1, n, im.rebuilt*len(rollupGroupings), im.rebuilt, len(rollupGroupings))
				}
				sameAsRebuild(ctx, t, st, fmt.Sprintf("import %d", i+1))
			}
		})
	}
}

// sameAsRebuild checks that every minute of st has current rollups, for
// every grouping, equal to those built from its records now, and that
// the statistics read from them are a scan's.
func sameAsRebuild(ctx context.Context, t *testing.T, st *storage.Store, name string) {
	t.Helper()
	epochs, err := st.MinuteEpochs(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for m, epoch := range epochs {
		for _, by := range rollupGroupings {
			got, val, err := st.GetDerived(ctx, pieceName(by, wholeMinute), m)
			if err != nil || got != epoch {
				t.Errorf("%s: %s rollup of %s: epoch %d (%v), the minute's is %d", name, by, minuteTime(m), got, err, epoch)
				continue
			}
			r, err := buildRollup(ctx, st, by, pieceWindow(m, wholeMinute))
			if err != nil {
				t.Fatal(err)
			}
			g, w := rollupText(t, val, m), rollupText(t, encodeRollup(r, m), m)
			if d := diffJSON(g, w); d != "" {
				t.Errorf("%s: %s rollup of %s differs from one rebuilt from the records (%d rows, rebuilt %d): %s", name, by, minuteTime(m), len(g), len(w), d)
			}
		}
	}
	for _, q := range []StatsQuery{{}, {GroupBy: ByServer, Buckets: 5}} {
		statsAsScan(ctx, t, st, fmt.Sprintf("%s: stats by %s", name, q.GroupBy), q)
	}
}

// statsAsScan checks that q over src, which reads rollups, gives what a
// scan of src's records gives.
func statsAsScan(ctx context.Context, t *testing.T, src MinuteCache, name string, q StatsQuery) {
	t.Helper()
	got, err := Stats(ctx, src, q)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Stats(ctx, scanOnly{src}, q)
	if err != nil {
		t.Fatal(err)
	}
	sameStats(t, name, got, want)
}

// rollupText decodes an encoded rollup into comparable lines: the
// untracked count, then each row in order with its key, figures, status
// codes in order and latencies, exact ones sorted (a sketch keeps them in
// the order they came, which no figure depends on).
func rollupText(t *testing.T, blob []byte, m int64) []string {
	t.Helper()
	var rows rollupRows
	if err := decodeRollup(blob, m, &rows); err != nil {
		t.Fatal(err)
	}
	out := []string{fmt.Sprintf("untracked %d, %d protocols", rows.untracked, rows.protos)}
	for _, r := range rows.rows {
		s := newSketch(groupExact, groupAlpha)
		if err := s.mergeEncoded(r.lat, groupAlpha); err != nil {
			t.Fatal(err)
		}
		slices.Sort(s.exact)
		r.lat = nil
		out = append(out, fmt.Sprintf("%+v latencies %x", r, appendSketch(nil, &s)))
	}
	return out
}
