package analysis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// Bounds for Endpoints.
const (
	DefaultEndpointsLimit = 100
	MaxEndpointsLimit     = 1000
	// maxHosts caps the IPs tracked in one scan.
	maxHosts = 20000
	// maxHostPorts caps the server ports listed per IP.
	maxHostPorts = 32
)

// EndpointsQuery selects the window Endpoints lists.
type EndpointsQuery struct {
	Window Window
	Match  storage.Matcher
	// Limit is how many hosts to list, busiest first: 0 means
	// DefaultEndpointsLimit; at most MaxEndpointsLimit.
	Limit int
}

// PortUse is one port a host served on.
type PortUse struct {
	Port      int      `json:"port"`
	Protocols []string `json:"protocols"`
	Calls     int      `json:"calls"`
	Errors    int      `json:"errors"`
}

// Host is one IP seen in the traffic, as a client, a server or both.
type Host struct {
	IP string `json:"ip"`
	// Name and Namespace are the workload the capture source attributed
	// to the IP, when it did.
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// Pod, Service, Node, WorkloadKind, Workload, Labels and
	// NamespaceLabels are what held the IP when it was first seen in the
	// window, when the store has a workload history (sdk.K8s).
	Pod          string            `json:"pod,omitempty"`
	Service      string            `json:"service,omitempty"`
	Node         string            `json:"node,omitempty"`
	WorkloadKind string            `json:"workload_kind,omitempty"`
	Workload     string            `json:"workload,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	// NamespaceLabels are the labels of its namespace.
	NamespaceLabels map[string]string `json:"namespace_labels,omitempty"`
	// Role is client, server or both.
	Role           string   `json:"role"`
	CallsAsClient  int      `json:"calls_as_client"`
	CallsAsServer  int      `json:"calls_as_server"`
	ErrorsAsServer int      `json:"errors_as_server"`
	Protocols      []string `json:"protocols"`
	// Ports are the ports it served on, busiest first (client ports are
	// ephemeral and not listed).
	Ports     []PortUse `json:"ports"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// EndpointsResult is what Endpoints returns.
type EndpointsResult struct {
	Window    Window `json:"window"`
	Hosts     []Host `json:"hosts"`
	HostsSeen int    `json:"hosts_seen"`
	Truncated bool   `json:"truncated"`
	Summary   string `json:"summary"`
}

type hostAgg struct {
	Host
	ports       []*PortUse
	first, last int64
}

// Endpoints lists the IPs seen in a window with how often each called and
// was called, on which server ports and protocols, when it was first and
// last seen, and its workload name when known. It reads no bodies.
func Endpoints(ctx context.Context, src Source, q EndpointsQuery) (EndpointsResult, error) {
	if err := q.Window.check(); err != nil {
		return EndpointsResult{}, err
	}
	hosts := map[string]*hostAgg{}
	untracked := false
	get := func(e *sdk.Endpoint, ts int64) *hostAgg {
		h := hosts[e.IP]
		if h == nil {
			if len(hosts) >= maxHosts {
				untracked = true
				return nil
			}
			h = &hostAgg{Host: Host{IP: e.IP, Protocols: []string{}}, first: ts}
			hosts[e.IP] = h
		}
		if h.Name == "" && e.Name != "" {
			h.Name, h.Namespace = e.Name, e.Namespace
			if k := e.K8s; k != nil {
				h.Pod, h.Service, h.Node, h.WorkloadKind, h.Workload, h.Labels = k.Pod, k.Service, k.Node, k.WorkloadKind, k.Workload, k.Labels
				h.NamespaceLabels = k.NamespaceLabels
			}
		}
		h.first = min(h.first, ts)
		h.last = max(h.last, ts)
		return h
	}
	err := scan(ctx, src, q.Window, q.Match, false, func(r *sdk.Record) bool {
		ts := r.Timestamp.UnixNano()
		if c := get(&r.Src, ts); c != nil {
			c.CallsAsClient++
		}
		s := get(&r.Dst, ts)
		if s == nil {
			return true
		}
		s.CallsAsServer++
		if r.Failed {
			s.ErrorsAsServer++
		}
		s.Protocols = addLabel(s.Protocols, r.Protocol, maxEdgeLabels)
		i := slices.IndexFunc(s.ports, func(p *PortUse) bool { return p.Port == int(r.Dst.Port) })
		if i < 0 && len(s.ports) < maxHostPorts {
			s.ports = append(s.ports, &PortUse{Port: int(r.Dst.Port), Protocols: []string{}})
			i = len(s.ports) - 1
		}
		if i >= 0 {
			p := s.ports[i]
			p.Calls++
			if r.Failed {
				p.Errors++
			}
			p.Protocols = addLabel(p.Protocols, r.Protocol, maxEdgeLabels)
		}
		return true
	})
	if err != nil {
		return EndpointsResult{}, fmt.Errorf("analysis: list endpoints: %w", err)
	}
	res := EndpointsResult{Window: q.Window, HostsSeen: len(hosts), Hosts: []Host{}, Truncated: untracked}
	all := make([]*hostAgg, 0, len(hosts))
	for _, h := range hosts {
		all = append(all, h)
	}
	slices.SortFunc(all, func(a, b *hostAgg) int {
		return cmp.Or((b.CallsAsClient+b.CallsAsServer)-(a.CallsAsClient+a.CallsAsServer), strings.Compare(a.IP, b.IP))
	})
	limit := capLimit(q.Limit, DefaultEndpointsLimit, MaxEndpointsLimit)
	if len(all) > limit {
		all, res.Truncated = all[:limit], true
	}
	for _, h := range all {
		x := h.Host
		switch {
		case x.CallsAsClient > 0 && x.CallsAsServer > 0:
			x.Role = RoleBoth
		case x.CallsAsServer > 0:
			x.Role = RoleServer
		default:
			x.Role = RoleClient
		}
		x.FirstSeen, x.LastSeen = time.Unix(0, h.first).UTC(), time.Unix(0, h.last).UTC()
		slices.Sort(x.Protocols)
		x.Ports = []PortUse{}
		for _, p := range h.ports {
			slices.Sort(p.Protocols)
			x.Ports = append(x.Ports, *p)
		}
		slices.SortFunc(x.Ports, func(a, b PortUse) int { return cmp.Or(b.Calls-a.Calls, a.Port-b.Port) })
		res.Hosts = append(res.Hosts, x)
	}
	res.Summary = endpointsSummary(res)
	return res, nil
}

func endpointsSummary(r EndpointsResult) string {
	if r.HostsSeen == 0 {
		return "no hosts seen"
	}
	var servers, clients []string
	for _, h := range r.Hosts {
		label := h.IP
		if h.Name != "" {
			label += " (" + h.Name + ")"
		}
		if h.CallsAsServer > 0 {
			servers = append(servers, fmt.Sprintf("%s %d calls", label, h.CallsAsServer))
		}
		if h.CallsAsClient > 0 {
			clients = append(clients, label)
		}
	}
	return fmt.Sprintf("%d hosts seen; servers: %s; clients: %s", r.HostsSeen, join(servers, 5), join(clients, 5))
}
