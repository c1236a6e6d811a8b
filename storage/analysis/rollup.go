package analysis

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// Per-minute rollups.
//
// Stats, Compare and the baseline of Anomalies aggregate every record of
// their windows the same way, and a scan costs some microseconds per
// record. When a query has no filter and groups by endpoint, server or
// protocol, its window is read instead as
//
//	[partial minute] [whole minutes ...] [partial minute]
//
// where each whole minute is one rollup: the minute's groups, in the order
// of their first record, each with the figures of aggregate.go (counts,
// errors, unanswered calls, bytes, status codes, first and last call,
// latency sketch), plus the per-protocol and total rows. A partial minute
// at an edge is read the same way from the rollups of its whole 10-second
// slices, and at most 10 seconds of records at each end are scanned.
//
// Merging rollups in time order gives the figures a scan gives: counts
// and sums add up, first and last take the minimum and maximum, and
// sketches merge exactly (sketch.merge), so percentiles are those of a
// scan, exact or binned alike. The only differences appear past the
// caps: a minute tracks up to 64 status codes per group (a scan's 16 over
// the whole window may then count less of a status that, in one minute,
// came after 64 others), and more than 5,000 groups in one minute leave
// the same groups untracked only approximately.
//
// A rollup is computed on first use by scanning its minute (or slice),
// and cached with the store (storage.Store.PutDerived) under the minute's
// epoch; the store changes that epoch whenever a Put or retention changes
// the minute's records, which makes every rollup of the minute stale. A
// query never caches the current minute, as a capture is still writing
// it: a live window's newest minute is scanned unless an import's
// RollupBuilder, whose rollups cost no scan, cached it. A cold cache
// costs about the scan it replaces (missing minutes are built two at a
// time); WarmRollups builds them ahead of the queries.
//
// The time series of a query served by rollups has buckets of whole
// minutes, aligned on the minute the window starts in; see minuteGrid.

// MinuteCache is what rollups need from a Source: the store's minute
// epochs and a place to keep derived values. *storage.Store implements it;
// a Source without it is always scanned.
type MinuteCache interface {
	Source
	MinuteEpochs(ctx context.Context, from, to time.Time) (map[int64]uint64, error)
	GetDerived(ctx context.Context, name string, minute int64) (epoch uint64, val []byte, err error)
	PutDerived(ctx context.Context, name string, minute int64, epoch uint64, val []byte) (stored bool, err error)
}

const (
	// rollupMinMinutes is the fewest whole minutes a window needs for
	// rollups: with fewer, its edges are most of it and a scan costs
	// about the same, while its time series keeps buckets shorter than a
	// minute.
	rollupMinMinutes = 2
	// rollupVersion is the first byte of an encoded rollup; it fixes the
	// format, the sketches' α and caps, and the grouping rules (Template).
	// Bump it when any of them changes: the cache name includes it, so
	// older entries are simply never read again.
	rollupVersion = 2
	// minuteStatuses caps the status codes of a group in one minute,
	// above maxStatuses so that merging rarely loses any.
	minuteStatuses = 64
	// sliceSeconds divides an edge minute: a partial minute at an edge of
	// a window is read as its whole slices, cached like minutes, and at
	// most a slice of records scanned at each end.
	sliceSeconds = 10
)

// rollup is the aggregate of the records of one span of time, as built
// from the records; encodeRollup stores it.
type rollup struct {
	groups    []*agg // in creation order
	protos    []*agg // by protocol name
	total     *agg
	untracked int
}

// rollupRows is a decoded rollup: the total row, then the protocol rows,
// then the groups in creation order. Its buffers are reused from one
// minute to the next.
type rollupRows struct {
	rows      []rollRow
	protos    int
	untracked int
	tallies   []statusTally
}

// rollRow is one row of a decoded rollup. The latency sketch stays
// encoded (a slice of the rollup's bytes) until a figure needs it.
type rollRow struct {
	key                 groupKey
	count, errors       int
	noResp              int
	reqBytes, respBytes int64
	first, last         int64
	statuses            []statusTally
	timed               bool // the sketch holds values
	lat                 []byte
}

