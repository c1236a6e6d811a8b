package analysis

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// Anomaly kinds.
const (
	KindErrorRate   = "error_rate_rise"
	KindLatency     = "latency_rise"
	KindVolumeDrop  = "volume_drop"
	KindVolumeSpike = "volume_spike"
	KindNewStatus   = "new_status"
)

// Detection thresholds and listing bounds for Anomalies.
const (
	DefaultAnomalyLimit = 20
	MaxAnomalyLimit     = 200
	// DefaultMinCalls is the traffic below which a window's rates are not
	// trusted.
	DefaultMinCalls = 5
	// minErrors is the fewest failed calls an error-rate rise needs.
	minErrors = 3
	// minErrorRise is the smallest error-rate rise reported (5 points).
	minErrorRise = 0.05
	// latencyRatio and minLatencyRiseMs: p95 must grow by half and by 5ms.
	latencyRatio     = 1.5
	minLatencyRiseMs = 5.0
	// volumeRatio: traffic must triple or fall to a third.
	volumeRatio = 3.0
	// onsetBuckets divides the target window for finding when a problem
	// started.
	onsetBuckets = 120
	// causeDiscount keeps a symptom ranked below the anomaly explaining
	// it.
	causeDiscount = 0.9
	maxRootCauses = 10
)

// AnomalyQuery selects the windows Anomalies compares.
type AnomalyQuery struct {
	// Baseline is the normal period, Target the one examined.
	Baseline, Target Window
	Match            storage.Matcher
	// Limit is how many anomalies to list: 0 means DefaultAnomalyLimit; at
	// most MaxAnomalyLimit.
	Limit int
	// MinCalls is the traffic a window needs for its rates to count: 0
	// means DefaultMinCalls.
	MinCalls int
}

// Anomaly is one thing that got worse on one endpoint.
type Anomaly struct {
	// Kind is error_rate_rise, latency_rise, volume_drop, volume_spike or
	// new_status.
	Kind string `json:"kind"`
	Group
	Baseline Side   `json:"baseline"`
	Target   Side   `json:"target"`
	Detail   string `json:"detail"`
	// Severity ranks the list; BaseSeverity is the figure before the
	// onset and cascade adjustments (see Anomalies).
	Severity     float64 `json:"severity"`
	BaseSeverity float64 `json:"base_severity"`
	// Onset is when the problem started in the target window (error and
	// latency rises).
	Onset *time.Time `json:"onset,omitempty"`
	// NewStatuses are status codes (with their protocol) the baseline
	// never saw on the endpoint.
	NewStatuses []StatusCount `json:"new_statuses,omitempty"`
	// LikelyCausedBy is the key of a degraded endpoint this endpoint's
	// server calls, whose trouble started no later: the likely source.
	LikelyCausedBy string `json:"likely_caused_by,omitempty"`
	// RootCause marks a degraded endpoint nothing degraded explains.
	RootCause bool `json:"root_cause_candidate,omitempty"`
	// Explains lists the endpoints whose trouble this one likely caused.
	Explains []string `json:"explains,omitempty"`
	// ExampleIDs are up to three records showing the problem: the first
	// failed calls, the slowest calls, or calls with the new status.
	ExampleIDs []string `json:"example_ids"`
}

// AnomalyResult is what Anomalies returns.
type AnomalyResult struct {
	Baseline  Window    `json:"baseline"`
	Target    Window    `json:"target"`
	Anomalies []Anomaly `json:"anomalies"`
	// RootCauses are the keys of the degraded endpoints nothing degraded
	// explains, most severe first.
	RootCauses        []string `json:"root_causes"`
	EndpointsCompared int      `json:"endpoints_compared"`
	Truncated         bool     `json:"truncated"`
	Summary           string   `json:"summary"`
}

// candidate is an anomaly while it is being scored.
type candidate struct {
	Anomaly
	ep    *endpointState
	onset int64 // unix nanos; 0 if none
	// failing marks a new_status anomaly whose calls failed: a
	// degradation like an error-rate rise (degrades).
	failing bool
}

// degrades says whether the anomaly is a degradation, which can make its
// endpoint a root cause or a symptom: an error-rate or latency rise, or a
// new status whose calls failed (an endpoint that starts answering
// NXDOMAIN or UNAVAILABLE on a share of its calls too small to double its
// error rate is still where the trouble starts).
func (c *candidate) degrades() bool { return isDegradation(c.Kind) || c.failing }

