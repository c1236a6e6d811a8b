package analysis

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// GroupBy says what Stats and Compare group records by.
type GroupBy string

// The groupings. An endpoint is what a client calls: the server, the
// protocol, the method and the templated path.
const (
	ByEndpoint GroupBy = "endpoint" // server (name or ip:port) + protocol + method + Template(path)
	ByServer   GroupBy = "server"   // server (name or ip:port) + protocol
	ByClient   GroupBy = "client"   // client node (name or ip; ports are ephemeral)
	ByProtocol GroupBy = "protocol" // protocol
)

func (g GroupBy) check() (GroupBy, error) {
	switch g {
	case "":
		return ByEndpoint, nil
	case ByEndpoint, ByServer, ByClient, ByProtocol:
		return g, nil
	}
	return g, fmt.Errorf("%w: unknown group_by %q (want endpoint, server, client or protocol)", ErrBadQuery, string(g))
}

// Bounds on the aggregation state, whatever the window holds.
const (
	// maxGroups caps the groups tracked in one scan; records of further
	// groups are counted as untracked. Templating keeps real traffic far
	// below it; it guards against paths that defeat templating.
	maxGroups = 5000
	// maxStatuses caps the distinct (protocol, status code) pairs tracked
	// per group.
	maxStatuses = 16
	// groupExact is how many latencies a group keeps before its sketch
	// turns approximate; cellExact is the same for one time-series cell.
	groupExact = 1024
	cellExact  = 16
	// groupAlpha and cellAlpha are the sketches' relative errors: 1% for
	// the figures, 5% for the time series, whose cells are many.
	groupAlpha = 0.01
	cellAlpha  = 0.05
	// maxExamples is how many example record ids evidence keeps.
	maxExamples = 3
	// maxClients caps the client nodes remembered per group.
	maxClients = 64
)

// Group names what a row of figures is about. Which fields are set
// depends on the grouping.
type Group struct {
	// Key identifies the group in one string, e.g.
	// "http 10.0.0.3:80 GET /api/orders/{id}"; other results refer to
	// groups by it.
	Key      string `json:"key"`
	Protocol string `json:"protocol,omitempty"`
	// Server is the called side: "namespace/name:port" when the capture
	// source named the workload, else ip:port.
	Server string `json:"server,omitempty"`
	// Client is the calling node: its name or IP.
	Client string `json:"client,omitempty"`
	Method string `json:"method,omitempty"`
	// Path is the templated path (see Template).
	Path string `json:"path,omitempty"`
}

// Figures are the aggregate numbers of a set of calls.
type Figures struct {
	Count  int `json:"count"`
	Errors int `json:"errors"`
	// ErrorRate is Errors/Count: calls that failed by their protocol's
	// rules (HTTP status ≥ 400, DNS error codes, SQL errors, ...).
	ErrorRate float64 `json:"error_rate"`
	// NoResponse counts calls whose response the capture did not see.
	NoResponse    int           `json:"no_response"`
	Latency       Latency       `json:"latency_ms"`
	RequestBytes  int64         `json:"request_bytes"`
	ResponseBytes int64         `json:"response_bytes"`
	Statuses      []StatusCount `json:"statuses,omitempty"`
	FirstSeen     time.Time     `json:"first_seen,omitzero"`
	LastSeen      time.Time     `json:"last_seen,omitzero"`
}

// Latency summarises elapsed_ms over the calls that had a response.
// Percentiles are nearest-rank; they are exact up to 1,024 samples per
// group and within 1% beyond (Approximate is then set).
type Latency struct {
	Samples     int     `json:"samples"`
	P50         float64 `json:"p50"`
	P95         float64 `json:"p95"`
	P99         float64 `json:"p99"`
	Max         float64 `json:"max"`
	Approximate bool    `json:"approximate,omitempty"`
}

// StatusCount is how many calls of one protocol got one status code.
// Figures count each (protocol, status) pair apart, most frequent first: a
// code means something different per protocol (HTTP 503, DNS rcode 3,
// MySQL error 1045), so a group of several protocols never adds them up.
type StatusCount struct {
	// Protocol is the calls' protocol; Status is in its terms (HTTP
	// status, gRPC status, DNS rcode, MySQL or PostgreSQL error code,
	// ...).
	Protocol string `json:"protocol"`
	Status   int    `json:"status"`
	Count    int    `json:"count"`
}