// span is how a window is read with rollups: the whole minutes [lo, hi),
// and the partial minutes before and after them (readEdge).
type span struct {
	head, tail Window
	lo, hi     int64
}

func minuteTime(m int64) time.Time { return time.Unix(m*60, 0).UTC() }

// floorMinute and ceilMinute are the Unix minute at or before t and at or
// after it.
func floorMinute(t time.Time) int64 { return storage.MinuteOf(t) }

func ceilMinute(t time.Time) int64 {
	m := storage.MinuteOf(t)
	if minuteTime(m).Before(t) {
		m++
	}
	return m
}

// planSpan decides whether rollups can serve a query over w (asked as
// asked, resolved as w) with matcher m and grouping by, and how. A side
// the caller left open was closed at the oldest or newest record, so it
// can be widened to the minute boundary without taking in any record.
func planSpan(asked, w Window, m storage.Matcher, by GroupBy) (span, bool) {
	return planSpanMin(asked, w, m, by, rollupMinMinutes)
}

// planSpanMin is planSpan for a caller that takes rollups over a span of
// at least minMinutes whole minutes.
func planSpanMin(asked, w Window, m storage.Matcher, by GroupBy, minMinutes int64) (span, bool) {
	if m != nil || by == ByClient || w.Start.IsZero() || w.End.IsZero() || w.Start.Before(time.Unix(0, 0)) {
		return span{}, false
	}
	start, end := w.Start, w.End
	if asked.Start.IsZero() {
		start = minuteTime(floorMinute(start))
	}
	if asked.End.IsZero() {
		end = minuteTime(ceilMinute(end))
	}
	sp := span{lo: ceilMinute(start), hi: floorMinute(end)}
	if sp.hi-sp.lo < minMinutes {
		return span{}, false
	}
	if t := minuteTime(sp.lo); start.Before(t) {
		sp.head = Window{Start: start, End: t}
	}
	if t := minuteTime(sp.hi); t.Before(end) {
		sp.tail = Window{Start: t, End: end}
	}
	return sp, true
}

// minuteGrid is the time series of a window served by rollups: buckets of
// a whole number of minutes, as few as fit the number asked for, starting
// at the minute the window starts in. The series spans that many buckets,
// which may end past the window; only the window's calls are counted.
func minuteGrid(w Window, buckets int) (Window, int) {
	first := floorMinute(w.Start)
	n := ceilMinute(w.End) - first
	width := (n + int64(buckets) - 1) / int64(buckets)
	count := (n + width - 1) / width
	return Window{Start: minuteTime(first), End: minuteTime(first + count*width)}, int(count)
}

// rollupName is the cache name of the rollups of one grouping.
func rollupName(by GroupBy) string {
	return fmt.Sprintf("analysis/rollup/v%d/%s", rollupVersion, by)
}

// readSpan merges the records of sp into a: the edges from slices of
// their minutes and records, the whole minutes from rollups (cached or
// computed), in time order.
func (a *aggregator) readSpan(ctx context.Context, mc MinuteCache, sp span) error {
	// The epochs are read before any record they guard (storage's
	// MinuteEpochs explains why); they cover the edges' minutes too.
	epochs, err := mc.MinuteEpochs(ctx, minuteTime(sp.lo-1), minuteTime(sp.hi+1))
	if err != nil {
		return err
	}
	var rows rollupRows
	if err := a.readEdge(ctx, mc, sp.head, epochs, &rows); err != nil {
		return err
	}
	err = eachRollup(ctx, mc, a.opt.by, minutesIn(epochs, sp.lo, sp.hi), epochs, func(m int64, blob []byte) error {
		if err := decodeRollup(blob, m, &rows); err != nil {
			// A cached rollup that does not decode (a bug, or a damaged
			// value) is computed again and overwritten.
			if blob, err = buildCached(ctx, mc, a.opt.by, m, wholeMinute, epochs[m]); err != nil {
				return err
			}
			if err := decodeRollup(blob, m, &rows); err != nil {
				return err
			}
		}
		a.mergeRows(&rows, a.bucketAt(minuteTime(m).UnixNano()))
		return nil
	})
	if err != nil {
		return err
	}
	return a.readEdge(ctx, mc, sp.tail, epochs, &rows)
}