// endpointState ties an endpoint's anomalies together for the cascade
// analysis.
type endpointState struct {
	key      groupKey
	label    string
	base     *agg // nil when the baseline never saw it
	target   *agg // nil when the target never saw it
	onset    int64
	degraded bool
	cause    *endpointState
	score    float64 // final severity of its worst degraded anomaly
	scored   bool
	cands    []*candidate
	explains []string
}

// Anomalies compares a target window with a baseline, per endpoint, and
// ranks what got worse.
//
// Detection (per endpoint, rates trusted from MinCalls calls on):
//
//   - error_rate_rise: at least 3 failed calls, the error rate up by 5
//     points and at least doubled. Status codes the baseline never saw are
//     attached as new_statuses. Base severity 10·rise·w(errors).
//   - latency_rise: p95 up by half and by 5ms. Base severity
//     2·log2((p95T+1)/(p95B+1))·w(samples).
//   - volume_spike / volume_drop: calls per minute tripled or fell to a
//     third (including an endpoint that is new or gone). Base severity
//     |log2 of the smoothed ratio|·w(calls).
//   - new_status: on an endpoint without an error-rate rise, a status code
//     the baseline never saw, on at least 3 calls. Base severity
//     (10 if those calls failed, else 3)·share·w(calls). When those calls
//     failed it is a degradation, as the rises are, with its first call
//     as onset: it can be a root cause and explain its callers' trouble.
//
// where w(n) = log10(10+n), so that busy endpoints weigh more but not in
// proportion. Errors weigh most, then latency, then volume.
//
// Ranking puts the root of a failure cascade first. For error and latency
// rises the onset is found by a CUSUM change-point over 120 steps of the
// target window (the step after which the endpoint's failures, or calls
// slower than max(1.5·p95B, p95B+5ms), ran above the midpoint of the two
// windows' rates), refined to the first such call in that step. Then:
//
//  1. Earlier onset scores higher: severity = base·(1 + 0.5·f), f being the
//     share of the target window left after the onset.
//  2. A degraded endpoint E is likely caused by a degraded endpoint F when
//     E's server is one of F's clients (a record with src = E's server
//     node and dst = F) and F's onset is no later than E's plus one step;
//     of several, the earliest. E's anomalies are then capped at 0.9 times
//     F's severity, so in a cascade C ← B ← A, where C fails first and B
//     and A fail because of it, C ranks first, then B, then A, whatever
//     their traffic. Endpoints no degraded endpoint explains are the root
//     cause candidates.
func Anomalies(ctx context.Context, src Source, q AnomalyQuery) (AnomalyResult, error) {
	minCalls := q.MinCalls
	if minCalls <= 0 {
		minCalls = DefaultMinCalls
	}
	bw, err := resolve(ctx, src, q.Baseline)
	if err != nil {
		return AnomalyResult{}, err
	}
	tw, err := resolve(ctx, src, q.Target)
	if err != nil {
		return AnomalyResult{}, err
	}
	// The baseline needs figures only, which rollups serve; the target
	// needs examples and onsets, which only its records give.
	base, err := aggregate(ctx, src, q.Baseline, bw, q.Match, ByEndpoint)
	if err != nil {
		return AnomalyResult{}, fmt.Errorf("analysis: anomalies, baseline: %w", err)
	}
	slowAt := func(k groupKey) float64 {
		g := base.groups[k]
		if g == nil || g.lat.n < minCalls {
			return 0
		}
		p95 := g.lat.quantile(0.95)
		return max(latencyRatio*p95, p95+minLatencyRiseMs)
	}
	target := newAggregator(aggOptions{by: ByEndpoint, series: tw, buckets: onsetBuckets, evidence: true, slowAt: slowAt})
	if err := scan(ctx, src, tw, q.Match, false, func(r *sdk.Record) bool { target.add(r); return true }); err != nil {
		return AnomalyResult{}, fmt.Errorf("analysis: anomalies, target: %w", err)
	}
	learnEndpoints(base, target)

	d := detector{minCalls: minCalls, lenB: minutes(bw), lenT: minutes(tw), tw: tw, width: target.width}
	eps := map[groupKey]*endpointState{}
	for _, a := range []*aggregator{base, target} {
		for k := range a.groups {
			if eps[k] == nil {
				eps[k] = &endpointState{key: k, label: k.group(ByEndpoint).Key, base: base.groups[k], target: target.groups[k]}
			}
		}
	}
	var all []*candidate
	for _, ep := range eps {
		ep.cands = d.detect(ep)
		all = append(all, ep.cands...)
	}
	linkCauses(eps, d.tolerance())
	for _, ep := range eps {
		ep.finalScore()
	}

	res := AnomalyResult{Baseline: bw, Target: tw, EndpointsCompared: len(eps), Anomalies: []Anomaly{}, RootCauses: []string{},
		Truncated: base.untracked > 0 || target.untracked > 0}
	var roots []*endpointState
	for _, ep := range eps {
		if ep.degraded && ep.cause == nil {
			roots = append(roots, ep)
		}
	}
	slices.SortFunc(roots, func(a, b *endpointState) int {
		return cmp.Or(cmpDesc(a.score, b.score), strings.Compare(a.label, b.label))
	})
	for _, r := range roots[:min(len(roots), maxRootCauses)] {
		res.RootCauses = append(res.RootCauses, r.label)
	}
	slices.SortFunc(all, func(a, b *candidate) int {
		// An endpoint can have several new_status anomalies of equal
		// severity; their status codes keep the order stable.
		return cmp.Or(cmpDesc(a.Severity, b.Severity), strings.Compare(a.Key, b.Key), strings.Compare(a.Kind, b.Kind),
			cmp.Compare(firstStatus(a), firstStatus(b)))
	})
	limit := capLimit(q.Limit, DefaultAnomalyLimit, MaxAnomalyLimit)
	if len(all) > limit {
		all, res.Truncated = all[:limit], true
	}
	for _, c := range all {
		if c.ep.degraded && c.ep.cause == nil && c.degrades() {
			c.RootCause = true
		}
		if c.ep.cause != nil {
			c.LikelyCausedBy = c.ep.cause.label
		}
		c.Explains = c.ep.explains
		c.Severity, c.BaseSeverity = round(c.Severity, 3), round(c.BaseSeverity, 3)
		res.Anomalies = append(res.Anomalies, c.Anomaly)
	}
	res.Summary = anomalySummary(res)
	return res, nil
}

