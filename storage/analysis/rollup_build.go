package analysis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// Rollups built while storing.
//
// An import used to store its records and then read every one of them
// back to build the per-minute rollups (WarmRollups): the second pass was
// an eighth of a small-message import's time. A RollupBuilder is handed
// each batch the store accepted and aggregates it on the spot, so that
// after the import only the finished rollups are written.
//
// A rollup built this way is only cached when it is certainly the one a
// scan would build, and the minute is left to WarmRollups' scan otherwise:
//
//   - for a minute that held no record before the builder started, the
//     store holds exactly as many records in it as the builder saw,
//     counted after reading the minute's epoch: records are only ever
//     added by the Puts the builder sees or removed, so equal counts mean
//     the same records (a record stored twice, or dropped by retention,
//     makes them differ);
//   - for a minute that held records before (a capture imported again,
//     or one overlapping an earlier one), the store holds exactly the
//     records the builder saw, compared id by id (storage.Store.
//     HoldsExactly) after reading the epoch: every older record was then
//     replaced by one the builder saw, identical or not, and the store's
//     version of each record is the one the builder aggregated, as Put
//     overwrites a record whole; else, if the import only added records
//     after the older ones, the older rollup continued with the import's
//     rows (storeAppended); else the minute is left to the scan;
//   - no minute reached maxGroups groups, where the groups tracked depend
//     on the order records come in.
//
// The epoch read before the count guards the rest, as for any derived
// value: a Put or retention after it changes the epoch, and PutDerived
// refuses a stale one. Groups are written in the order of their first
// record (time, then id), which is the order a scan creates them in.

// RollupBuilder aggregates stored records into per-minute rollups. Add and
// Store may be called from several goroutines.
type RollupBuilder struct {
	mc MinuteCache

	mu      sync.Mutex
	before  map[int64]uint64 // minutes that held records at the start
	minutes map[int64]*minuteBuild
	done    map[int64]bool // minutes stored early: later records are left to the scan
	newest  int64
	cached  int // minutes whose rollups were cached
}

// rollupGroupings are the groupings rollups serve (as in WarmRollups).
var rollupGroupings = [...]GroupBy{ByEndpoint, ByServer, ByProtocol}

type minuteBuild struct {
	aggs [len(rollupGroupings)]*aggregator
	// rows holds, for each row, its first record and the first record
	// of each of its status codes, whose order the rollup keeps
	// (countStatus appends codes as they come). One lookup by the row's
	// pointer per note: two maps, one keyed by row, protocol and status,
	// were a third of Add's time.
	rows  map[*agg]*rowFirsts
	count int
	// ids are the ids of the records added to a minute that held records
	// before the builder started (nil for others), which storeMinute
	// compares with the store's; unsound is set when one could not be
	// kept.
	ids     *storage.IDList
	unsound bool
}

// rowFirsts is the first record of a row, and of each of its status
// codes, up to minuteStatuses of them: a row with more is never cached
// (scanOrder), so the rest need no order.
type rowFirsts struct {
	first    firstRecord
	statuses []statusFirst
}

type statusFirst struct {
	proto  string
	status int
	first  firstRecord
}

// firstRecord is the earliest record of a group by the store's key order.
type firstRecord struct {
	ts int64
	id string
}

func (f firstRecord) before(o firstRecord) bool {
	return f.ts < o.ts || (f.ts == o.ts && f.id < o.id)
}

func (f firstRecord) cmp(o firstRecord) int {
	switch {
	case f.before(o):
		return -1
	case o.before(f):
		return 1
	}
	return 0
}

// note keeps the first record of row g and of its status code.
func (mb *minuteBuild) note(g *agg, f firstRecord, answered bool, r *sdk.Record) {
	rf := mb.rows[g]
	if rf == nil {
		rf = &rowFirsts{first: f}
		mb.rows[g] = rf
	} else if f.before(rf.first) {
		rf.first = f
	}
	if !answered {
		return
	}
	if s := rf.status(r.Protocol, r.Status); s != nil {
		if f.before(s.first) {
			s.first = f
		}
		return
	}
	if len(rf.statuses) < minuteStatuses {
		rf.statuses = append(rf.statuses, statusFirst{proto: r.Protocol, status: r.Status, first: f})
	}
}

// firstOf is the first record of row g, and statusFirstOf that of its
// status code; zero when none was noted.
func (mb *minuteBuild) firstOf(g *agg) firstRecord {
	if rf := mb.rows[g]; rf != nil {
		return rf.first
	}
	return firstRecord{}
}

func (mb *minuteBuild) statusFirstOf(g *agg, proto string, status int) firstRecord {
	if rf := mb.rows[g]; rf != nil {
		if s := rf.status(proto, status); s != nil {
			return s.first
		}
	}
	return firstRecord{}
}

