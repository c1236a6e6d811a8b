package mcp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/analysis"
)

// windowArgs are the time and filter arguments the aggregate tools share.
type windowArgs struct {
	KFL   string `json:"kfl,omitempty" jsonschema:"KFL filter restricting the calls considered"`
	Start string `json:"start,omitempty" jsonschema:"window start: RFC 3339, a date (2026-11-20), -15m, 2h ago, 1d, or a time of day like 14:05 (UTC, on the day of the newest data; the answer's resolved_times says which day); default the oldest data"`
	End   string `json:"end,omitempty" jsonschema:"window end, same forms; default the newest data"`
	snapshotArg
}

// prepare resolves the shared arguments.
func (s *Server) prepare(ctx context.Context, a windowArgs) (analysis.Source, analysis.Window, storage.Matcher, error) {
	st, err := s.storeFor(ctx, a.Snapshot)
	if err != nil {
		return nil, analysis.Window{}, nil, err
	}
	w, err := s.window(ctx, a.Start, a.End)
	if err != nil {
		return nil, analysis.Window{}, nil, err
	}
	m, err := s.kflMatcher(ctx, a.KFL, st)
	if err != nil {
		return nil, analysis.Window{}, nil, err
	}
	return st, analysis.Window{Start: w.Start, End: w.End}, m, nil
}

// badQuery turns the analyses' refusals into argument errors.
func badQuery(err error) error {
	if errors.Is(err, analysis.ErrBadQuery) {
		return fmt.Errorf("%w: %w", ErrBadArgument, err)
	}
	return err
}

type statsArgs struct {
	windowArgs
	GroupBy string `json:"group_by,omitempty" jsonschema:"endpoint (default: server + protocol + method + path template such as /api/orders/{id}), server, client or protocol"`
	Buckets int    `json:"buckets,omitempty" jsonschema:"time-series steps per row (default 20; -1 for none)"`
	Limit   int    `json:"limit,omitempty" jsonschema:"rows to list (default 20)"`
	Sort    string `json:"sort,omitempty" jsonschema:"order of the rows: calls (default), errors, error_rate, p95 or p99, highest first"`
}

type compareArgs struct {
	KFL           string `json:"kfl,omitempty" jsonschema:"KFL filter restricting the calls considered"`
	BaselineStart string `json:"baseline_start" jsonschema:"start of the reference window (before)"`
	BaselineEnd   string `json:"baseline_end" jsonschema:"end of the reference window"`
	Start         string `json:"start" jsonschema:"start of the window compared with it (after)"`
	End           string `json:"end" jsonschema:"end of the compared window"`
	GroupBy       string `json:"group_by,omitempty" jsonschema:"endpoint (default), server, client or protocol"`
	Limit         int    `json:"limit,omitempty" jsonschema:"rows to list, biggest change first"`
	snapshotArg
}

type anomalyArgs struct {
	KFL           string `json:"kfl,omitempty" jsonschema:"KFL filter restricting the calls considered"`
	BaselineStart string `json:"baseline_start,omitempty" jsonschema:"start of the normal period; default: a period as long as the target, just before it"`
	BaselineEnd   string `json:"baseline_end,omitempty" jsonschema:"end of the normal period; default the target's start"`
	Start         string `json:"start,omitempty" jsonschema:"start of the period to examine; default the second half of the data held"`
	End           string `json:"end,omitempty" jsonschema:"end of the period to examine; default the newest data"`
	Limit         int    `json:"limit,omitempty" jsonschema:"anomalies to list, most severe first"`
	MinCalls      int    `json:"min_calls,omitempty" jsonschema:"calls an endpoint needs in a window for its rates to count"`
	snapshotArg
}

type mapArgs struct {
	windowArgs
	Limit int `json:"limit,omitempty" jsonschema:"edges to list, busiest first"`
}

type dependencyArgs struct {
	windowArgs
	Endpoint string `json:"endpoint" jsonschema:"the service: an IP, ip:port, or a workload name"`
	MaxDepth int    `json:"max_depth,omitempty" jsonschema:"how far up the callers to walk for impact"`
}