// detector holds what detection needs besides the endpoint.
type detector struct {
	minCalls   int
	lenB, lenT float64 // window lengths in minutes
	tw         Window
	width      float64 // onset step in ns
}

func (d detector) tolerance() int64 { return int64(d.width) }

func weight(n int) float64 { return math.Log10(10 + float64(n)) }

func isDegradation(kind string) bool { return kind == KindErrorRate || kind == KindLatency }

// detect finds the anomalies of one endpoint and their onsets.
func (d detector) detect(ep *endpointState) []*candidate {
	empty := &agg{lat: newSketch(0, groupAlpha)}
	b, t := ep.base, ep.target
	if b == nil {
		b = empty
	}
	if t == nil {
		t = empty
	}
	group := ep.key.group(ByEndpoint)
	mk := func(kind string, sev float64, detail string) *candidate {
		return &candidate{ep: ep, Anomaly: Anomaly{
			Kind: kind, Group: group, Baseline: sideOf(b, d.lenB), Target: sideOf(t, d.lenT),
			Detail: detail, BaseSeverity: sev, Severity: sev, ExampleIDs: []string{},
		}}
	}
	var out []*candidate
	erB, erT := ratio(b.errors, b.count), ratio(t.errors, t.count)
	newStatuses, newIDs := d.newStatuses(b, t)

	if rise := erT - erB; t.errors >= minErrors && rise >= minErrorRise && erT >= 2*erB {
		c := mk(KindErrorRate, 10*rise*weight(t.errors), fmt.Sprintf("error rate %s → %s (%d of %d calls failed)", pct(erB), pct(erT), t.errors, t.count))
		if b.count == 0 {
			c.Detail += "; endpoint new in the target window"
		}
		c.ExampleIDs = append(c.ExampleIDs, t.ev.failIDs...)
		c.NewStatuses = newStatuses
		if len(newStatuses) > 0 {
			c.Detail += "; new status " + statusList(newStatuses)
		}
		c.onset = d.onset(t, erB, erT, func(c *cell) (int32, int64) { return c.errors, c.firstFail })
		out = append(out, c)
	} else if len(newStatuses) > 0 {
		for i, s := range newStatuses {
			w := 3.0
			if newIDs[i].failed > 0 {
				w = 10
			}
			c := mk(KindNewStatus, w*ratio(s.Count, t.count)*weight(s.Count),
				fmt.Sprintf("status %s on %d of %d calls, never seen in the baseline", s, s.Count, t.count))
			c.NewStatuses = []StatusCount{s}
			c.ExampleIDs = append(c.ExampleIDs, newIDs[i].ids...)
			if newIDs[i].failed > 0 {
				// The onset is the status's first call: it was never
				// seen before.
				c.failing = true
				if t.ev != nil {
					c.onset = t.ev.statusFirst[StatusCount{Protocol: s.Protocol, Status: s.Status}]
				}
			}
			out = append(out, c)
		}
	}

	if b.lat.n >= d.minCalls && t.lat.n >= d.minCalls {
		p95B, p95T := b.lat.quantile(0.95), t.lat.quantile(0.95)
		if p95T >= latencyRatio*p95B && p95T-p95B >= minLatencyRiseMs {
			c := mk(KindLatency, 2*math.Log2((p95T+1)/(p95B+1))*weight(t.lat.n),
				fmt.Sprintf("p95 latency %s → %s (p50 %s → %s)", ms(round(p95B, 3)), ms(round(p95T, 3)), ms(round(b.lat.quantile(0.5), 3)), ms(round(t.lat.quantile(0.5), 3))))
			for _, s := range t.ev.slowest {
				c.ExampleIDs = append(c.ExampleIDs, s.id)
			}
			slowFrac := 0.0
			for i := range t.series {
				slowFrac += float64(t.series[i].slow)
			}
			slowFrac /= float64(max(t.lat.n, 1))
			// Before the change about 5% of calls exceed a threshold above
			// the baseline p95.
			c.onset = d.onset(t, 0.05, slowFrac, func(c *cell) (int32, int64) { return c.slow, c.firstSlow })
			out = append(out, c)
		}
	}

	expected := float64(b.count) * d.lenT / d.lenB
	volRatio := (float64(t.count) + 1) / (expected + 1)
	switch {
	case t.count >= d.minCalls && volRatio >= volumeRatio:
		detail := fmt.Sprintf("%d calls, %s expected from the baseline rate (%s/min → %s/min)", t.count, fmtFloat(expected), fmtFloat(round(float64(b.count)/d.lenB, 3)), fmtFloat(round(float64(t.count)/d.lenT, 3)))
		if b.count == 0 {
			detail = fmt.Sprintf("%d calls to an endpoint the baseline never saw", t.count)
		}
		out = append(out, mk(KindVolumeSpike, math.Log2(volRatio)*weight(t.count), detail))
	case expected >= float64(d.minCalls) && volRatio <= 1/volumeRatio:
		detail := fmt.Sprintf("%d calls, %s expected from the baseline rate", t.count, fmtFloat(expected))
		if t.count == 0 {
			detail = fmt.Sprintf("no calls; the baseline rate predicts %s", fmtFloat(expected))
		}
		out = append(out, mk(KindVolumeDrop, -math.Log2(volRatio)*weight(int(expected)), detail))
	}

	for _, c := range out {
		if c.degrades() {
			ep.degraded = true
			if c.onset != 0 {
				on := time.Unix(0, c.onset).UTC()
				c.Onset = &on
				if ep.onset == 0 || c.onset < ep.onset {
					ep.onset = c.onset
				}
				// Earlier onsets weigh more: up to 1.5× at the window start.
				left := float64(d.tw.End.UnixNano()-c.onset) / float64(max(d.tw.End.UnixNano()-d.tw.Start.UnixNano(), 1))
				c.Severity = c.BaseSeverity * (1 + 0.5*min(max(left, 0), 1))
			}
		}
	}
	return out
}