// readEdge merges w, a part of one minute, into a: its whole slices from
// slice rollups (cached or computed) and the rest from records.
func (a *aggregator) readEdge(ctx context.Context, mc MinuteCache, w Window, epochs map[int64]uint64, rows *rollupRows) error {
	if w.Duration() <= 0 {
		return nil
	}
	m := floorMinute(w.Start)
	epoch, ok := epochs[m]
	if !ok {
		return nil // no records
	}
	bucket := a.bucketAt(w.Start.UnixNano())
	base := minuteTime(m)
	slice := sliceSeconds * time.Second
	first := int((w.Start.Sub(base) + slice - 1) / slice)
	last := int(w.End.Sub(base) / slice) // exclusive
	fromRecords := func(w Window) error {
		if w.Duration() <= 0 {
			return nil
		}
		r, err := buildRollup(ctx, mc, a.opt.by, w)
		if err != nil {
			return err
		}
		if err := decodeRollup(encodeRollup(r, m), m, rows); err != nil {
			return err
		}
		a.mergeRows(rows, bucket)
		return nil
	}
	// The current minute's slices are not cached (buildCached), so one
	// scan reads it best.
	if first >= last || m >= storage.MinuteOf(time.Now()) {
		return fromRecords(w)
	}
	if err := fromRecords(Window{Start: w.Start, End: base.Add(time.Duration(first) * slice)}); err != nil {
		return err
	}
	for i := first; i < last; i++ {
		blob, err := cachedRollup(ctx, mc, a.opt.by, m, i, epoch)
		if err == nil && decodeRollup(blob, m, rows) != nil {
			// As for minutes: a damaged slice is computed again.
			if blob, err = buildCached(ctx, mc, a.opt.by, m, i, epoch); err == nil {
				err = decodeRollup(blob, m, rows)
			}
		}
		if err != nil {
			return err
		}
		a.mergeRows(rows, bucket)
	}
	return fromRecords(Window{Start: base.Add(time.Duration(last) * slice), End: w.End})
}

// wholeMinute stands for a whole minute where a slice number is expected.
const wholeMinute = -1

// pieceName is the cache name of the rollup of slice i (or wholeMinute)
// of a minute.
func pieceName(by GroupBy, i int) string {
	if i == wholeMinute {
		return rollupName(by)
	}
	return fmt.Sprintf("%s/%ds/%d", rollupName(by), sliceSeconds, i)
}

// pieceWindow is the time slice i (or wholeMinute) of minute m covers.
func pieceWindow(m int64, i int) Window {
	if i == wholeMinute {
		return Window{Start: minuteTime(m), End: minuteTime(m + 1)}
	}
	start := minuteTime(m).Add(time.Duration(i*sliceSeconds) * time.Second)
	return Window{Start: start, End: start.Add(sliceSeconds * time.Second)}
}

// cachedRollup returns the encoded rollup of slice i (or wholeMinute) of
// minute m at epoch: the cached one when current, else one built from the
// records and cached.
func cachedRollup(ctx context.Context, mc MinuteCache, by GroupBy, m int64, i int, epoch uint64) ([]byte, error) {
	got, val, err := mc.GetDerived(ctx, pieceName(by, i), m)
	switch {
	case err == nil && got == epoch:
		return val, nil
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return nil, fmt.Errorf("analysis: read rollup %s of %s: %w", pieceName(by, i), minuteTime(m).Format(time.RFC3339), err)
	}
	return buildCached(ctx, mc, by, m, i, epoch)
}

// minutesIn lists the minutes of epochs in [lo, hi), ascending.
func minutesIn(epochs map[int64]uint64, lo, hi int64) []int64 {
	mins := make([]int64, 0, len(epochs))
	for m := range epochs {
		if m >= lo && m < hi {
			mins = append(mins, m)
		}
	}
	slices.Sort(mins)
	return mins
}

