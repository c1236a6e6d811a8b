package mcp

import (
	"context"
	"fmt"
	"strings"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// promptArg is one prompt argument.
type promptArg struct {
	name, desc string
	required   bool
}

// promptDef is a prompt: an investigation plan that names the tools to use
// in order, filled with the user's arguments.
type promptDef struct {
	name, desc string
	args       []promptArg
	plan       func(a map[string]string) string
}

// promptWindow returns the window arguments most prompts take, plus extra.
func promptWindow(extra ...promptArg) []promptArg {
	return append([]promptArg{
		{name: "start", desc: "window start (RFC 3339, -15m, 14:00)"},
		{name: "end", desc: "window end"},
	}, extra...)
}

func win(a map[string]string) string {
	switch {
	case a["start"] != "" && a["end"] != "":
		return fmt.Sprintf("start=%q end=%q", a["start"], a["end"])
	case a["start"] != "":
		return fmt.Sprintf("start=%q", a["start"])
	case a["end"] != "":
		return fmt.Sprintf("end=%q", a["end"])
	}
	return "the window get_data_boundaries reports"
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func prompts() []promptDef {
	return []promptDef{
		{name: "analyze_traffic", desc: "Overview of the traffic in a window: volumes, protocols, busiest and slowest endpoints, errors.", args: promptWindow(),
			plan: func(a map[string]string) string {
				return fmt.Sprintf(`Analyse the captured traffic over %s.
1. get_data_boundaries: confirm data exists for the window; if not, say what range is held.
2. get_api_stats with the window: protocols, top endpoints by volume, error rates, p95/p99 latency.
3. get_service_map: who talks to whom; note edges with errors.
4. get_l4_flow_summary: connection counts, handshake RTT percentiles, retransmissions, resets, top talkers.
5. For the worst endpoint, list_api_calls with a KFL filter on it (e.g. dst.ip == "..." && status_code >= 400) and open one call with get_api_call.
Report: a short overview, then the three things most worth attention, each with evidence (call ids, figures).`, win(a))
			}},
		{name: "find_errors", desc: "Find the failing calls in a window, group them, and show the evidence.", args: promptWindow(promptArg{name: "service", desc: "optional IP, ip:port or name to focus on"}),
			plan: func(a map[string]string) string {
				focus := ""
				if a["service"] != "" {
					focus = fmt.Sprintf(" Focus on %s (as dst.ip / dst.port or name).", a["service"])
				}
				return fmt.Sprintf(`Find what failed over %s.%s
1. list_api_calls with kfl "failed" (and the window), format compact, limit 200: group the failures by protocol, endpoint and status.
2. get_api_stats for the window: error rate per endpoint, to tell a failing endpoint from noise.
3. For each group, get_api_call on one example with include_payload and include_l4: quote the error body (e.g. a 503's JSON), the headers that matter, and any TCP trouble.
4. find_anomalies with a baseline window before the incident to see when each error started.
Answer: what failed, since when, how often, the evidence (call ids and payload excerpts), and the most likely cause.`, win(a), focus)
			}},
		{name: "trace_request", desc: "Follow one request (by call id or a value it carried) across services.", args: []promptArg{{name: "call_id", desc: "id of a call to start from"}, {name: "value", desc: "a value the request carried (order id, trace id, user id)"}},
			plan: func(a map[string]string) string {
				start := "the call the user names"
				if a["call_id"] != "" {
					start = "call " + a["call_id"]
				}
				return fmt.Sprintf(`Trace a request end to end, starting from %s%s.
1. get_api_call (include_payload, include_l4) on the starting call; note ids in its path, headers (x-request-id, traceparent) and body.
2. search_payloads for each such value (substring) in a window of a few seconds around the call: these are the downstream and upstream calls that carried it.
3. Order the calls by timestamp; for each hop give src → dst, method path, status, elapsed_ms.
4. get_dependencies for the first service, to see hops the search did not find.
Answer with the chain of calls, where time was spent, and where it failed if it did.`, start, func() string {
					if a["value"] != "" {
						return fmt.Sprintf(" (search for %q)", a["value"])
					}
					return ""
				}())
			}},
		{name: "show_topology", desc: "Draw the service map: who calls whom, with volumes, errors and latency.", args: promptWindow(),
			plan: func(a map[string]string) string {
				return fmt.Sprintf(`Show the service topology over %s.
1. get_service_map for the window.
2. list_workloads and list_ips to name the nodes.
3. Render the map as a list of edges "client → server (protocol): calls, error rate, p95", grouped by server, marking edges with errors.
4. For the busiest server, get_dependencies to list its callers and what would break if it went down.`, win(a))
			}},
		{name: "latency_analysis", desc: "Find where time goes: slow endpoints, slow calls, and whether the network or the server is to blame.", args: promptWindow(promptArg{name: "threshold_ms", desc: "what counts as slow (default 500)"}),
			plan: func(a map[string]string) string {
				th := or(a["threshold_ms"], "500")
				return fmt.Sprintf(`Analyse latency over %s (slow = over %s ms).
1. get_api_stats: p50/p95/p99 per endpoint; rank by p99.
2. list_api_calls with kfl "elapsed_time > %s000" (elapsed_time is in microseconds), newest first.
3. For the slowest calls, get_api_call with include_l4: compare elapsed_ms with the connection's handshake RTT and RTT: a high network RTT or retransmissions means the network; a low RTT with a long elapsed_ms means the server.
4. get_tcp_insights over the window (min_retransmission_rate 0.01) for network trouble.
5. compare_traffic against an earlier window if the user says latency got worse.
Answer: which endpoints are slow, by how much, and whether network or server time dominates, with call ids.`, win(a), th, th)
			}},
		{name: "security_audit", desc: "Look for secrets and personal data in payloads, unauthenticated calls, and plaintext protocols.", args: promptWindow(),
			plan: func(a map[string]string) string {
				return fmt.Sprintf(`Audit the captured traffic over %s.
1. find_sensitive_data: card numbers, keys and tokens, JWTs, private keys, e-mail addresses; report kinds, where they appear (endpoint, header or body) and counts. Never repeat a secret: the tool redacts them, keep it that way.
2. find_unauthenticated_calls: endpoints that usually carry credentials but were called without them.
3. get_api_stats by protocol: plaintext protocols (http, redis, postgres, mysql, mqtt, amqp) carrying data that should be encrypted; tls records show what is encrypted (SNI, version, JA4).
4. list_api_calls with kfl "tls && tls_version < 771" or similar for old TLS versions (see kubeshark://kfl for the fields).
Answer with findings ranked by risk, each with evidence (call ids) and a recommendation.`, win(a))
			}},
		{name: "compare_traffic", desc: "Compare two windows (before and after a deploy or an incident) and explain what changed.", args: []promptArg{
			{name: "baseline_start", desc: "start of the normal window", required: true}, {name: "baseline_end", desc: "end of the normal window", required: true},
			{name: "start", desc: "start of the window to explain", required: true}, {name: "end", desc: "end of the window to explain", required: true}},
			plan: func(a map[string]string) string {
				return fmt.Sprintf(`Compare traffic in %s–%s (baseline) with %s–%s.
1. compare_traffic with both windows: endpoints ranked by how much changed (volume, error rate, p95).
2. find_anomalies with the same windows: which changes are significant, with example calls.
3. For the top change, list_api_calls in the second window with a KFL filter on that endpoint and get_api_call on an example.
4. get_service_map for the second window to see whether the change propagated to callers.
Answer: what changed, where it started, and the evidence.`, a["baseline_start"], a["baseline_end"], a["start"], a["end"])
			}},
		{name: "debug_connection", desc: "Diagnose one connection or endpoint at the TCP level: handshake, retransmissions, resets, windows.", args: []promptArg{
			{name: "call_id", desc: "an API call whose connection to examine"}, {name: "ip", desc: "or an endpoint IP"}, {name: "port", desc: "and port"}},
			plan: func(a map[string]string) string {
				target := "the connection the user names"
				switch {
				case a["call_id"] != "":
					target = "the connection that carried call " + a["call_id"] + " (get_tcp_insights call_id=" + a["call_id"] + ")"
				case a["ip"] != "":
					target = "connections to " + a["ip"] + " " + a["port"] + " (get_tcp_insights ip=" + a["ip"] + ")"
				}
				return fmt.Sprintf(`Debug %s.
1. get_tcp_insights for it: handshake (SYN→SYN-ACK→ACK timings), retransmissions and fast retransmissions, duplicate ACKs, lost segments, zero-window and window-full events, resets, RTT and jitter, time to first byte.
2. list_l4_flows for the same endpoint sorted by handshake_rtt and by retransmission_rate: is this connection unusual or are all of them like it?
3. list_api_calls with kfl on the endpoint (dst.ip == "...") to see which calls these connections carried and whether they failed.
Explain in plain words what the TCP figures mean here (e.g. zero windows: the receiver was not reading; resets before data: nothing listening or a firewall) and what to check next.`, target)
			}},
	}
}

func (s *Server) addPrompts(m *server.MCPServer) {
	for _, p := range prompts() {
		opts := []mcpgo.PromptOption{mcpgo.WithPromptDescription(p.desc)}
		for _, a := range p.args {
			aopts := []mcpgo.ArgumentOption{mcpgo.ArgumentDescription(a.desc)}
			if a.required {
				aopts = append(aopts, mcpgo.RequiredArgument())
			}
			opts = append(opts, mcpgo.WithArgument(a.name, aopts...))
		}
		m.AddPrompt(mcpgo.NewPrompt(p.name, opts...), func(_ context.Context, req mcpgo.GetPromptRequest) (*mcpgo.GetPromptResult, error) {
			args := map[string]string{}
			for k, v := range req.Params.Arguments {
				args[k] = strings.TrimSpace(v)
			}
			for _, a := range p.args {
				if a.required && args[a.name] == "" {
					return nil, fmt.Errorf("prompt %s: argument %q is required", p.name, a.name)
				}
			}
			for k := range args {
				known := false
				for _, a := range p.args {
					known = known || a.name == k
				}
				if !known {
					return nil, fmt.Errorf("prompt %s: unknown argument %q", p.name, k)
				}
			}
			return mcpgo.NewGetPromptResult(p.desc, []mcpgo.PromptMessage{
				mcpgo.NewPromptMessage(mcpgo.RoleUser, mcpgo.NewTextContent(p.plan(args))),
			}), nil
		})
	}
}