// newStatuses lists the status codes of t that b never saw, when b had
// traffic to compare with, most frequent first.
func (d detector) newStatuses(b, t *agg) ([]StatusCount, []statusTally) {
	if b.count < d.minCalls {
		return nil, nil
	}
	var out []StatusCount
	var tallies []statusTally
	for _, s := range t.topStatuses(maxStatuses) {
		seen := slices.ContainsFunc(b.statuses, func(x statusTally) bool { return x.status == s.status && x.proto == s.proto })
		if !seen && s.n >= minErrors {
			out = append(out, StatusCount{Protocol: s.proto, Status: s.status, Count: s.n})
			tallies = append(tallies, s)
		}
	}
	return out, tallies
}

// onset finds when an indicator (failures, slow calls) rose from rate
// before to rate after, by CUSUM over the target's steps: with k between
// the two rates, the sum S = max(0, S + x − k·n) drifts down before the
// change and up after it, and the change is where the run reaching the
// highest S began. It returns the first flagged call in that step, in unix
// nanos, or 0.
func (d detector) onset(t *agg, before, after float64, x func(*cell) (int32, int64)) int64 {
	k := (before + after) / 2
	s, best, start, bestStart := 0.0, 0.0, 0, -1
	for i := range t.series {
		c := &t.series[i]
		n, _ := x(c)
		s += float64(n) - k*float64(c.count)
		if s <= 0 {
			s, start = 0, i+1
			continue
		}
		if s > best {
			best, bestStart = s, start
		}
	}
	if bestStart < 0 {
		return 0
	}
	for i := bestStart; i < len(t.series); i++ {
		if n, first := x(&t.series[i]); n > 0 {
			return first
		}
	}
	return 0
}

