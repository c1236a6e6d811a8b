package analysis

import (
	"context"
	"fmt"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// Time-series and listing bounds for Stats.
const (
	DefaultBuckets    = 20
	MaxBuckets        = 120
	DefaultStatsLimit = 20
	MaxStatsLimit     = 500
	// topStatuses is how many status codes a row lists.
	topStatuses = 5
)

// StatsQuery selects what Stats aggregates.
type StatsQuery struct {
	Window Window
	// Match, when set, restricts the records (a compiled KFL filter).
	Match storage.Matcher
	// GroupBy defaults to ByEndpoint.
	GroupBy GroupBy
	// Buckets is the number of time-series steps per row: 0 means
	// DefaultBuckets, a negative number none; at most MaxBuckets. Without
	// a Match and grouped by anything but client, a window of two whole
	// minutes or more gets whole-minute steps, at most this many (see
	// Stats).
	Buckets int
	// Limit is how many groups to list, by call count: 0 means
	// DefaultStatsLimit; at most MaxStatsLimit.
	Limit int
}

// GroupStats is one row of Stats: a group, its figures and its time
// series.
type GroupStats struct {
	Group
	Figures
	Series []Bucket `json:"series,omitempty"`
}

// StatsResult is what Stats returns.
type StatsResult struct {
	// Window is the queried window with open sides closed at the oldest
	// and newest records.
	Window        Window  `json:"window"`
	GroupBy       GroupBy `json:"group_by"`
	BucketSeconds float64 `json:"bucket_seconds,omitempty"`
	// Total covers every selected record.
	Total GroupStats `json:"total"`
	// Groups are the busiest groups, by count.
	Groups []GroupStats `json:"groups"`
	// Protocols has one row per protocol, by count.
	Protocols []GroupStats `json:"protocols"`
	// GroupsSeen is how many groups the window holds (at most the
	// tracking cap of 5,000).
	GroupsSeen int `json:"groups_seen"`
	// UntrackedCalls counts calls of groups beyond the tracking cap: they
	// are in Total and Protocols but in no group.
	UntrackedCalls int `json:"untracked_calls,omitempty"`
	// Truncated says that groups exist beyond those listed.
	Truncated bool   `json:"truncated"`
	Summary   string `json:"summary"`
}

// Stats aggregates the records of a window per group (endpoint by
// default) and per protocol: counts, errors, latency percentiles, bytes,
// status codes and a time series, the groups ranked by count. It reads no
// bodies.
//
// Without a Match, grouped by endpoint, server or protocol, over a window
// of at least two whole minutes, Stats reads per-minute rollups where src
// is a MinuteCache (rollup.go), which makes its cost that of the window's
// minutes rather than of its records; the figures are the same. The time
// series of such a query has buckets of whole minutes, as few as fit
// Buckets, starting at the minute the window starts in (BucketSeconds is
// then a multiple of 60, and the series may extend past the window's
// end), whether or not rollups are available, so that the answer does not
// depend on the cache.
func Stats(ctx context.Context, src Source, q StatsQuery) (StatsResult, error) {
	by, err := q.GroupBy.check()
	if err != nil {
		return StatsResult{}, err
	}
	w, err := resolve(ctx, src, q.Window)
	if err != nil {
		return StatsResult{}, err
	}
	buckets := q.Buckets
	switch {
	case buckets == 0:
		buckets = DefaultBuckets
	case buckets < 0:
		buckets = 0
	}
	buckets = min(buckets, MaxBuckets)
	opt := aggOptions{by: by, series: w, buckets: buckets, cellLatency: true}
	sp, roll := planSpan(q.Window, w, q.Match, by)
	if roll && buckets > 0 {
		opt.series, opt.buckets = minuteGrid(w, buckets)
	}
	mc, cached := src.(MinuteCache)
	if roll && cached {
		// Rollups bring their cells' latencies as parts (aggregate.go).
		opt.cellLatency = false
	}
	a := newAggregator(opt)
	if roll && cached {
		err = a.readSpan(ctx, mc, sp)
	} else {
		err = scan(ctx, src, w, q.Match, false, func(r *sdk.Record) bool { a.add(r); return true })
	}
	if err != nil {
		return StatsResult{}, fmt.Errorf("analysis: stats by %s: %w", by, err)
	}
	learnEndpoints(a)
	limit := capLimit(q.Limit, DefaultStatsLimit, MaxStatsLimit)
	res := StatsResult{
		Window: w, GroupBy: by, GroupsSeen: len(a.groups), UntrackedCalls: a.untracked,
		Groups: []GroupStats{}, Protocols: []GroupStats{},
	}
	if a.opt.buckets > 0 {
		res.BucketSeconds = round(a.width/1e9, 3)
	}
	res.Total = GroupStats{Group: Group{Key: "all"}, Figures: a.total.figures(topStatuses), Series: a.seriesOf(a.total)}
	rows := ranked(a.groups, by)
	res.Truncated = len(rows) > limit || a.untracked > 0
	for _, g := range rows[:min(limit, len(rows))] {
		res.Groups = append(res.Groups, GroupStats{Group: g.key.group(by), Figures: g.figures(topStatuses), Series: a.seriesOf(g)})
	}
	pm := make(map[groupKey]*agg, len(a.protos))
	for _, p := range a.protos {
		pm[p.key] = p
	}
	for _, p := range ranked(pm, ByProtocol) {
		res.Protocols = append(res.Protocols, GroupStats{Group: p.key.group(ByProtocol), Figures: p.figures(topStatuses), Series: a.seriesOf(p)})
	}
	res.Summary = statsSummary(res)
	return res, nil
}

func statsSummary(r StatsResult) string {
	t := r.Total.Figures
	if t.Count == 0 {
		return "no calls in " + r.Window.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d calls, %s failed, p95 %s, across %d %s groups in %s", t.Count, pct(t.ErrorRate), ms(t.Latency.P95), r.GroupsSeen, r.GroupBy, r.Window)
	if len(r.Groups) > 0 {
		g := r.Groups[0]
		fmt.Fprintf(&b, "; busiest %s (%d calls, %s failed, p95 %s)", g.Key, g.Count, pct(g.ErrorRate), ms(g.Latency.P95))
	}
	var protos []string
	for _, p := range r.Protocols {
		protos = append(protos, fmt.Sprintf("%s %d", p.Protocol, p.Count))
	}
	fmt.Fprintf(&b, "; protocols: %s", join(protos, 6))
	return b.String()
}
