package analysis

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// Bounds for ServiceMap and Dependencies.
const (
	DefaultMapLimit = 200
	MaxMapLimit     = 2000
	// maxEdges caps the client→server pairs tracked in one scan.
	maxEdges = 20000
	// maxEdgeLabels caps the protocols, ports and IPs kept per edge.
	maxEdgeLabels   = 8
	maxEdgePorts    = 16
	DefaultMaxDepth = 5
	MaxDepth        = 10
	maxImpact       = 500
)

// Node roles.
const (
	RoleClient = "client"
	RoleServer = "server"
	RoleBoth   = "both"
)

// MapQuery selects what ServiceMap draws.
type MapQuery struct {
	Window Window
	Match  storage.Matcher
	// Limit is how many edges to list, busiest first: 0 means
	// DefaultMapLimit; at most MaxMapLimit. Nodes are those the listed
	// edges touch.
	Limit int
}

// Node is a host in the service map: a named workload, or an IP.
type Node struct {
	// ID is "namespace/name" or "name" when the capture source named the
	// workload, else the IP; edges refer to nodes by it.
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// IPs are the addresses seen for the node (one for an IP node; up to
	// eight for a named one).
	IPs []string `json:"ips,omitempty"`
	// Role is client (only calls), server (only called) or both.
	Role      string   `json:"role"`
	CallsIn   int      `json:"calls_in"`
	CallsOut  int      `json:"calls_out"`
	ErrorsIn  int      `json:"errors_in"`
	ErrorsOut int      `json:"errors_out"`
	Protocols []string `json:"protocols"`
}

// Edge is the traffic from one client node to one server node.
type Edge struct {
	Client        string    `json:"client"`
	Server        string    `json:"server"`
	Protocols     []string  `json:"protocols"`
	Ports         []int     `json:"ports"`
	Calls         int       `json:"calls"`
	Errors        int       `json:"errors"`
	ErrorRate     float64   `json:"error_rate"`
	P50           float64   `json:"p50_ms"`
	P95           float64   `json:"p95_ms"`
	RequestBytes  int64     `json:"request_bytes"`
	ResponseBytes int64     `json:"response_bytes"`
	FirstSeen     time.Time `json:"first_seen"`
	LastSeen      time.Time `json:"last_seen"`
}

// ServiceMapResult is what ServiceMap returns.
type ServiceMapResult struct {
	Window    Window `json:"window"`
	Nodes     []Node `json:"nodes"`
	Edges     []Edge `json:"edges"`
	NodesSeen int    `json:"nodes_seen"`
	EdgesSeen int    `json:"edges_seen"`
	// UntrackedCalls counts calls on edges beyond the tracking cap.
	UntrackedCalls int    `json:"untracked_calls,omitempty"`
	Truncated      bool   `json:"truncated"`
	Summary        string `json:"summary"`
}

type edgeKey struct{ cli, srv node }

type edgeAgg struct {
	key                 edgeKey
	calls, errors       int
	reqBytes, respBytes int64
	lat                 sketch
	protos              []string
	ports               []uint16
	cliIPs, srvIPs      []string
	first, last         int64
}

// graph accumulates edges during one scan.
type graph struct {
	edges     map[edgeKey]*edgeAgg
	untracked int
}

func (g *graph) add(r *sdk.Record) {
	k := edgeKey{nodeOf(&r.Src), nodeOf(&r.Dst)}
	e := g.edges[k]
	if e == nil {
		if len(g.edges) >= maxEdges {
			g.untracked++
			return
		}
		e = &edgeAgg{key: k, lat: newSketch(groupExact, groupAlpha)}
		g.edges[k] = e
	}
	ts := r.Timestamp.UnixNano()
	if e.calls == 0 || ts < e.first {
		e.first = ts
	}
	e.last = max(e.last, ts)
	e.calls++
	if r.Failed {
		e.errors++
	}
	e.reqBytes += wireSize(r.Request)
	e.respBytes += wireSize(r.Response)
	if r.ElapsedMs != nil {
		e.lat.add(*r.ElapsedMs)
	}
	e.protos = addLabel(e.protos, r.Protocol, maxEdgeLabels)
	if !slices.Contains(e.ports, r.Dst.Port) && len(e.ports) < maxEdgePorts {
		e.ports = append(e.ports, r.Dst.Port)
	}
	e.cliIPs = addLabel(e.cliIPs, r.Src.IP, maxEdgeLabels)
	e.srvIPs = addLabel(e.srvIPs, r.Dst.IP, maxEdgeLabels)
}