// status is the row's entry for a protocol's status code, nil when none
// was noted.
func (rf *rowFirsts) status(proto string, status int) *statusFirst {
	for i := range rf.statuses {
		if s := &rf.statuses[i]; s.status == status && s.proto == proto {
			return s
		}
	}
	return nil
}

// scanOrder puts a minute's rows and their status codes in the order a
// scan of the store creates them, and reports false when a row tracks as
// many codes as it may, where which ones depends on that order.
func (mb *minuteBuild) scanOrder(a *aggregator) ([]*agg, bool) {
	rows := append([]*agg{a.total}, a.order...)
	for _, p := range a.protos {
		rows = append(rows, p)
	}
	for _, g := range rows {
		if len(g.statuses) >= minuteStatuses {
			return nil, false
		}
		slices.SortFunc(g.statuses, func(x, y statusTally) int {
			return mb.statusFirstOf(g, x.proto, x.status).cmp(mb.statusFirstOf(g, y.proto, y.status))
		})
	}
	order := slices.Clone(a.order)
	slices.SortFunc(order, func(x, y *agg) int { return mb.firstOf(x).cmp(mb.firstOf(y)) })
	return order, true
}

// pendingMinutes bounds the minutes a builder holds: past it, minutes
// older than the newest by more than a couple of minutes are stored early
// (a capture's records come nearly in time order), so a day-long import
// holds a few minutes of aggregates rather than a day's.
const pendingMinutes = 8

// NewRollupBuilder starts a builder for records about to be stored in mc.
func NewRollupBuilder(ctx context.Context, mc MinuteCache) (*RollupBuilder, error) {
	before, err := mc.MinuteEpochs(ctx, time.Time{}, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("analysis: rollup builder: %w", err)
	}
	return &RollupBuilder{mc: mc, before: before, minutes: map[int64]*minuteBuild{}, done: map[int64]bool{}}, nil
}

// Add aggregates records the store has just accepted; they must have
// their ids.
func (b *RollupBuilder) Add(ctx context.Context, recs []*sdk.Record) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range recs {
		m := storage.MinuteOf(r.Timestamp)
		if b.done[m] {
			continue
		}
		mb := b.minutes[m]
		if mb == nil {
			mb = &minuteBuild{rows: map[*agg]*rowFirsts{}}
			if _, old := b.before[m]; old {
				mb.ids = &storage.IDList{}
			}
			for i, by := range rollupGroupings {
				mb.aggs[i] = newAggregator(aggOptions{by: by, statusCap: minuteStatuses})
			}
			b.minutes[m] = mb
			b.newest = max(b.newest, m)
		}
		mb.count++
		if mb.ids != nil && mb.ids.Add(r.ID) != nil {
			mb.unsound = true
		}
		f := firstRecord{ts: r.Timestamp.UnixNano(), id: r.ID}
		answered := hasResponse(r)
		for _, a := range mb.aggs {
			g, p := a.addRows(r)
			if g != nil {
				mb.note(g, f, answered, r)
			}
			mb.note(p, f, answered, r)
			mb.note(a.total, f, answered, r)
		}
	}
	if len(b.minutes) <= pendingMinutes {
		return nil
	}
	var early []int64
	for m := range b.minutes {
		if m < b.newest-2 {
			early = append(early, m)
		}
	}
	return b.storeLocked(ctx, early)
}

// Store caches the rollups of every minute built so far that passes the
// checks above, and returns how many minutes the builder cached in all
// (some may have been cached early, by Add); the others are left to
// WarmRollups.
func (b *RollupBuilder) Store(ctx context.Context) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	mins := make([]int64, 0, len(b.minutes))
	for m := range b.minutes {
		mins = append(mins, m)
	}
	err := b.storeLocked(ctx, mins)
	return b.cached, err
}

func (b *RollupBuilder) storeLocked(ctx context.Context, mins []int64) error {
	for _, m := range mins {
		ok, err := b.storeMinute(ctx, m)
		if err != nil {
			return err
		}
		if ok {
			b.cached++
		}
	}
	return nil
}

// recordChecker is what the checks of a minute's records need;
// *storage.Store has it.
type recordChecker interface {
	CountIn(ctx context.Context, from, to time.Time) (int, error)
	HoldsExactly(ctx context.Context, from, to time.Time, ids *storage.IDList) (bool, error)
}