// String is the pair as "http:503".
func (s StatusCount) String() string { return s.Protocol + ":" + strconv.Itoa(s.Status) }

// Bucket is one step of a time series.
type Bucket struct {
	Start  time.Time `json:"start"`
	Count  int       `json:"count"`
	Errors int       `json:"errors"`
	// P95 is the bucket's 95th-percentile latency in ms (within 5%).
	P95 float64 `json:"p95_ms"`
}

// groupKey is a group's identity as a comparable struct, so looking a
// record's group up allocates nothing.
type groupKey struct {
	proto, method, path string
	srv                 node
	port                uint16
	cli                 node
}

func (k groupKey) group(by GroupBy) Group {
	g := Group{Protocol: k.proto, Method: k.method, Path: k.path}
	if by == ByEndpoint || by == ByServer {
		g.Server = serverLabel(k.srv, k.port)
	}
	if by == ByClient {
		g.Client = k.cli.String()
	}
	var parts []string
	for _, p := range []string{g.Protocol, g.Server, g.Client, g.Method, g.Path} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	g.Key = strings.Join(parts, " ")
	return g
}

// cell is one time-series step of one group.
type cell struct {
	count, errors, slow  int32
	firstFail, firstSlow int64 // unix nanos of the first failed/slow call; 0 if none
	lat                  *sketch
}

type statusTally struct {
	proto             string
	status, n, failed int
	ids               []string
}

type idValue struct {
	id string
	v  float64
}

// evidence is what Anomalies keeps beyond the figures: examples and who
// called.
type evidence struct {
	failIDs []string
	slowest []idValue // slowest first
	// clients holds each calling node, and for a named one its IP node
	// too, so that a cascade is traced even when the capture source named
	// a workload on one side of a call and not the other.
	clients map[node]struct{}
	// serverIPs are the addresses the group's server answered on.
	serverIPs []string
	// statusFirst is when each status (by protocol) was first answered,
	// in unix nanos: the onset of a new status.
	statusFirst map[StatusCount]int64
}

// noteStatus keeps the earliest time of status k (Count zero).
func (e *evidence) noteStatus(k StatusCount, at int64) {
	if e.statusFirst == nil {
		e.statusFirst = map[StatusCount]int64{}
	}
	if prev, ok := e.statusFirst[k]; !ok || at < prev {
		if ok || len(e.statusFirst) < maxStatuses {
			e.statusFirst[k] = at
		}
	}
}

// agg accumulates one group.
type agg struct {
	key                 groupKey
	count, errors       int
	noResp              int
	reqBytes, respBytes int64
	lat                 sketch
	statuses            []statusTally
	first, last         int64
	series              []cell
	slowAt              float64 // latency above which a call counts as slow; 0: not counted
	ev                  *evidence
	// parts are the encoded latency sketches of the rollups merged into
	// g. Merging them into lat, and into the series cells, waits until a
	// figure needs them (settle, cellSketches): most groups of a long
	// window are counted and ranked but never shown.
	parts   []cellPart
	settled bool
}

// cellPart is one rollup's latencies (a sketch encoded by appendSketch, α
// groupAlpha), counted in one series cell.
type cellPart struct {
	bucket int
	lat    []byte
}

// settle merges g's rollup latencies into g.lat. Every reader of g.lat
// on a group that may come from rollups calls it first.
func (g *agg) settle() {
	if g.settled {
		return
	}
	g.settled = true
	for _, p := range g.parts {
		// Parts were checked when their rollup was decoded.
		_ = g.lat.mergeEncoded(p.lat, groupAlpha)
	}
}

// aggOptions configures an aggregator.
type aggOptions struct {
	by GroupBy
	// series, when buckets > 0, is the window the time series divides.
	series  Window
	buckets int
	// cellLatency keeps a latency sketch per series cell (for p95 per
	// bucket).
	cellLatency bool
	// evidence keeps example ids, status ids and client nodes.
	evidence bool
	// slowAt gives a group's slow-call threshold, counted per cell.
	slowAt func(groupKey) float64
	// statusCap is how many status codes a group tracks; 0 means
	// maxStatuses.
	statusCap int
}

// aggregator groups records and accumulates each group, plus one
// accumulator per protocol and one for everything.
type aggregator struct {
	opt       aggOptions
	tmpl      *templater
	groups    map[groupKey]*agg
	protos    map[string]*agg
	total     *agg
	untracked int
	start     int64
	width     float64 // bucket width in ns
	// order lists the groups in the order they were created, which is the
	// order of their first records; rollups keep it so that merging them
	// tracks the same groups under maxGroups as one scan would.
	order []*agg
	// last and lastProto are the group and protocol row of the last
	// record added (addRows).
	last, lastProto *agg
}