func addLabel(s []string, v string, capN int) []string {
	if v == "" || len(s) >= capN || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func (e *edgeAgg) edge() Edge {
	ports := make([]int, len(e.ports))
	for i, p := range e.ports {
		ports[i] = int(p)
	}
	slices.Sort(ports)
	protos := slices.Clone(e.protos)
	slices.Sort(protos)
	return Edge{
		Client: e.key.cli.String(), Server: e.key.srv.String(), Protocols: protos, Ports: ports,
		Calls: e.calls, Errors: e.errors, ErrorRate: round(ratio(e.errors, e.calls), 4),
		P50: round(e.lat.quantile(0.5), 3), P95: round(e.lat.quantile(0.95), 3),
		RequestBytes: e.reqBytes, ResponseBytes: e.respBytes,
		FirstSeen: time.Unix(0, e.first).UTC(), LastSeen: time.Unix(0, e.last).UTC(),
	}
}

// scanGraph reads the window's edges.
func scanGraph(ctx context.Context, src Source, w Window, m storage.Matcher) (*graph, error) {
	g := &graph{edges: map[edgeKey]*edgeAgg{}}
	err := scan(ctx, src, w, m, false, func(r *sdk.Record) bool { g.add(r); return true })
	return g, err
}

// rankedEdges lists the edges busiest first.
func (g *graph) rankedEdges() []*edgeAgg {
	out := make([]*edgeAgg, 0, len(g.edges))
	for _, e := range g.edges {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *edgeAgg) int {
		return cmp.Or(b.calls-a.calls, strings.Compare(a.key.cli.String(), b.key.cli.String()), strings.Compare(a.key.srv.String(), b.key.srv.String()))
	})
	return out
}

// nodes builds every node from the tracked edges.
func (g *graph) nodes() map[node]*Node {
	out := map[node]*Node{}
	get := func(n node) *Node {
		x := out[n]
		if x == nil {
			x = &Node{ID: n.String(), Name: n.name, Namespace: n.ns, Protocols: []string{}}
			if n.name == "" {
				x.IPs = []string{n.ip}
			}
			out[n] = x
		}
		return x
	}
	for _, e := range g.edges {
		c, s := get(e.key.cli), get(e.key.srv)
		c.CallsOut += e.calls
		c.ErrorsOut += e.errors
		s.CallsIn += e.calls
		s.ErrorsIn += e.errors
		for _, p := range e.protos {
			s.Protocols = addLabel(s.Protocols, p, maxEdgeLabels)
		}
		if e.key.cli.name != "" {
			for _, ip := range e.cliIPs {
				c.IPs = addLabel(c.IPs, ip, maxEdgeLabels)
			}
		}
		if e.key.srv.name != "" {
			for _, ip := range e.srvIPs {
				s.IPs = addLabel(s.IPs, ip, maxEdgeLabels)
			}
		}
	}
	for _, x := range out {
		switch {
		case x.CallsIn > 0 && x.CallsOut > 0:
			x.Role = RoleBoth
		case x.CallsIn > 0:
			x.Role = RoleServer
		default:
			x.Role = RoleClient
		}
		slices.Sort(x.Protocols)
		slices.Sort(x.IPs)
	}
	return out
}

