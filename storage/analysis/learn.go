package analysis

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kubeshark-wasm/kubeshark/storage/templates"
)

// learnEndpoints replaces the path of every HTTP-family endpoint group and
// the key of every Redis group of the aggregators with its learned template
// (templates.Learner), learned per server over the groups of all of them so
// that two windows compared map the same paths the same way, and merges
// the groups that come to share a key. It must run before any group is
// settled or read. Groupings other than by endpoint have no paths and are
// left alone.
func learnEndpoints(aggs ...*aggregator) {
	var l templates.Learner
	for _, a := range aggs {
		if a == nil || a.opt.by != ByEndpoint {
			return
		}
		for _, g := range a.order {
			l.AddShaped(g.key.proto, g.key.srv.String(), g.key.port, g.key.path)
		}
	}
	learned := l.Learn()
	for _, a := range aggs {
		groups := make(map[groupKey]*agg, len(a.groups))
		order := a.order[:0]
		for _, g := range a.order {
			g.key.path = learned.OfShaped(g.key.proto, g.key.srv.String(), g.key.port, g.key.path)
			if into := groups[g.key]; into != nil {
				into.absorb(g)
				continue
			}
			groups[g.key] = g
			order = append(order, g)
		}
		a.groups, a.order = groups, order
	}
}

// absorb adds the calls of o, a group of the same aggregator, to g: the
// figures are those of one group that had counted both, up to the caps on
// status codes and examples.
func (g *agg) absorb(o *agg) {
	if o.count == 0 {
		return
	}
	if g.count == 0 || o.first < g.first {
		g.first = o.first
	}
	g.last = max(g.last, o.last)
	g.count += o.count
	g.errors += o.errors
	g.noResp += o.noResp
	g.reqBytes += o.reqBytes
	g.respBytes += o.respBytes
	for _, t := range o.statuses {
		i := slices.IndexFunc(g.statuses, func(x statusTally) bool { return x.status == t.status })
		switch {
		case i >= 0:
			s := &g.statuses[i]
			s.n += t.n
			s.failed += t.failed
			for _, id := range t.ids {
				if len(s.ids) < maxExamples {
					s.ids = append(s.ids, id)
				}
			}
		case len(g.statuses) < maxStatuses:
			g.statuses = append(g.statuses, t)
		}
	}
	// Unsettled groups keep their rollup latencies in parts; settled ones
	// (both, in one aggregator) have them in lat already.
	g.lat.merge(&o.lat)
	if !o.settled {
		g.parts = append(g.parts, o.parts...)
	}
	for i := range g.series {
		if i >= len(o.series) {
			break
		}
		c, oc := &g.series[i], &o.series[i]
		c.count += oc.count
		c.errors += oc.errors
		c.slow += oc.slow
		c.firstFail = firstNonZero(c.firstFail, oc.firstFail)
		c.firstSlow = firstNonZero(c.firstSlow, oc.firstSlow)
		switch {
		case oc.lat == nil:
		case c.lat == nil:
			c.lat = oc.lat
		default:
			c.lat.merge(oc.lat)
		}
	}
	if g.ev != nil && o.ev != nil {
		for _, id := range o.ev.failIDs {
			if len(g.ev.failIDs) < maxExamples {
				g.ev.failIDs = append(g.ev.failIDs, id)
			}
		}
		g.ev.slowest = append(g.ev.slowest, o.ev.slowest...)
		slices.SortStableFunc(g.ev.slowest, func(x, y idValue) int {
			switch {
			case x.v > y.v:
				return -1
			case x.v < y.v:
				return 1
			}
			return 0
		})
		if len(g.ev.slowest) > maxExamples {
			g.ev.slowest = g.ev.slowest[:maxExamples]
		}
		for c := range o.ev.clients {
			if len(g.ev.clients) < maxClients {
				g.ev.clients[c] = struct{}{}
			}
		}
		for k, at := range o.ev.statusFirst {
			g.ev.noteStatus(k, at)
		}
		for _, ip := range o.ev.serverIPs {
			g.ev.serverIPs = addLabel(g.ev.serverIPs, ip, maxEdgeLabels)
		}
	}
}

func firstNonZero(a, b int64) int64 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// TemplateSpan is how much of the newest data Templates learns from.
const TemplateSpan = 24 * time.Hour

// Templates learns the endpoint templates of every server in src from
// its stored calls of the last TemplateSpan of data (templates.Learner),
// for the per-call template of filters and listings. It reads the
// per-minute rollups grouped by endpoint where src keeps them
// (rollup.go), so a second call costs the minutes' cache reads, and the
// templates follow the data as it grows: a minute that gains records is
// rolled up again. The span bounds that cost on a store holding weeks; a
// path seen only before it keeps its shape. Only the first 5,000
// endpoint groups are tracked (maxGroups); calls beyond them get their
// shaped template.
func Templates(ctx context.Context, src Source) (*templates.Set, error) {
	w, err := resolve(ctx, src, Window{})
	if err != nil {
		return nil, err
	}
	var l templates.Learner
	if w.Start.IsZero() {
		return l.Learn(), nil
	}
	var asked Window
	if w.Duration() > TemplateSpan {
		w.Start = w.End.Add(-TemplateSpan)
		asked.Start = w.Start
	}
	// Only the groups' keys are learned from, neither a time series nor
	// the edges of a window, so the rollups serve any span of whole
	// minutes: a capture shorter than planSpan's two minutes was read
	// record by record, 6-9% of its import's CPU (BENCHMARKS.md).
	a, err := aggregateMin(ctx, src, asked, w, nil, ByEndpoint, 1)
	if err != nil {
		return nil, fmt.Errorf("analysis: learn templates: %w", err)
	}
	for _, g := range a.order {
		l.AddShaped(g.key.proto, g.key.srv.String(), g.key.port, g.key.path)
	}
	return l.Learn(), nil
}