const (
	// rollupChunk is how many minutes are fetched, and their missing
	// rollups built, before they are merged: enough to keep the builders
	// busy, few enough to bound the rollups held at once.
	rollupChunk = 8
	// rollupWorkers build missing rollups at the same time: a cold cache
	// costs a scan of the window, which parallelises.
	rollupWorkers = 2
)

// eachRollup hands fn the encoded rollup of each of mins in order: the
// cached one where current, else one built from the records (and cached),
// building missing ones concurrently.
func eachRollup(ctx context.Context, mc MinuteCache, by GroupBy, mins []int64, epochs map[int64]uint64, fn func(m int64, blob []byte) error) error {
	name := rollupName(by)
	blobs := make([][]byte, rollupChunk)
	errs := make([]error, rollupChunk)
	for len(mins) > 0 {
		chunk := mins[:min(rollupChunk, len(mins))]
		mins = mins[len(chunk):]
		var wg sync.WaitGroup
		sem := make(chan struct{}, rollupWorkers)
		for i, m := range chunk {
			blobs[i], errs[i] = nil, nil
			got, val, err := mc.GetDerived(ctx, name, m)
			switch {
			case err == nil && got == epochs[m]:
				blobs[i] = val
				continue
			case err != nil && !errors.Is(err, storage.ErrNotFound):
				errs[i] = fmt.Errorf("analysis: read the %s rollup of %s: %w", by, minuteTime(m).Format(time.RFC3339), err)
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				blobs[i], errs[i] = buildCached(ctx, mc, by, m, wholeMinute, epochs[m])
			}()
		}
		wg.Wait()
		if err := errors.Join(errs[:len(chunk)]...); err != nil {
			return err
		}
		for i, m := range chunk {
			if err := fn(m, blobs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// buildCached computes the rollup of slice i (or wholeMinute) of minute
// m, which has the given epoch, from its records, and caches it unless the
// minute is the current one, which a capture is likely still writing.
func buildCached(ctx context.Context, mc MinuteCache, by GroupBy, m int64, i int, epoch uint64) ([]byte, error) {
	r, err := buildRollup(ctx, mc, by, pieceWindow(m, i))
	if err != nil {
		return nil, err
	}
	blob := encodeRollup(r, m)
	if m < storage.MinuteOf(time.Now()) {
		if _, err := mc.PutDerived(ctx, pieceName(by, i), m, epoch, blob); err != nil {
			return nil, fmt.Errorf("analysis: cache rollup %s of %s: %w", pieceName(by, i), minuteTime(m).Format(time.RFC3339), err)
		}
	}
	return blob, nil
}

// WarmRollups computes and caches the rollups of the whole minutes of w
// that have none or a stale one, for every grouping rollups serve, so
// that the next Stats, Compare and Anomalies over them read rollups only.
// A zero side of w is the oldest or newest record. Queries build missing
// rollups themselves, at about the cost of the scan they replace; calling
// this after an import, or every minute or so during a capture, moves that
// cost off the queries. Minutes that already have current rollups cost a
// lookup each.
func WarmRollups(ctx context.Context, mc MinuteCache, w Window) error {
	r, err := resolve(ctx, mc, w)
	if err != nil || r.Start.IsZero() {
		return err
	}
	lo, hi := ceilMinute(r.Start), floorMinute(r.End)
	if w.Start.IsZero() {
		lo = floorMinute(r.Start)
	}
	if w.End.IsZero() {
		hi = ceilMinute(r.End)
	}
	epochs, err := mc.MinuteEpochs(ctx, minuteTime(lo), minuteTime(hi))
	if err != nil {
		return err
	}
	// The current minute is never cached (buildCached): skip it.
	mins := minutesIn(epochs, lo, min(hi, storage.MinuteOf(time.Now())))
	for _, by := range []GroupBy{ByEndpoint, ByServer, ByProtocol} {
		if err := eachRollup(ctx, mc, by, mins, epochs, func(int64, []byte) error { return nil }); err != nil {
			return fmt.Errorf("analysis: warm the %s rollups of %s: %w", by, w, err)
		}
	}
	return nil
}

// buildRollup aggregates the records of w.
func buildRollup(ctx context.Context, src Source, by GroupBy, w Window) (*rollup, error) {
	a := newAggregator(aggOptions{by: by, statusCap: minuteStatuses})
	if err := scanSizes(ctx, src, w, nil, func(r *sdk.Record) bool { a.add(r); return true }); err != nil {
		return nil, err
	}
	return rollupOf(a, a.order), nil
}

// rollupOf is the rollup of a's rows, its groups in the order given.
func rollupOf(a *aggregator, groups []*agg) *rollup {
	r := &rollup{groups: groups, total: a.total, untracked: a.untracked}
	for _, p := range a.protos {
		r.protos = append(r.protos, p)
	}
	slices.SortFunc(r.protos, func(x, y *agg) int { return strings.Compare(x.key.proto, y.key.proto) })
	return r
}

// Encoding: a version byte; a string table (uvarint count, then each
// string as uvarint length and bytes; "" is index 0 and not stored); the
// untracked count; the total row, the protocol rows and the groups, each
// row as
//
//	key     9 uvarint string indexes (protocol, method, path, server ip,
//	        name, namespace, client ip, name, namespace) and uvarint port
//	counts  uvarint count, errors, no-response; varint request and
//	        response bytes; varint first and last call in ns from the
//	        minute's start
//	status  uvarint count, then per code uvarint string index of its
//	        protocol, varint status, uvarint calls, uvarint failed calls
//	latency uvarint length, then the sketch (appendSketch)
//
// The string table makes a minute of a thousand endpoints on forty
// servers cost each server name once, and decoding allocates each string
// once.

func encodeRollup(r *rollup, minute int64) []byte {
	base := minuteTime(minute).UnixNano()
	strs := map[string]uint64{"": 0}
	var table []string
	idx := func(s string) uint64 {
		i, ok := strs[s]
		if !ok {
			i = uint64(len(table) + 1)
			strs[s] = i
			table = append(table, s)
		}
		return i
	}
	var body, sk []byte
	row := func(g *agg) {
		k := g.key
		for _, s := range []string{k.proto, k.method, k.path, k.srv.ip, k.srv.name, k.srv.ns, k.cli.ip, k.cli.name, k.cli.ns} {
			body = binary.AppendUvarint(body, idx(s))
		}
		body = binary.AppendUvarint(body, uint64(k.port))
		body = binary.AppendUvarint(body, uint64(g.count))
		body = binary.AppendUvarint(body, uint64(g.errors))
		body = binary.AppendUvarint(body, uint64(g.noResp))
		body = binary.AppendVarint(body, g.reqBytes)
		body = binary.AppendVarint(body, g.respBytes)
		body = binary.AppendVarint(body, g.first-base)
		body = binary.AppendVarint(body, g.last-base)
		body = binary.AppendUvarint(body, uint64(len(g.statuses)))
		for _, s := range g.statuses {
			body = binary.AppendUvarint(body, idx(s.proto))
			body = binary.AppendVarint(body, int64(s.status))
			body = binary.AppendUvarint(body, uint64(s.n))
			body = binary.AppendUvarint(body, uint64(s.failed))
		}
		sk = appendSketch(sk[:0], &g.lat)
		body = binary.AppendUvarint(body, uint64(len(sk)))
		body = append(body, sk...)
	}
	body = binary.AppendUvarint(body, uint64(r.untracked))
	row(r.total)
	body = binary.AppendUvarint(body, uint64(len(r.protos)))
	for _, g := range r.protos {
		row(g)
	}
	body = binary.AppendUvarint(body, uint64(len(r.groups)))
	for _, g := range r.groups {
		row(g)
	}
	size := 1 + binary.MaxVarintLen64
	for _, s := range table {
		size += binary.MaxVarintLen64 + len(s)
	}
	out := make([]byte, 0, size+len(body))
	out = append(out, rollupVersion)
	out = binary.AppendUvarint(out, uint64(len(table)))
	for _, s := range table {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	return append(out, body...)
}

// decodeRollup decodes b, the rollup of the minute (or part of a minute)
// starting in minute, into rows, reusing its buffers. The rows' latencies
// are slices of b.
func decodeRollup(b []byte, minute int64, into *rollupRows) error {
	base := minuteTime(minute).UnixNano()
	rd := &reader{b: b}
	if v := rd.byte(); v != rollupVersion && rd.err == nil {
		return fmt.Errorf("rollup version %d, want %d", v, rollupVersion)
	}
	n := rd.count(1)
	table := make([]string, 1, n+1)
	for i := 0; i < n && rd.err == nil; i++ {
		table = append(table, string(rd.bytes(rd.count(1))))
	}
	str := func() string {
		i := rd.uvarint()
		if i >= uint64(len(table)) {
			rd.fail("string %d of %d", i, len(table))
			return ""
		}
		return table[i]
	}
	into.untracked = int(rd.uvarint())
	into.tallies = into.tallies[:0]
	into.rows = into.rows[:0]
	row := func() {
		into.rows = append(into.rows, rollRow{})
		g := &into.rows[len(into.rows)-1]
		g.key = groupKey{proto: str(), method: str(), path: str(), srv: node{ip: str(), name: str(), ns: str()}, cli: node{ip: str(), name: str(), ns: str()}}
		port := rd.uvarint()
		if port > math.MaxUint16 {
			rd.fail("port %d", port)
		}
		g.key.port = uint16(port)
		g.count = int(rd.uvarint())
		g.errors = int(rd.uvarint())
		g.noResp = int(rd.uvarint())
		g.reqBytes = rd.varint()
		g.respBytes = rd.varint()
		g.first = base + rd.varint()
		g.last = base + rd.varint()
		ns := rd.count(4)
		from := len(into.tallies)
		for i := 0; i < ns && rd.err == nil; i++ {
			proto := str()
			into.tallies = append(into.tallies, statusTally{proto: proto, status: int(rd.varint()), n: int(rd.uvarint()), failed: int(rd.uvarint())})
		}
		// A full slice expression: nothing appending to a row's statuses
		// may write into the shared buffer.
		g.statuses = into.tallies[from:len(into.tallies):len(into.tallies)]
		g.lat = rd.bytes(rd.count(1))
		if rd.err == nil {
			if err := checkEncoded(g.lat); err != nil {
				rd.fail("%v", err)
				return
			}
			// The count comes first; a uvarint is 0 only as one zero byte.
			g.timed = g.lat[0] != 0
		}
	}
	// A row takes at least 30 bytes, which bounds what a damaged count
	// can make us allocate.
	const minRow = 30
	row()
	into.protos = rd.count(minRow)
	for i := 0; i < into.protos && rd.err == nil; i++ {
		row()
	}
	ng := rd.count(minRow)
	for i := 0; i < ng && rd.err == nil; i++ {
		row()
	}
	if rd.err == nil && rd.left() != 0 {
		rd.fail("%d bytes after the last row", rd.left())
	}
	if rd.err != nil {
		into.rows, into.protos = into.rows[:0], 0
		return fmt.Errorf("decode the rollup of %s: %w", minuteTime(minute).Format(time.RFC3339), rd.err)
	}
	return nil
}

// reader decodes a byte slice, latching the first error: callers read a
// whole structure and check once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
	r.b = nil
}

func (r *reader) left() int { return len(r.b) }

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length whose items take at least size bytes each, failing
// when the rest of the input could not hold them.
func (r *reader) count(size int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/size) {
		r.fail("count %d in %d bytes", n, len(r.b))
		return 0
	}
	return int(n)
}

func (r *reader) bytes(n int) []byte {
	if len(r.b) < n {
		r.fail("truncated")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