// linkCauses points each degraded endpoint at the degraded endpoint its
// server calls whose onset is earliest (and no later than its own plus
// tol). A link that would close a cycle (services calling each other) is
// not made.
func linkCauses(eps map[groupKey]*endpointState, tol int64) {
	var degraded []*endpointState
	for _, ep := range eps {
		if ep.degraded {
			degraded = append(degraded, ep)
		}
	}
	slices.SortFunc(degraded, func(a, b *endpointState) int {
		return cmp.Or(cmp.Compare(onsetOrMax(a), onsetOrMax(b)), strings.Compare(a.label, b.label))
	})
	for _, e := range degraded {
		for _, f := range degraded {
			if f == e || f.target == nil || f.target.ev == nil {
				continue
			}
			if !calls(e, f) {
				continue
			}
			if onsetOrMax(f) > onsetOrMax(e)+tol || reaches(f, e) {
				continue
			}
			// degraded is in onset order, so the first match is the
			// earliest.
			e.cause = f
			f.explains = append(f.explains, e.label)
			break
		}
	}
}

// calls reports whether e's server is among f's clients, by node or by
// any IP e's server answered on.
func calls(e, f *endpointState) bool {
	clients := f.target.ev.clients
	if _, ok := clients[e.key.srv]; ok {
		return true
	}
	if e.target == nil || e.target.ev == nil {
		return false
	}
	return slices.ContainsFunc(e.target.ev.serverIPs, func(ip string) bool {
		_, ok := clients[node{ip: ip}]
		return ok
	})
}

// reaches reports whether following from's causes leads to to.
func reaches(from, to *endpointState) bool {
	for x := from; x != nil; x = x.cause {
		if x == to {
			return true
		}
	}
	return false
}

func onsetOrMax(e *endpointState) int64 {
	if e.onset == 0 {
		return math.MaxInt64 / 2
	}
	return e.onset
}

// finalScore caps e's anomalies below its cause's, following the chain
// (acyclic by construction).
func (e *endpointState) finalScore() float64 {
	if e.scored {
		return e.score
	}
	capAt := math.Inf(1)
	if e.cause != nil {
		capAt = causeDiscount * e.cause.finalScore()
	}
	for _, c := range e.cands {
		c.Severity = min(c.Severity, capAt)
		if c.degrades() {
			e.score = max(e.score, c.Severity)
		}
	}
	e.scored = true
	return e.score
}

// firstStatus is the first new status code of an anomaly, 0 if none.
func firstStatus(c *candidate) int {
	if len(c.NewStatuses) == 0 {
		return 0
	}
	return c.NewStatuses[0].Status
}

func statusList(s []StatusCount) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = fmt.Sprintf("%s (%d calls)", x, x.Count)
	}
	return strings.Join(parts, ", ")
}

func fmtFloat(v float64) string { return fmt.Sprintf("%.4g", v) }

func anomalySummary(r AnomalyResult) string {
	if len(r.Anomalies) == 0 {
		return fmt.Sprintf("no anomalies in %s against baseline %s (%d endpoints compared)", r.Target, r.Baseline, r.EndpointsCompared)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d anomalies in %s against baseline %s", len(r.Anomalies), r.Target, r.Baseline)
	if r.Truncated {
		b.WriteString(" (more not listed)")
	}
	a := r.Anomalies[0]
	fmt.Fprintf(&b, "; most severe: %s on %s: %s", a.Kind, a.Key, a.Detail)
	if len(r.RootCauses) > 0 {
		fmt.Fprintf(&b, "; likely root cause: %s", join(r.RootCauses, 3))
	}
	return b.String()
}