type searchArgs struct {
	windowArgs
	Query           string `json:"query,omitempty" jsonschema:"substring to find (e.g. an order id); give query or regex"`
	Regex           string `json:"regex,omitempty" jsonschema:"RE2 regular expression to find"`
	CaseInsensitive bool   `json:"case_insensitive,omitempty"`
	In              string `json:"in,omitempty" jsonschema:"all (default), headers, bodies, both (headers and bodies) or path"`
	Limit           int    `json:"limit,omitempty" jsonschema:"matching calls to list, oldest first"`
}

type sensitiveArgs struct {
	windowArgs
	Kinds []string `json:"kinds,omitempty" jsonschema:"restrict to these kinds (credit_card, jwt, private_key, email, aws_access_key, github_token, slack_token, api_key, ...)"`
	Limit int      `json:"limit,omitempty" jsonschema:"findings to list; counts cover all"`
}

type unauthArgs struct {
	windowArgs
	MinAuthShare float64 `json:"min_auth_share,omitempty" jsonschema:"report endpoints where more than this share of calls carry credentials (default 0.5)"`
	MinCalls     int     `json:"min_calls,omitempty" jsonschema:"calls an endpoint needs to be judged"`
	Limit        int     `json:"limit,omitempty" jsonschema:"endpoints to list"`
	Examples     int     `json:"examples,omitempty" jsonschema:"calls without credentials to show per endpoint"`
}

type endpointsArgs struct {
	windowArgs
	Limit int `json:"limit,omitempty" jsonschema:"hosts to list, busiest first"`
	workloadFilter
}

// workloadFilter narrows list_workloads and list_ips with the arguments
// Kubeshark's tools take for a lookup or a scan.
type workloadFilter struct {
	Name       string            `json:"name,omitempty" jsonschema:"one workload: its name (or its IP); exact"`
	NameRegex  string            `json:"name_regex,omitempty" jsonschema:"workloads whose name (or IP, when the name is unknown) matches this RE2 expression"`
	Namespace  string            `json:"namespace,omitempty" jsonschema:"only workloads in this namespace"`
	Namespaces []string          `json:"namespaces,omitempty" jsonschema:"only workloads in one of these namespaces"`
	IP         string            `json:"ip,omitempty" jsonschema:"one IP address"`
	Labels     map[string]string `json:"labels,omitempty" jsonschema:"Kubernetes labels the workload must carry (known when the store has a workload history: import --kubeconfig, tap/hub --kubernetes)"`
	// NamespaceLabels selects by the namespace's labels (team, tenant,
	// environment), which is how clusters shared by teams are divided.
	NamespaceLabels map[string]string `json:"namespace_labels,omitempty" jsonschema:"Kubernetes labels the workload's namespace must carry (e.g. {\"team\": \"payments\"}; known as labels are)"`
}

func (f workloadFilter) empty() bool {
	return f.Name == "" && f.NameRegex == "" && f.Namespace == "" && len(f.Namespaces) == 0 && f.IP == "" && len(f.Labels) == 0 && len(f.NamespaceLabels) == 0
}

// hasLabels reports whether have carries every label of want.
func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// apply keeps the hosts that pass the filter and says what it did.
func (f workloadFilter) apply(hosts []analysis.Host) ([]analysis.Host, string, error) {
	var re *regexp.Regexp
	if f.NameRegex != "" {
		var err error
		if re, err = regexp.Compile(f.NameRegex); err != nil {
			return nil, "", fmt.Errorf("%w: name_regex %q: %w; use RE2 syntax, e.g. payment.*", ErrBadArgument, f.NameRegex, err)
		}
	}
	if f.IP != "" {
		if _, err := netip.ParseAddr(f.IP); err != nil {
			return nil, "", fmt.Errorf("%w: ip %q is not an IP address", ErrBadArgument, f.IP)
		}
	}
	ns := map[string]bool{}
	for _, n := range append(slices.Clone(f.Namespaces), f.Namespace) {
		if n != "" {
			ns[n] = true
		}
	}
	out := hosts[:0:0]
	for _, h := range hosts {
		name := h.Name
		if name == "" {
			name = h.IP
		}
		switch {
		case f.Name != "" && f.Name != h.Name && f.Name != h.IP,
			re != nil && !re.MatchString(name),
			len(ns) > 0 && !ns[h.Namespace],
			f.IP != "" && f.IP != h.IP,
			!hasLabels(h.Labels, f.Labels),
			!hasLabels(h.NamespaceLabels, f.NamespaceLabels):
			continue
		}
		out = append(out, h)
	}
	note := ""
	if len(f.Labels) > 0 && len(out) == 0 && !slices.ContainsFunc(hosts, func(h analysis.Host) bool { return len(h.Labels) > 0 }) {
		note = "; no workload labels are known to this store (an import without --kubeconfig, a tap without --kubernetes), so a labels filter matches nothing: filter by name, name_regex or namespace"
	} else if len(f.NamespaceLabels) > 0 && len(out) == 0 && !slices.ContainsFunc(hosts, func(h analysis.Host) bool { return len(h.NamespaceLabels) > 0 }) {
		note = "; no namespace labels are known to this store (no workload history, or its account may not list namespaces), so a namespace_labels filter matches nothing: filter by namespace"
	} else if len(ns) > 0 && len(out) == 0 {
		note = "; no workload with a known namespace matched (an imported pcap has IPs only: drop namespace(s) to list them)"
	}
	return out, note, nil
}