// ServiceMap draws who calls whom in a window: nodes (workloads by name,
// or IPs) with their roles and call counts, and client→server edges with
// protocols, ports, calls, errors, latency and bytes. It reads no bodies.
func ServiceMap(ctx context.Context, src Source, q MapQuery) (ServiceMapResult, error) {
	w, err := resolve(ctx, src, q.Window)
	if err != nil {
		return ServiceMapResult{}, err
	}
	g, err := scanGraph(ctx, src, w, q.Match)
	if err != nil {
		return ServiceMapResult{}, fmt.Errorf("analysis: service map: %w", err)
	}
	all := g.nodes()
	res := ServiceMapResult{Window: w, NodesSeen: len(all), EdgesSeen: len(g.edges), UntrackedCalls: g.untracked,
		Nodes: []Node{}, Edges: []Edge{}}
	edges := g.rankedEdges()
	limit := capLimit(q.Limit, DefaultMapLimit, MaxMapLimit)
	res.Truncated = len(edges) > limit || g.untracked > 0
	listed := map[node]bool{}
	for _, e := range edges[:min(limit, len(edges))] {
		res.Edges = append(res.Edges, e.edge())
		listed[e.key.cli], listed[e.key.srv] = true, true
	}
	for n := range listed {
		res.Nodes = append(res.Nodes, *all[n])
	}
	slices.SortFunc(res.Nodes, func(a, b Node) int {
		return cmp.Or((b.CallsIn+b.CallsOut)-(a.CallsIn+a.CallsOut), strings.Compare(a.ID, b.ID))
	})
	res.Summary = mapSummary(res)
	return res, nil
}