func newAggregator(opt aggOptions) *aggregator {
	a := &aggregator{opt: opt, tmpl: newTemplater(), groups: map[groupKey]*agg{}, protos: map[string]*agg{}}
	if opt.buckets > 0 && opt.series.Duration() > 0 {
		a.start = opt.series.Start.UnixNano()
		a.width = float64(opt.series.Duration()) / float64(opt.buckets)
	} else {
		a.opt.buckets = 0
	}
	if a.opt.statusCap == 0 {
		a.opt.statusCap = maxStatuses
	}
	a.total = a.newAgg(groupKey{})
	return a
}

func (a *aggregator) newAgg(k groupKey) *agg {
	g := &agg{key: k, lat: newSketch(groupExact, groupAlpha)}
	if a.opt.buckets > 0 {
		g.series = make([]cell, a.opt.buckets)
	}
	if a.opt.evidence {
		g.ev = &evidence{clients: map[node]struct{}{}}
	}
	if a.opt.slowAt != nil {
		g.slowAt = a.opt.slowAt(k)
	}
	return g
}

// keyOf is the group of r under the aggregator's grouping.
func (a *aggregator) keyOf(r *sdk.Record) groupKey {
	switch a.opt.by {
	case ByProtocol:
		return groupKey{proto: r.Protocol}
	case ByClient:
		return groupKey{cli: nodeOf(&r.Src)}
	case ByServer:
		return groupKey{proto: r.Protocol, srv: nodeOf(&r.Dst), port: r.Dst.Port}
	}
	return groupKey{proto: r.Protocol, method: r.Method, path: a.tmpl.get(r.Protocol, r.Path), srv: nodeOf(&r.Dst), port: r.Dst.Port}
}

func (a *aggregator) add(r *sdk.Record) { a.addRows(r) }

// addRows adds r and returns the rows it went to besides the total: its
// group (nil when maxGroups left it untracked) and its protocol's.
func (a *aggregator) addRows(r *sdk.Record) (g, p *agg) {
	k := a.keyOf(r)
	// Records of one group come in runs (a connection's calls, a batch
	// of one stream): comparing with the last group's key is cheaper than
	// hashing it.
	if g = a.last; g == nil || g.key != k {
		g = a.groups[k]
		if g == nil && len(a.groups) < maxGroups {
			g = a.newAgg(k)
			a.groups[k] = g
			a.order = append(a.order, g)
		}
		if g != nil {
			a.last = g
		}
	}
	if g == nil {
		a.untracked++
	} else {
		a.addTo(g, r)
	}
	if p = a.lastProto; p == nil || p.key.proto != r.Protocol {
		p = a.protos[r.Protocol]
		if p == nil {
			p = a.newAgg(groupKey{proto: r.Protocol})
			a.protos[r.Protocol] = p
		}
		a.lastProto = p
	}
	a.addTo(p, r)
	a.addTo(a.total, r)
	return g, p
}

func (a *aggregator) addTo(g *agg, r *sdk.Record) {
	ts := r.Timestamp.UnixNano()
	if g.count == 0 || ts < g.first {
		g.first = ts
	}
	g.last = max(g.last, ts)
	g.count++
	if r.Failed {
		g.errors++
	}
	g.reqBytes += wireSize(r.Request)
	g.respBytes += wireSize(r.Response)
	if !hasResponse(r) {
		g.noResp++
	} else {
		g.countStatus(r, a.opt.evidence, a.opt.statusCap)
	}
	slow := false
	if r.ElapsedMs != nil {
		g.lat.add(*r.ElapsedMs)
		slow = g.slowAt > 0 && *r.ElapsedMs > g.slowAt
	}
	if g.series != nil {
		b := int(float64(ts-a.start) / a.width)
		c := &g.series[min(max(b, 0), len(g.series)-1)]
		c.count++
		if r.Failed {
			c.errors++
			if c.firstFail == 0 {
				c.firstFail = ts
			}
		}
		if slow {
			c.slow++
			if c.firstSlow == 0 {
				c.firstSlow = ts
			}
		}
		if a.opt.cellLatency && r.ElapsedMs != nil {
			if c.lat == nil {
				s := newSketch(cellExact, cellAlpha)
				c.lat = &s
			}
			c.lat.add(*r.ElapsedMs)
		}
	}
	if g.ev != nil {
		g.ev.note(r)
	}
}