func (s *Server) analysisTools() []tool {
	return []tool{
		newTool(toolSpec{name: "get_api_stats", title: "API statistics",
			desc: "Per endpoint (server + protocol + method + path template such as /api/orders/{id}, with {param} where the traffic shows many values in one position, e.g. /users/{param}) or per server, client or protocol: calls, errors, error rate, latency p50/p95/p99/max, bytes, status codes (each with its protocol: HTTP 503 and MySQL error 1045 are counted apart), and a time series over the window. errors counts calls that failed by their own protocol's rules (KFL: failed). Use it for the overall picture or to rank endpoints by errors or latency (sort). Next: list_api_calls with a KFL filter on the worst row, or find_anomalies to compare with a normal period."},
			s.apiStats),
		newTool(toolSpec{name: "compare_traffic", title: "Compare two windows",
			desc: "The same statistics for two windows side by side (before/after a deploy or an incident), with the changes in volume, error rate and p95 ranked biggest first; endpoints seen in one window only are flagged. Use it when you know both windows (before and after a deploy, yesterday and today). Next: list_api_calls on the endpoint that changed most."},
			s.compareTraffic),
		newTool(toolSpec{name: "find_anomalies", title: "Find anomalies",
			desc: "Error-rate, latency and volume changes and new status codes against a baseline window, ranked by severity with example calls; a failing dependency ranks above the callers it drags down (likely_caused_by names it). Defaults: the second half of the data against the first. Use it first when asked what broke or why something is slow. Next: get_api_call on the example_ids, get_dependencies on the likely root cause."},
			s.findAnomalies),
		newTool(toolSpec{name: "get_service_map", title: "Service map",
			desc: "Who talks to whom: nodes (hosts or workloads with their role) and edges client → server with protocols, calls, errors, error rate, p50/p95 latency and bytes. Use it to learn the topology before tracing a failure along it. Next: get_dependencies on one node, or get_api_stats with group_by=server."},
			s.serviceMap),
		newTool(toolSpec{name: "get_dependencies", title: "Dependencies of a service",
			desc: "For one service (IP, ip:port or name): its callers, its callees, and the impact — every upstream service that depends on it directly or transitively, i.e. what breaks if it goes down. Use it to know what a failing service takes down with it (argument service or endpoint). Next: find_anomalies or get_api_stats with a KFL filter on its callers."},
			s.dependencies),
		newTool(toolSpec{name: "search_payloads", title: "Search payloads",
			desc: "Find calls whose headers, bodies or path contain a substring or match a regular expression (an audit trail: every call that carried order 12345), with a snippet around each match. Use it when you have a value (an order id, a user, an error string) rather than a filter. Next: get_api_call on a hit for the full exchange."},
			s.searchPayloads),
		newTool(toolSpec{name: "find_sensitive_data", title: "Find sensitive data",
			desc: "Card numbers (Luhn-checked), cloud and API keys and tokens, JWTs, private keys and e-mail addresses in requests and responses, with where they appeared; the evidence is redacted. Use it in a security audit or when asked whether secrets leak. Next: get_api_call on an example to see the context, find_unauthenticated_calls."},
			s.findSensitive),
		newTool(toolSpec{name: "find_unauthenticated_calls", title: "Find unauthenticated calls",
			desc: "HTTP endpoints that usually carry credentials (Authorization, cookies, API keys) but were also called without them, with the share and example calls. Use it in a security audit. Next: get_api_call on the example ids, list_api_calls on the endpoint."},
			s.findUnauthenticated),
		newTool(toolSpec{name: "list_workloads", title: "List workloads",
			desc: "The services seen: hosts that served calls, with their ports, protocols and call counts, and workload names when the capture source knows them. Use it to resolve a workload name or namespace to IPs (name, name_regex, namespace(s), ip, labels, or namespace_labels such as a team's namespaces) or to list what serves traffic. Next: get_dependencies on one, or export_snapshot_pcap with bpf \"host IP\"."},
			s.listWorkloads),
		newTool(toolSpec{name: "list_ips", title: "List IPs",
			desc: "Every IP seen as client or server, with role, call counts, server ports and protocols, first and last seen. Use it to learn who an IP is (ip) or which IPs took part. Next: list_workloads, list_l4_flows with ip."},
			s.listIPs),
	}
}