func mapSummary(r ServiceMapResult) string {
	if r.EdgesSeen == 0 {
		return "no calls in " + r.Window.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d nodes and %d client→server edges in %s", r.NodesSeen, r.EdgesSeen, r.Window)
	if r.Truncated {
		fmt.Fprintf(&b, " (%d busiest edges listed)", len(r.Edges))
	}
	e := r.Edges[0]
	fmt.Fprintf(&b, "; busiest %s → %s (%s, %d calls, %s failed, p95 %s)", e.Client, e.Server, strings.Join(e.Protocols, "+"), e.Calls, pct(e.ErrorRate), ms(e.P95))
	var failing []string
	for _, e := range r.Edges {
		if e.Errors > 0 && e.ErrorRate >= 0.05 {
			failing = append(failing, fmt.Sprintf("%s → %s %s", e.Client, e.Server, pct(e.ErrorRate)))
		}
	}
	if len(failing) > 0 {
		fmt.Fprintf(&b, "; failing edges: %s", join(failing, 5))
	}
	return b.String()
}

// DependencyQuery names the node Dependencies looks at.
type DependencyQuery struct {
	// Node is a workload name ("name" or "namespace/name"), an IP, or an
	// ip:port / name:port (the port is ignored: nodes are hosts).
	Node   string
	Window Window
	Match  storage.Matcher
	// MaxDepth bounds how far up the impact walk goes: 0 means
	// DefaultMaxDepth; at most MaxDepth.
	MaxDepth int
}

// ImpactNode is a node that depends on the examined one, directly or
// through others.
type ImpactNode struct {
	Node string `json:"node"`
	// Depth is 1 for a direct caller, 2 for a caller's caller, ...
	Depth int `json:"depth"`
	// Via is the node it calls on the way to the examined node.
	Via string `json:"via"`
	// Calls and Errors are on its edge to Via.
	Calls  int `json:"calls"`
	Errors int `json:"errors"`
}

// DependencyResult is what Dependencies returns.
type DependencyResult struct {
	Window Window `json:"window"`
	Node   string `json:"node"`
	// Matched are the node ids the query matched (a bare name can match
	// one workload in several namespaces); empty when nothing matched.
	Matched []string `json:"matched"`
	// Callers are the edges into the node, Callees the edges out, busiest
	// first.
	Callers []Edge `json:"callers"`
	Callees []Edge `json:"callees"`
	// Impact is every node that transitively depends on this one, nearest
	// first: what breaks when it breaks.
	Impact    []ImpactNode `json:"impact"`
	Truncated bool         `json:"truncated"`
	Summary   string       `json:"summary"`
}

// Dependencies lists a node's callers and callees in a window and its
// impact set: the upstream nodes that call it directly or through other
// nodes, found by walking the service map's edges backwards.
func Dependencies(ctx context.Context, src Source, q DependencyQuery) (DependencyResult, error) {
	name := strings.TrimSpace(q.Node)
	if name == "" {
		return DependencyResult{}, fmt.Errorf("%w: dependencies: no node given", ErrBadQuery)
	}
	w, err := resolve(ctx, src, q.Window)
	if err != nil {
		return DependencyResult{}, err
	}
	g, err := scanGraph(ctx, src, w, q.Match)
	if err != nil {
		return DependencyResult{}, fmt.Errorf("analysis: dependencies of %q: %w", name, err)
	}
	res := DependencyResult{Window: w, Node: name, Matched: []string{}, Callers: []Edge{}, Callees: []Edge{}, Impact: []ImpactNode{},
		Truncated: g.untracked > 0}
	match := nodeMatcher(name)
	targets := map[node]bool{}
	for n, x := range g.nodes() {
		if match(n, x) {
			targets[n] = true
			res.Matched = append(res.Matched, n.String())
		}
	}
	slices.Sort(res.Matched)
	edges := g.rankedEdges()
	for _, e := range edges {
		if targets[e.key.srv] && len(res.Callers) < DefaultMapLimit {
			res.Callers = append(res.Callers, e.edge())
		}
		if targets[e.key.cli] && len(res.Callees) < DefaultMapLimit {
			res.Callees = append(res.Callees, e.edge())
		}
	}
	depth := capLimit(q.MaxDepth, DefaultMaxDepth, MaxDepth)
	// Breadth first over reversed edges: each node is reached first by its
	// shortest path, and via its busiest edge among those (edges are
	// ranked).
	seen := maps.Clone(targets)
	frontier := targets
	for d := 1; d <= depth && len(frontier) > 0; d++ {
		next := map[node]bool{}
		for _, e := range edges {
			if !frontier[e.key.srv] || seen[e.key.cli] {
				continue
			}
			if len(res.Impact) >= maxImpact {
				res.Truncated = true
				break
			}
			seen[e.key.cli], next[e.key.cli] = true, true
			res.Impact = append(res.Impact, ImpactNode{Node: e.key.cli.String(), Depth: d, Via: e.key.srv.String(), Calls: e.calls, Errors: e.errors})
		}
		frontier = next
	}
	res.Summary = dependencySummary(res)
	return res, nil
}

// nodeMatcher turns the query's node name into a predicate: an IP matches
// IP nodes with that address and named nodes seen with it; a name matches
// "namespace/name" exactly or the bare name in any namespace.
func nodeMatcher(s string) func(node, *Node) bool {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		s = ap.Addr().String()
	} else if i := strings.LastIndexByte(s, ':'); i > 0 && isDigits(s[i+1:]) && !strings.Contains(s[:i], ":") {
		s = s[:i]
	}
	if a, err := netip.ParseAddr(s); err == nil {
		ip := a.Unmap().String()
		same := func(x string) bool {
			b, err := netip.ParseAddr(x)
			return err == nil && b.Unmap().String() == ip
		}
		return func(_ node, x *Node) bool { return slices.ContainsFunc(x.IPs, same) }
	}
	return func(n node, _ *Node) bool {
		return n.name != "" && (n.String() == s || n.name == s)
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func dependencySummary(r DependencyResult) string {
	if len(r.Matched) == 0 {
		return fmt.Sprintf("no node %q in %s", r.Node, r.Window)
	}
	var in, out int
	for _, e := range r.Callers {
		in += e.Calls
	}
	for _, e := range r.Callees {
		out += e.Calls
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d callers (%d calls in), %d callees (%d calls out)", strings.Join(r.Matched, ", "), len(r.Callers), in, len(r.Callees), out)
	if len(r.Impact) > 0 {
		names := make([]string, len(r.Impact))
		for i, x := range r.Impact {
			names[i] = x.Node
		}
		fmt.Fprintf(&b, "; %d nodes depend on it: %s", len(r.Impact), join(names, 8))
	} else {
		b.WriteString("; nothing depends on it")
	}
	return b.String()
}
