package analysis

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// Listing bounds for Compare.
const (
	DefaultCompareLimit = 20
	MaxCompareLimit     = 500
)

// Presence values of a CompareRow.
const (
	PresentBoth = "both"
	OnlyInA     = "only_a"
	OnlyInB     = "only_b"
)

// CompareQuery selects the two windows Compare sets side by side.
type CompareQuery struct {
	// A is the reference window (before), B the one compared with it
	// (after).
	A, B  Window
	Match storage.Matcher
	// GroupBy defaults to ByEndpoint.
	GroupBy GroupBy
	// Limit is how many rows to list, by score: 0 means
	// DefaultCompareLimit; at most MaxCompareLimit.
	Limit int
}

// Side is one window's figures in a comparison.
type Side struct {
	Count     int     `json:"count"`
	Errors    int     `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	// CallsPerMin normalises Count by the window's length, so windows of
	// different lengths compare.
	CallsPerMin float64 `json:"calls_per_min"`
	P50         float64 `json:"p50_ms"`
	P95         float64 `json:"p95_ms"`
	P99         float64 `json:"p99_ms"`
	// LatencySamples is how many calls had a response to time.
	LatencySamples int `json:"latency_samples"`
}

// CompareRow is one group in both windows.
type CompareRow struct {
	Group
	A Side `json:"a"`
	B Side `json:"b"`
	// Presence is "both", "only_a" (gone in B) or "only_b" (new in B).
	Presence       string  `json:"presence"`
	CountDelta     int     `json:"count_delta"`
	RateDelta      float64 `json:"calls_per_min_delta"`
	ErrorRateDelta float64 `json:"error_rate_delta"`
	// P95DeltaMs is B's p95 minus A's; 0 unless both have latencies.
	P95DeltaMs float64 `json:"p95_delta_ms"`
	// Score is how much the group changed; see Compare.
	Score float64 `json:"score"`
}

// CompareResult is what Compare returns.
type CompareResult struct {
	A       Window       `json:"a"`
	B       Window       `json:"b"`
	GroupBy GroupBy      `json:"group_by"`
	TotalA  Side         `json:"total_a"`
	TotalB  Side         `json:"total_b"`
	Rows    []CompareRow `json:"rows"`
	// Compared, OnlyA and OnlyB count all groups, listed or not.
	Compared  int    `json:"groups_compared"`
	OnlyA     int    `json:"only_a"`
	OnlyB     int    `json:"only_b"`
	Truncated bool   `json:"truncated"`
	Summary   string `json:"summary"`
}

// Compare aggregates two windows per group and ranks the groups by how much
// they changed from A to B. The score adds three changes and weighs the sum
// by traffic:
//
//	volume  = |log2((countB + 1) / (countA·lenB/lenA + 1))|   (A scaled to B's length)
//	errors  = 10 · |error_rateB − error_rateA|                (10 points of rate = 1)
//	latency = 2 · |log2((p95B + 1) / (p95A + 1))|             (when both have latencies)
//	score   = (volume + errors + latency) · log10(10 + max(countA, countB))
//
// so a doubling of traffic, a 10-point error-rate change and a 41% p95
// change weigh about the same, and a busy endpoint outranks a quiet one
// that changed as much. A group seen in one window only scores its whole
// volume and is flagged by Presence.
func Compare(ctx context.Context, src Source, q CompareQuery) (CompareResult, error) {
	by, err := q.GroupBy.check()
	if err != nil {
		return CompareResult{}, err
	}
	var aggs [2]*aggregator
	var wins [2]Window
	for i, w := range []Window{q.A, q.B} {
		if wins[i], err = resolve(ctx, src, w); err != nil {
			return CompareResult{}, err
		}
		a, err := aggregate(ctx, src, w, wins[i], q.Match, by)
		if err != nil {
			return CompareResult{}, fmt.Errorf("analysis: compare by %s, window %c: %w", by, 'A'+i, err)
		}
		aggs[i] = a
	}
	learnEndpoints(aggs[0], aggs[1])
	lenA, lenB := minutes(wins[0]), minutes(wins[1])
	res := CompareResult{A: wins[0], B: wins[1], GroupBy: by, Rows: []CompareRow{},
		TotalA: sideOf(aggs[0].total, lenA), TotalB: sideOf(aggs[1].total, lenB)}
	keys := make(map[groupKey]struct{}, len(aggs[0].groups)+len(aggs[1].groups))
	for _, a := range aggs {
		for k := range a.groups {
			keys[k] = struct{}{}
		}
	}
	empty := &agg{lat: newSketch(0, groupAlpha)}
	for k := range keys {
		ga, gb := aggs[0].groups[k], aggs[1].groups[k]
		row := CompareRow{Group: k.group(by), Presence: PresentBoth}
		switch {
		case ga == nil:
			ga, row.Presence = empty, OnlyInB
			res.OnlyB++
		case gb == nil:
			gb, row.Presence = empty, OnlyInA
			res.OnlyA++
		}
		row.A, row.B = sideOf(ga, lenA), sideOf(gb, lenB)
		row.CountDelta = gb.count - ga.count
		row.RateDelta = round(row.B.CallsPerMin-row.A.CallsPerMin, 3)
		row.ErrorRateDelta = round(row.B.ErrorRate-row.A.ErrorRate, 4)
		if ga.lat.n > 0 && gb.lat.n > 0 {
			row.P95DeltaMs = round(row.B.P95-row.A.P95, 3)
		}
		row.Score = round(changeScore(ga, gb, lenA, lenB), 3)
		res.Rows = append(res.Rows, row)
	}
	res.Compared = len(res.Rows)
	slices.SortFunc(res.Rows, func(x, y CompareRow) int {
		if x.Score != y.Score {
			return cmpDesc(x.Score, y.Score)
		}
		return strings.Compare(x.Key, y.Key)
	})
	limit := capLimit(q.Limit, DefaultCompareLimit, MaxCompareLimit)
	if len(res.Rows) > limit {
		res.Rows, res.Truncated = res.Rows[:limit], true
	}
	res.Truncated = res.Truncated || aggs[0].untracked > 0 || aggs[1].untracked > 0
	res.Summary = compareSummary(res)
	return res, nil
}

// aggregate groups the records of w (asked as asked) without a time series:
// from rollups when they apply, else by a scan.
func aggregate(ctx context.Context, src Source, asked, w Window, m storage.Matcher, by GroupBy) (*aggregator, error) {
	return aggregateMin(ctx, src, asked, w, m, by, rollupMinMinutes)
}

// aggregateMin is aggregate taking rollups for spans of at least
// minMinutes whole minutes (planSpanMin).
func aggregateMin(ctx context.Context, src Source, asked, w Window, m storage.Matcher, by GroupBy, minMinutes int64) (*aggregator, error) {
	a := newAggregator(aggOptions{by: by})
	sp, roll := planSpanMin(asked, w, m, by, minMinutes)
	if mc, ok := src.(MinuteCache); roll && ok {
		if err := a.readSpan(ctx, mc, sp); err != nil {
			return nil, err
		}
		// The callers read every group's latencies.
		a.settle()
		return a, nil
	}
	// The aggregator reads the head and the sizes only, as the rollups it
	// builds show: leaving headers and fields undecoded took ~75% off
	// learning the endpoint templates of a short capture, which scans.
	return a, scanSizes(ctx, src, w, m, func(r *sdk.Record) bool { a.add(r); return true })
}

func changeScore(a, b *agg, lenA, lenB float64) float64 {
	scaledA := float64(a.count) * lenB / lenA
	s := math.Abs(math.Log2((float64(b.count) + 1) / (scaledA + 1)))
	s += 10 * math.Abs(ratio(b.errors, b.count)-ratio(a.errors, a.count))
	if a.lat.n > 0 && b.lat.n > 0 {
		s += 2 * math.Abs(math.Log2((b.lat.quantile(0.95)+1)/(a.lat.quantile(0.95)+1)))
	}
	return s * math.Log10(10+float64(max(a.count, b.count)))
}

// minutes is the window's length in minutes, at least a millisecond's
// worth so a one-record window still divides.
func minutes(w Window) float64 {
	return max(w.Duration(), time.Millisecond).Minutes()
}

func sideOf(g *agg, mins float64) Side {
	return Side{
		Count: g.count, Errors: g.errors, ErrorRate: round(ratio(g.errors, g.count), 4),
		CallsPerMin: round(float64(g.count)/mins, 3), LatencySamples: g.lat.n,
		P50: round(g.lat.quantile(0.5), 3), P95: round(g.lat.quantile(0.95), 3), P99: round(g.lat.quantile(0.99), 3),
	}
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

func compareSummary(r CompareResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "A %s: %d calls, %s failed, p95 %s; B %s: %d calls, %s failed, p95 %s; %d groups compared (%d only in A, %d only in B)",
		r.A, r.TotalA.Count, pct(r.TotalA.ErrorRate), ms(r.TotalA.P95),
		r.B, r.TotalB.Count, pct(r.TotalB.ErrorRate), ms(r.TotalB.P95),
		r.Compared, r.OnlyA, r.OnlyB)
	if len(r.Rows) > 0 {
		x := r.Rows[0]
		fmt.Fprintf(&b, "; most changed %s (%s): %d→%d calls, errors %s→%s, p95 %s→%s",
			x.Key, strings.ReplaceAll(x.Presence, "_", " "), x.A.Count, x.B.Count, pct(x.A.ErrorRate), pct(x.B.ErrorRate), ms(x.A.P95), ms(x.B.P95))
	}
	return b.String()
}