func (g *agg) countStatus(r *sdk.Record, ids bool, limit int) {
	for i := range g.statuses {
		s := &g.statuses[i]
		if s.status == r.Status && s.proto == r.Protocol {
			s.n++
			if r.Failed {
				s.failed++
			}
			if ids && len(s.ids) < maxExamples {
				s.ids = append(s.ids, r.ID)
			}
			return
		}
	}
	if len(g.statuses) < limit {
		t := statusTally{proto: r.Protocol, status: r.Status, n: 1}
		if r.Failed {
			t.failed = 1
		}
		if ids {
			t.ids = []string{r.ID}
		}
		g.statuses = append(g.statuses, t)
	}
}

func (e *evidence) note(r *sdk.Record) {
	if r.Failed && len(e.failIDs) < maxExamples {
		e.failIDs = append(e.failIDs, r.ID)
	}
	if r.ElapsedMs != nil {
		v := *r.ElapsedMs
		if len(e.slowest) < maxExamples || v > e.slowest[len(e.slowest)-1].v {
			i, _ := slices.BinarySearchFunc(e.slowest, v, func(x idValue, v float64) int {
				// Descending order: larger values first.
				switch {
				case x.v > v:
					return -1
				case x.v < v:
					return 1
				}
				return 0
			})
			e.slowest = slices.Insert(e.slowest, i, idValue{r.ID, v})
			if len(e.slowest) > maxExamples {
				e.slowest = e.slowest[:maxExamples]
			}
		}
	}
	if len(e.clients) < maxClients {
		e.clients[nodeOf(&r.Src)] = struct{}{}
		e.clients[node{ip: r.Src.IP}] = struct{}{}
	}
	e.serverIPs = addLabel(e.serverIPs, r.Dst.IP, maxEdgeLabels)
	e.noteStatus(StatusCount{Protocol: r.Protocol, Status: r.Status}, r.Timestamp.UnixNano())
}

// figures renders g's numbers, listing the topStatuses most frequent
// status codes.
func (g *agg) figures(topStatuses int) Figures {
	g.settle()
	f := Figures{
		Count: g.count, Errors: g.errors, ErrorRate: round(ratio(g.errors, g.count), 4),
		NoResponse: g.noResp, RequestBytes: g.reqBytes, ResponseBytes: g.respBytes,
		Latency: latencyOf(&g.lat),
	}
	if g.count > 0 {
		f.FirstSeen = time.Unix(0, g.first).UTC()
		f.LastSeen = time.Unix(0, g.last).UTC()
	}
	for _, s := range g.topStatuses(topStatuses) {
		f.Statuses = append(f.Statuses, StatusCount{Protocol: s.proto, Status: s.status, Count: s.n})
	}
	return f
}

func (g *agg) topStatuses(n int) []statusTally {
	s := slices.Clone(g.statuses)
	slices.SortFunc(s, func(a, b statusTally) int {
		if a.n != b.n {
			return b.n - a.n
		}
		if a.proto != b.proto {
			return strings.Compare(a.proto, b.proto)
		}
		return a.status - b.status
	})
	return s[:min(n, len(s))]
}

func latencyOf(s *sketch) Latency {
	if s.n == 0 {
		return Latency{}
	}
	return Latency{
		Samples: s.n, P50: round(s.quantile(0.50), 3), P95: round(s.quantile(0.95), 3),
		P99: round(s.quantile(0.99), 3), Max: round(s.max, 3), Approximate: s.approximate(),
	}
}

func (a *aggregator) seriesOf(g *agg) []Bucket {
	if g.series == nil {
		return nil
	}
	merged := g.cellSketches()
	out := make([]Bucket, len(g.series))
	for i := range g.series {
		c := &g.series[i]
		out[i] = Bucket{
			Start: time.Unix(0, a.start+int64(math.Round(float64(i)*a.width))).UTC(),
			Count: int(c.count), Errors: int(c.errors),
		}
		lat := c.lat
		if merged != nil && merged[i] != nil {
			lat = merged[i]
		}
		if lat != nil {
			out[i].P95 = round(lat.quantile(0.95), 3)
		}
	}
	return out
}