func (s *Server) apiStats(ctx context.Context, a statsArgs) (analysis.StatsResult, string, error) {
	src, w, m, err := s.prepare(ctx, a.windowArgs)
	if err != nil {
		return analysis.StatsResult{}, "", err
	}
	if a.Sort == "" {
		a.Sort = "calls"
	}
	if err := oneOf("sort", a.Sort, "calls", "errors", "error_rate", "p95", "p99"); err != nil {
		return analysis.StatsResult{}, "", err
	}
	limit := a.Limit
	if a.Sort != "calls" {
		// Rank every group, not only the busiest ones, before cutting.
		limit = analysis.MaxStatsLimit
	}
	res, err := analysis.Stats(ctx, src, analysis.StatsQuery{Window: w, Match: m, GroupBy: analysis.GroupBy(a.GroupBy), Buckets: a.Buckets, Limit: limit})
	if err != nil {
		return res, "", badQuery(err)
	}
	if a.Sort != "calls" {
		key := map[string]func(g analysis.GroupStats) float64{
			"errors":     func(g analysis.GroupStats) float64 { return float64(g.Errors) },
			"error_rate": func(g analysis.GroupStats) float64 { return g.ErrorRate },
			"p95":        func(g analysis.GroupStats) float64 { return g.Latency.P95 },
			"p99":        func(g analysis.GroupStats) float64 { return g.Latency.P99 },
		}[a.Sort]
		slices.SortStableFunc(res.Groups, func(x, y analysis.GroupStats) int { return cmp.Compare(key(y), key(x)) })
		want := a.Limit
		if want <= 0 {
			want = analysis.DefaultStatsLimit
		}
		if len(res.Groups) > want {
			res.Groups, res.Truncated = res.Groups[:want], true
		}
		res.Summary = fmt.Sprintf("sorted by %s; ", a.Sort) + res.Summary
	}
	return res, res.Summary, nil
}

func (s *Server) compareTraffic(ctx context.Context, a compareArgs) (analysis.CompareResult, string, error) {
	st, err := s.storeFor(ctx, a.Snapshot)
	if err != nil {
		return analysis.CompareResult{}, "", err
	}
	for name, v := range map[string]string{"baseline_start": a.BaselineStart, "baseline_end": a.BaselineEnd, "start": a.Start, "end": a.End} {
		if strings.TrimSpace(v) == "" {
			return analysis.CompareResult{}, "", fmt.Errorf("%w: %s is required: give both windows (baseline_start/baseline_end before, start/end after), e.g. 13:00–13:15 against 14:00–14:15; find_anomalies picks a baseline by itself", ErrBadArgument, name)
		}
	}
	wa, err := s.window(ctx, a.BaselineStart, a.BaselineEnd)
	if err != nil {
		return analysis.CompareResult{}, "", err
	}
	wb, err := s.window(ctx, a.Start, a.End)
	if err != nil {
		return analysis.CompareResult{}, "", err
	}
	m, err := s.kflMatcher(ctx, a.KFL, st)
	if err != nil {
		return analysis.CompareResult{}, "", err
	}
	res, err := analysis.Compare(ctx, st, analysis.CompareQuery{A: analysis.Window(wa), B: analysis.Window(wb), Match: m, GroupBy: analysis.GroupBy(a.GroupBy), Limit: a.Limit})
	if err != nil {
		return res, "", badQuery(err)
	}
	return res, res.Summary, nil
}