// storeMinute caches minute m's rollups when they are sound, and forgets
// the minute either way.
func (b *RollupBuilder) storeMinute(ctx context.Context, m int64) (bool, error) {
	mb := b.minutes[m]
	delete(b.minutes, m)
	b.done[m] = true
	// Unlike a query's rollup (buildCached), the current minute's (or a
	// later one's, for records stamped ahead of this clock) is cached too:
	// it costs no scan, the epoch makes it stale as soon as a record is
	// added, and leaving it out made the endpoint templates learned right
	// after the import read the minute's every record back, faulting the
	// value log into memory (RATIONALE.md, "The builder's rollups of the
	// current minute").
	if mb == nil || mb.unsound {
		return false, nil
	}
	for _, a := range mb.aggs {
		if a.untracked > 0 {
			return false, nil
		}
	}
	epochs, err := b.mc.MinuteEpochs(ctx, minuteTime(m), minuteTime(m+1))
	if err != nil {
		return false, err
	}
	epoch, ok := epochs[m]
	if !ok {
		return false, nil
	}
	checker, ok := b.mc.(recordChecker)
	if !ok {
		return false, nil
	}
	if mb.ids != nil {
		// The minute held records before: its rollup is the builder's
		// only if the import replaced every one of them, or follows
		// from the older rollup if it only added records after them.
		same, err := checker.HoldsExactly(ctx, minuteTime(m), minuteTime(m+1), mb.ids)
		if err != nil {
			return false, err
		}
		if !same {
			return b.storeAppended(ctx, m, mb, epoch, checker)
		}
	} else {
		n, err := checker.CountIn(ctx, minuteTime(m), minuteTime(m+1))
		if err != nil {
			return false, err
		}
		if n != mb.count {
			return false, nil
		}
	}
	blobs := make([][]byte, len(mb.aggs))
	for i, a := range mb.aggs {
		order, ok := mb.scanOrder(a)
		if !ok {
			return false, nil
		}
		blobs[i] = encodeRollup(rollupOf(a, order), m)
	}
	return true, b.putRollups(ctx, m, epoch, blobs)
}

// putRollups caches minute m's rollups, one per grouping, at epoch.
func (b *RollupBuilder) putRollups(ctx context.Context, m int64, epoch uint64, blobs [][]byte) error {
	for i, blob := range blobs {
		if _, err := b.mc.PutDerived(ctx, pieceName(rollupGroupings[i], wholeMinute), m, epoch, blob); err != nil {
			return fmt.Errorf("analysis: cache rollup %s of %s: %w", pieceName(rollupGroupings[i], wholeMinute), minuteTime(m).Format(time.RFC3339), err)
		}
	}
	return nil
}

// storeAppended caches the rollups of minute m, which held records
// before the builder started, when the import only added records to it,
// all of them later than the older ones: a scan of the minute then reads
// the older records first, so its rollup is the older rollup continued
// with the import's rows in their scan order (mergeRows, as a query
// merges minutes): older groups and status codes first, in their order,
// then the new ones in theirs, the caps applied in that order. It holds
// when
//
//   - the older rollups of every grouping were current when the builder
//     started (their epoch is the one it read then), so they are the
//     older records' exactly;
//   - every record the builder saw in the minute is later than the older
//     rollups' last call: the import replaced none of the older records
//     (an id names its record's time), and nothing ties in scan order;
//   - the store holds as many records in the minute as the older rollup
//     counted plus the builder saw, counted after the epoch was read: as
//     nothing replaced an older record, a deleted record or a record the
//     builder saw twice would make the store hold fewer.
func (b *RollupBuilder) storeAppended(ctx context.Context, m int64, mb *minuteBuild, epoch uint64, checker recordChecker) (bool, error) {
	olds := make([]rollupRows, len(rollupGroupings))
	for i, by := range rollupGroupings {
		got, val, err := b.mc.GetDerived(ctx, pieceName(by, wholeMinute), m)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return false, nil
		case err != nil:
			return false, fmt.Errorf("analysis: read rollup %s of %s: %w", pieceName(by, wholeMinute), minuteTime(m).Format(time.RFC3339), err)
		case got != b.before[m]:
			return false, nil
		}
		if decodeRollup(val, m, &olds[i]) != nil {
			return false, nil // damaged: the scan rebuilds it
		}
	}
	older := olds[0].rows[0] // the total row
	if mb.aggs[0].total.first <= older.last {
		return false, nil
	}
	n, err := checker.CountIn(ctx, minuteTime(m), minuteTime(m+1))
	if err != nil {
		return false, err
	}
	if n != older.count+mb.count {
		return false, nil
	}
	blobs := make([][]byte, len(mb.aggs))
	var added rollupRows
	for i, a := range mb.aggs {
		order, ok := mb.scanOrder(a)
		if !ok {
			return false, nil
		}
		if err := decodeRollup(encodeRollup(rollupOf(a, order), m), m, &added); err != nil {
			return false, err
		}
		merged := newAggregator(aggOptions{by: rollupGroupings[i], statusCap: minuteStatuses})
		merged.mergeRows(&olds[i], 0)
		merged.mergeRows(&added, 0)
		merged.settle()
		blobs[i] = encodeRollup(rollupOf(merged, merged.order), m)
	}
	return true, b.putRollups(ctx, m, epoch, blobs)
}