// bucketAt is the series cell of a time in unix nanos.
func (a *aggregator) bucketAt(ts int64) int {
	if a.opt.buckets == 0 {
		return 0
	}
	b := int(float64(ts-a.start) / a.width)
	return min(max(b, 0), a.opt.buckets-1)
}

// mergeRows adds a decoded rollup, whose records fall in series cell
// bucket. Its groups come in their creation order, so that the groups
// tracked under maxGroups are those a scan of the same records would
// track.
func (a *aggregator) mergeRows(r *rollupRows, bucket int) {
	a.total.mergeRow(&r.rows[0], bucket, a.opt.statusCap)
	for i := 1; i <= r.protos; i++ {
		e := &r.rows[i]
		p := a.protos[e.key.proto]
		if p == nil {
			p = a.newAgg(groupKey{proto: e.key.proto})
			a.protos[e.key.proto] = p
		}
		p.mergeRow(e, bucket, a.opt.statusCap)
	}
	for i := 1 + r.protos; i < len(r.rows); i++ {
		e := &r.rows[i]
		g := a.groups[e.key]
		if g == nil && len(a.groups) < maxGroups {
			g = a.newAgg(e.key)
			a.groups[e.key] = g
			a.order = append(a.order, g)
		}
		if g == nil {
			a.untracked += e.count
			continue
		}
		g.mergeRow(e, bucket, a.opt.statusCap)
	}
	a.untracked += r.untracked
}

// settle merges the rollup latencies of every row.
func (a *aggregator) settle() {
	a.total.settle()
	for _, g := range a.groups {
		g.settle()
	}
	for _, p := range a.protos {
		p.settle()
	}
}

// mergeRow adds a row of a rollup to g. The figures equal those of adding
// the row's records one by one, up to the caps on status codes (g tracks
// up to statusCap); the latencies wait in parts (see settle).
func (g *agg) mergeRow(e *rollRow, bucket, statusCap int) {
	if e.count == 0 {
		return
	}
	if g.count == 0 || e.first < g.first {
		g.first = e.first
	}
	g.last = max(g.last, e.last)
	g.count += e.count
	g.errors += e.errors
	g.noResp += e.noResp
	g.reqBytes += e.reqBytes
	g.respBytes += e.respBytes
	for _, t := range e.statuses {
		i := slices.IndexFunc(g.statuses, func(x statusTally) bool { return x.status == t.status && x.proto == t.proto })
		switch {
		case i >= 0:
			g.statuses[i].n += t.n
			g.statuses[i].failed += t.failed
		case len(g.statuses) < statusCap:
			g.statuses = append(g.statuses, t)
		}
	}
	if g.series != nil {
		c := &g.series[bucket]
		c.count += int32(e.count)
		c.errors += int32(e.errors)
	}
	if e.timed {
		g.parts = append(g.parts, cellPart{bucket: bucket, lat: e.lat})
	}
}

// cellSketches merges the rollup latencies of each series cell, nil
// without any. A cell whose parts all hold exact values gets the same
// sketch a scan builds (α 5%, exact up to 16 values); a cell with a binned
// part (a rollup minute of over 1,024 calls of the row) merges at the
// parts' α of 1% instead, since re-binning at 5% would add the two errors.
func (g *agg) cellSketches() []*sketch {
	if len(g.parts) == 0 {
		return nil
	}
	binned := make([]bool, len(g.series))
	for _, p := range g.parts {
		binned[p.bucket] = binned[p.bucket] || encodedBinned(p.lat)
	}
	out := make([]*sketch, len(g.series))
	for _, p := range g.parts {
		if out[p.bucket] == nil {
			alpha := cellAlpha
			if binned[p.bucket] {
				alpha = groupAlpha
			}
			s := newSketch(cellExact, alpha)
			out[p.bucket] = &s
		}
		_ = out[p.bucket].mergeEncoded(p.lat, groupAlpha) // checked when decoded
	}
	return out
}

// ranked returns the groups by count, then key, so equal counts list in a
// stable order.
func ranked(m map[groupKey]*agg, by GroupBy) []*agg {
	out := make([]*agg, 0, len(m))
	for _, g := range m {
		out = append(out, g)
	}
	keys := make(map[*agg]string, len(out))
	for _, g := range out {
		keys[g] = g.key.group(by).Key
	}
	slices.SortFunc(out, func(a, b *agg) int {
		if a.count != b.count {
			return b.count - a.count
		}
		return strings.Compare(keys[a], keys[b])
	})
	return out
}