func (s *Server) findAnomalies(ctx context.Context, a anomalyArgs) (analysis.AnomalyResult, string, error) {
	var res analysis.AnomalyResult
	st, err := s.storeFor(ctx, a.Snapshot)
	if err != nil {
		return res, "", err
	}
	target, err := s.window(ctx, a.Start, a.End)
	if err != nil {
		return res, "", err
	}
	base, err := s.window(ctx, a.BaselineStart, a.BaselineEnd)
	if err != nil {
		return res, "", err
	}
	first, last, err := st.Bounds(ctx)
	if err != nil {
		return res, "", err
	}
	if first.IsZero() {
		return res, "", errors.New("no calls stored yet: import a capture first (kubeshark import FILE)")
	}
	last = last.Add(time.Nanosecond)
	// Fill what was not given: the target defaults to the second half of
	// the data, the baseline to an equally long period just before it.
	if target.End.IsZero() {
		target.End = last
	}
	if target.Start.IsZero() {
		target.Start = first.Add(target.End.Sub(first) / 2)
	}
	if base.End.IsZero() {
		base.End = target.Start
	}
	if base.Start.IsZero() {
		base.Start = base.End.Add(-target.End.Sub(target.Start))
	}
	if !base.End.After(base.Start) || !target.End.After(target.Start) {
		return res, "", fmt.Errorf("%w: empty baseline %s or target %s: each window needs its end after its start (get_data_boundaries shows the data held)", ErrBadArgument, base, target)
	}
	m, err := s.kflMatcher(ctx, a.KFL, st)
	if err != nil {
		return res, "", err
	}
	res, err = analysis.Anomalies(ctx, st, analysis.AnomalyQuery{Baseline: analysis.Window(base), Target: analysis.Window(target), Match: m, Limit: a.Limit, MinCalls: a.MinCalls})
	if err != nil {
		return res, "", badQuery(err)
	}
	return res, res.Summary, nil
}

func (s *Server) serviceMap(ctx context.Context, a mapArgs) (analysis.ServiceMapResult, string, error) {
	src, w, m, err := s.prepare(ctx, a.windowArgs)
	if err != nil {
		return analysis.ServiceMapResult{}, "", err
	}
	res, err := analysis.ServiceMap(ctx, src, analysis.MapQuery{Window: w, Match: m, Limit: a.Limit})
	if err != nil {
		return res, "", badQuery(err)
	}
	return res, res.Summary, nil
}

func (s *Server) dependencies(ctx context.Context, a dependencyArgs) (analysis.DependencyResult, string, error) {
	if strings.TrimSpace(a.Endpoint) == "" {
		return analysis.DependencyResult{}, "", fmt.Errorf("%w: endpoint (or service) is required: an IP, ip:port or name; list_workloads shows them", ErrBadArgument)
	}
	src, w, m, err := s.prepare(ctx, a.windowArgs)
	if err != nil {
		return analysis.DependencyResult{}, "", err
	}
	res, err := analysis.Dependencies(ctx, src, analysis.DependencyQuery{Node: a.Endpoint, Window: w, Match: m, MaxDepth: a.MaxDepth})
	if err != nil {
		return res, "", badQuery(err)
	}
	return res, res.Summary, nil
}

func (s *Server) searchPayloads(ctx context.Context, a searchArgs) (analysis.SearchResult, string, error) {
	if a.Query == "" && a.Regex == "" {
		return analysis.SearchResult{}, "", fmt.Errorf("%w: give query (a substring, e.g. an order id) or regex (RE2)", ErrBadArgument)
	}
	src, w, m, err := s.prepare(ctx, a.windowArgs)
	if err != nil {
		return analysis.SearchResult{}, "", err
	}
	res, err := analysis.SearchPayloads(ctx, src, analysis.SearchQuery{Window: w, Match: m, Substring: a.Query, Regex: a.Regex, CaseInsensitive: a.CaseInsensitive, In: a.In, Limit: a.Limit})
	if err != nil {
		return res, "", badQuery(err)
	}
	return res, res.Summary, nil
}

func (s *Server) findSensitive(ctx context.Context, a sensitiveArgs) (analysis.SensitiveResult, string, error) {
	src, w, m, err := s.prepare(ctx, a.windowArgs)
	if err != nil {
		return analysis.SensitiveResult{}, "", err
	}
	res, err := analysis.FindSensitiveData(ctx, src, analysis.SensitiveQuery{Window: w, Match: m, Kinds: a.Kinds, Limit: a.Limit})
	if err != nil {
		return res, "", badQuery(err)
	}
	return res, res.Summary, nil
}

func (s *Server) findUnauthenticated(ctx context.Context, a unauthArgs) (analysis.UnauthResult, string, error) {
	src, w, m, err := s.prepare(ctx, a.windowArgs)
	if err != nil {
		return analysis.UnauthResult{}, "", err
	}
	res, err := analysis.FindUnauthenticated(ctx, src, analysis.UnauthQuery{Window: w, Match: m, MinAuthShare: a.MinAuthShare, MinCalls: a.MinCalls, Limit: a.Limit, Examples: a.Examples})
	if err != nil {
		return res, "", badQuery(err)
	}
	return res, res.Summary, nil
}

func (s *Server) endpoints(ctx context.Context, a endpointsArgs) (analysis.EndpointsResult, error) {
	src, w, m, err := s.prepare(ctx, a.windowArgs)
	if err != nil {
		return analysis.EndpointsResult{}, err
	}
	limit := a.Limit
	if !a.workloadFilter.empty() {
		// Filter every host, then list the busiest that pass.
		limit = analysis.MaxEndpointsLimit
	}
	res, err := analysis.Endpoints(ctx, src, analysis.EndpointsQuery{Window: w, Match: m, Limit: limit})
	if err != nil || a.workloadFilter.empty() {
		return res, badQuery(err)
	}
	hosts, note, err := a.workloadFilter.apply(res.Hosts)
	if err != nil {
		return res, err
	}
	want := a.Limit
	if want <= 0 {
		want = analysis.DefaultEndpointsLimit
	}
	if len(hosts) > want {
		hosts, res.Truncated = hosts[:want], true
	}
	res.Summary = fmt.Sprintf("%d of %d hosts match the workload filter", len(hosts), res.HostsSeen) + note + "; " + res.Summary
	res.Hosts = hosts
	return res, nil
}

func (s *Server) listIPs(ctx context.Context, a endpointsArgs) (analysis.EndpointsResult, string, error) {
	res, err := s.endpoints(ctx, a)
	if err != nil {
		return res, "", err
	}
	return res, res.Summary, nil
}

// listWorkloads keeps the hosts that served calls: the services. Names
// appear when the capture source knows them (live capture in Kubernetes);
// an imported pcap has IPs only.
func (s *Server) listWorkloads(ctx context.Context, a endpointsArgs) (analysis.EndpointsResult, string, error) {
	res, err := s.endpoints(ctx, a)
	if err != nil {
		return res, "", err
	}
	hosts := res.Hosts[:0]
	for _, h := range res.Hosts {
		if h.CallsAsServer > 0 {
			hosts = append(hosts, h)
		}
	}
	res.Hosts = hosts
	var b strings.Builder
	fmt.Fprintf(&b, "%d services", len(hosts))
	if !a.workloadFilter.empty() {
		b.WriteString(" (" + strings.SplitN(res.Summary, "; ", 2)[0] + ")")
		if i := strings.Index(res.Summary, "; no workload"); i >= 0 {
			b.WriteString(strings.SplitN(res.Summary[i:], " (they", 2)[0])
		}
	}
	for i, h := range hosts {
		if i == 5 {
			fmt.Fprintf(&b, "; …")
			break
		}
		name := h.IP
		if h.Name != "" {
			name = h.Namespace + "/" + h.Name + " (" + h.IP + ")"
		}
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s %d calls, %d errors", sep, name, h.CallsAsServer, h.ErrorsAsServer)
	}
	return res, b.String(), nil
}
