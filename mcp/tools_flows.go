package mcp

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// FlowView is an L4 flow as the tools return it: the sdk.Flow contract.
type FlowView = sdk.Flow

func toFlowView(f *sdk.Flow) FlowView { return *f }

// maxFlowScan bounds how many flows one answer looks at when it must sort or
// aggregate, so that a huge store costs a bounded time; answers say when
// they hit it.
const maxFlowScan = 200_000

type flowFilterArgs struct {
	Start                 string  `json:"start,omitempty" jsonschema:"window start (RFC 3339, -15m, 14:05, ...)"`
	End                   string  `json:"end,omitempty" jsonschema:"window end"`
	IP                    string  `json:"ip,omitempty" jsonschema:"either endpoint's IP"`
	Port                  int     `json:"port,omitempty" jsonschema:"either endpoint's port"`
	ClientIP              string  `json:"client_ip,omitempty"`
	ServerIP              string  `json:"server_ip,omitempty"`
	ServerPort            int     `json:"server_port,omitempty"`
	Transport             string  `json:"transport,omitempty" jsonschema:"tcp or udp"`
	Protocol              string  `json:"protocol,omitempty" jsonschema:"L7 protocol the flow carried (http, redis, ...)"`
	State                 string  `json:"state,omitempty" jsonschema:"open, closed, reset, half-closed, active (UDP)"`
	MinHandshakeRTTMs     float64 `json:"min_handshake_rtt_ms,omitempty" jsonschema:"only flows whose handshake RTT is at least this"`
	MinRetransmissionRate float64 `json:"min_retransmission_rate,omitempty" jsonschema:"only flows whose retransmission rate (0..1) is at least this"`
	MinBytes              int64   `json:"min_bytes,omitempty" jsonschema:"only flows carrying at least this many payload bytes (both ways)"`
	PID                   int     `json:"pid,omitempty" jsonschema:"only flows with this process at either local end (live capture)"`
	Comm                  string  `json:"comm,omitempty" jsonschema:"only flows with a process of this command name at either local end (live capture; exact, as the kernel keeps it: at most 15 bytes)"`
	CgroupID              uint64  `json:"cgroup_id,omitempty" jsonschema:"only flows whose local socket at either end is in this cgroup v2 id (live capture)"`
	snapshotArg
}

func (a flowFilterArgs) matcher() (func(*sdk.Flow) bool, error) {
	var ip, cip, sip netip.Addr
	for _, x := range []struct {
		name, v string
		into    *netip.Addr
	}{{"ip", a.IP, &ip}, {"client_ip", a.ClientIP, &cip}, {"server_ip", a.ServerIP, &sip}} {
		if x.v == "" {
			continue
		}
		p, err := netip.ParseAddr(x.v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %q is not an IP address", ErrBadArgument, x.name, x.v)
		}
		*x.into = p.Unmap()
	}
	if a.Transport != "" {
		if err := oneOf("transport", a.Transport, "tcp", "udp"); err != nil {
			return nil, err
		}
	}
	if a.State != "" {
		if err := oneOf("state", a.State, "open", "closed", "reset", "half-closed", "active"); err != nil {
			return nil, err
		}
	}
	if a.Port < 0 || a.Port > 65535 || a.ServerPort < 0 || a.ServerPort > 65535 {
		return nil, fmt.Errorf("%w: ports are 1..65535; omit port to match any", ErrBadArgument)
	}
	same := func(want netip.Addr, got string) bool {
		if !want.IsValid() {
			return true
		}
		g, err := netip.ParseAddr(got)
		return err == nil && g.Unmap() == want
	}
	return func(f *sdk.Flow) bool {
		switch {
		case ip.IsValid() && !same(ip, f.Client.IP) && !same(ip, f.Server.IP):
			return false
		case !same(cip, f.Client.IP), !same(sip, f.Server.IP):
			return false
		case a.Port != 0 && int(f.Client.Port) != a.Port && int(f.Server.Port) != a.Port:
			return false
		case a.ServerPort != 0 && int(f.Server.Port) != a.ServerPort:
			return false
		case a.Transport != "" && f.Transport != a.Transport:
			return false
		case a.Protocol != "" && !strings.EqualFold(f.Protocol, a.Protocol):
			return false
		case a.State != "" && f.State != a.State:
			return false
		case a.MinHandshakeRTTMs > 0 && (f.HandshakeRTTMs == nil || *f.HandshakeRTTMs < a.MinHandshakeRTTMs):
			return false
		case a.MinRetransmissionRate > 0 && f.RetransmissionRate < a.MinRetransmissionRate:
			return false
		case a.MinBytes > 0 && int64(f.ClientToServer.Bytes+f.ServerToClient.Bytes) < a.MinBytes:
			return false
		case (a.PID != 0 || a.Comm != "" || a.CgroupID != 0) && !anyProcess(f, func(p *sdk.Process) bool {
			return (a.PID == 0 || p.PID == a.PID) && (a.Comm == "" || p.Comm == a.Comm) && (a.CgroupID == 0 || p.CgroupID == a.CgroupID)
		}):
			return false
		}
		return true
	}, nil
}

// anyProcess reports whether a local end of f has a process that passes ok.
func anyProcess(f *sdk.Flow, ok func(*sdk.Process) bool) bool {
	for _, p := range []*sdk.Process{f.Client.Process, f.Server.Process} {
		if p != nil && ok(p) {
			return true
		}
	}
	return false
}

type listFlowsArgs struct {
	flowFilterArgs
	Sort   string `json:"sort,omitempty" jsonschema:"start (default, oldest first), handshake_rtt, retransmission_rate, bytes or duration (largest first)"`
	Limit  int    `json:"limit,omitempty" jsonschema:"page size, default 50, at most 1000"`
	Cursor string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page (sort=start only)"`
}

// ListFlowsResult is list_l4_flows' answer.
type ListFlowsResult struct {
	Flows      []FlowView `json:"flows"`
	Returned   int        `json:"returned"`
	NextCursor string     `json:"next_cursor,omitempty"`
	Truncated  bool       `json:"truncated"`
	Window     Window     `json:"window"`
}

// scanFlows visits the flows in w that pass match, up to maxFlowScan; it
// reports whether it stopped early.
func (s *Server) scanFlows(ctx context.Context, snap string, w window, match func(*sdk.Flow) bool, fn func(*sdk.Flow)) (bool, error) {
	st, err := s.storeFor(ctx, snap)
	if err != nil {
		return false, err
	}
	q := storage.FlowQuery{Since: w.Start, Until: w.End, Match: match, Limit: 5000}
	seen := 0
	for {
		p, err := st.Flows(ctx, q)
		if err != nil {
			return false, err
		}
		for _, f := range p.Flows {
			if seen == maxFlowScan {
				return true, nil
			}
			seen++
			fn(f)
		}
		if p.Next == "" {
			return false, nil
		}
		q.Cursor = p.Next
	}
}

func (s *Server) listFlows(ctx context.Context, a listFlowsArgs) (ListFlowsResult, string, error) {
	var res ListFlowsResult
	limit, err := clampLimit("limit", a.Limit, 50, 1000)
	if err != nil {
		return res, "", err
	}
	if a.Sort == "" {
		a.Sort = "start"
	}
	if err := oneOf("sort", a.Sort, "start", "handshake_rtt", "retransmission_rate", "bytes", "duration"); err != nil {
		return res, "", err
	}
	w, err := s.window(ctx, a.Start, a.End)
	if err != nil {
		return res, "", err
	}
	match, err := a.matcher()
	if err != nil {
		return res, "", err
	}
	res.Window = w.out()
	if a.Sort == "start" {
		st, err := s.storeFor(ctx, a.Snapshot)
		if err != nil {
			return res, "", err
		}
		// A page whose JSON would pass the answer limit is asked for again
		// with fewer flows, so that the store's cursor continues exactly
		// after the last one shown.
		for {
			p, err := st.Flows(ctx, storage.FlowQuery{Since: w.Start, Until: w.End, Match: match, Limit: limit, Cursor: a.Cursor})
			if err != nil {
				return res, "", err
			}
			res.Flows = make([]FlowView, 0, len(p.Flows))
			for _, f := range p.Flows {
				res.Flows = append(res.Flows, toFlowView(f))
			}
			res.NextCursor, res.Truncated = p.Next, p.Next != ""
			b, _ := marshalCompact(res)
			if len(b) <= s.opts.MaxResultBytes || limit == 1 {
				break
			}
			limit = max(1, limit*s.opts.MaxResultBytes/len(b)*9/10)
		}
	} else {
		if a.Cursor != "" {
			return res, "", fmt.Errorf("%w: cursor works with sort=start only; narrow the window or filters instead", ErrBadArgument)
		}
		var all []*sdk.Flow
		capped, err := s.scanFlows(ctx, a.Snapshot, w, match, func(f *sdk.Flow) { all = append(all, f) })
		if err != nil {
			return res, "", err
		}
		key := flowSortKey(a.Sort)
		sort.SliceStable(all, func(i, j int) bool { return key(all[i]) > key(all[j]) })
		res.Truncated = capped || len(all) > limit
		if len(all) > limit {
			all = all[:limit]
		}
		res.Flows = make([]FlowView, 0, len(all))
		for _, f := range all {
			res.Flows = append(res.Flows, toFlowView(f))
		}
	}
	res.Returned = len(res.Flows)
	var b strings.Builder
	fmt.Fprintf(&b, "%d flows (sorted by %s)", res.Returned, a.Sort)
	if res.Truncated && res.NextCursor == "" {
		b.WriteString(", more match")
	}
	if len(res.Flows) > 0 {
		b.WriteString("; first: " + flowLine(res.Flows[0]))
	}
	return res, b.String(), nil
}

func flowSortKey(by string) func(*sdk.Flow) float64 {
	switch by {
	case "handshake_rtt":
		return func(f *sdk.Flow) float64 {
			if f.HandshakeRTTMs == nil {
				return -1
			}
			return *f.HandshakeRTTMs
		}
	case "retransmission_rate":
		return func(f *sdk.Flow) float64 { return f.RetransmissionRate }
	case "bytes":
		return func(f *sdk.Flow) float64 { return float64(f.ClientToServer.Bytes + f.ServerToClient.Bytes) }
	}
	return func(f *sdk.Flow) float64 { return f.DurationMs }
}

func ms(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.2fms", *p)
}

// flowLine is one flow as a log line.
func flowLine(f FlowView) string {
	proto := f.Protocol
	if proto == "" {
		proto = "?"
	}
	retx := f.ClientToServer.Retransmissions + f.ServerToClient.Retransmissions
	line := fmt.Sprintf("%s %s %s → %s %s state=%s handshake_rtt=%s retx=%d (%.1f%%) bytes=%d/%d records=%d",
		f.Start.UTC().Format("2006-01-02T15:04:05.000Z"), f.Transport, f.Client.String(), f.Server.String(), proto, f.State,
		ms(f.HandshakeRTTMs), retx, 100*f.RetransmissionRate, f.ClientToServer.Bytes, f.ServerToClient.Bytes, f.Records)
	if f.Client.Process != nil || f.Server.Process != nil {
		line += " process=" + ProcessName(f.Client.Process) + "→" + ProcessName(f.Server.Process)
	}
	if k := f.Kernel; k != nil {
		line += fmt.Sprintf(" kernel_retx=%d resets_sent=%d resets_received=%d", k.Retransmits, k.ResetsSent, k.ResetsReceived)
	}
	return line + " [" + f.ID + "]"
}

// ProcessName renders a local process as comm(pid) cgroup=ID, "-" for a
// remote end or one not known.
func ProcessName(p *sdk.Process) string {
	if p == nil {
		return "-"
	}
	s := p.Comm
	if s == "" {
		s = "?"
	}
	if p.PID != 0 {
		s += fmt.Sprintf("(%d)", p.PID)
	}
	if p.CgroupID != 0 {
		s += fmt.Sprintf(" cgroup=%d", p.CgroupID)
	}
	return s
}

type flowSummaryArgs struct {
	flowFilterArgs
	Top int `json:"top,omitempty" jsonschema:"how many top talkers, default 10, at most 100"`
}

// Percentiles are latency or RTT percentiles in milliseconds.
type Percentiles struct {
	Samples int     `json:"samples"`
	P50     float64 `json:"p50_ms"`
	P95     float64 `json:"p95_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
}

func percentiles(v []float64) Percentiles {
	if len(v) == 0 {
		return Percentiles{}
	}
	sort.Float64s(v)
	at := func(q float64) float64 {
		i := int(q*float64(len(v))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(v) {
			i = len(v) - 1
		}
		return v[i]
	}
	return Percentiles{Samples: len(v), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: v[len(v)-1]}
}

// Talker is one client→server pair with its traffic.
type Talker struct {
	Client  string `json:"client"`
	Server  string `json:"server"`
	Flows   int    `json:"flows"`
	Bytes   uint64 `json:"bytes"`
	Packets uint64 `json:"packets"`
}

// FlowSummaryResult is get_l4_flow_summary's answer.
type FlowSummaryResult struct {
	Window       Window         `json:"window"`
	Flows        int            `json:"flows"`
	ByTransport  map[string]int `json:"by_transport"`
	ByState      map[string]int `json:"by_state"`
	ByProtocol   map[string]int `json:"by_protocol"`
	Bytes        uint64         `json:"bytes"`
	Packets      uint64         `json:"packets"`
	HandshakeRTT Percentiles    `json:"handshake_rtt"`
	// Retransmissions and the other expert counters are summed over both
	// directions of every flow.
	Retransmissions uint64   `json:"retransmissions"`
	DataPackets     uint64   `json:"data_packets"`
	Resets          int      `json:"resets"`
	TopByBytes      []Talker `json:"top_by_bytes"`
	TopByPackets    []Talker `json:"top_by_packets"`
	Truncated       bool     `json:"truncated" jsonschema:"more flows matched than one answer scans (200000); narrow the window"`
}

func (s *Server) flowSummary(ctx context.Context, a flowSummaryArgs) (FlowSummaryResult, string, error) {
	res := FlowSummaryResult{ByTransport: map[string]int{}, ByState: map[string]int{}, ByProtocol: map[string]int{}, TopByBytes: []Talker{}, TopByPackets: []Talker{}}
	top, err := clampLimit("top", a.Top, 10, 100)
	if err != nil {
		return res, "", err
	}
	w, err := s.window(ctx, a.Start, a.End)
	if err != nil {
		return res, "", err
	}
	match, err := a.matcher()
	if err != nil {
		return res, "", err
	}
	res.Window = w.out()
	var rtts []float64
	talkers := map[string]*Talker{}
	res.Truncated, err = s.scanFlows(ctx, a.Snapshot, w, match, func(f *sdk.Flow) {
		res.Flows++
		res.ByTransport[f.Transport]++
		res.ByState[f.State]++
		p := f.Protocol
		if p == "" {
			p = "unknown"
		}
		res.ByProtocol[p]++
		bytes := f.ClientToServer.Bytes + f.ServerToClient.Bytes
		pkts := f.ClientToServer.Packets + f.ServerToClient.Packets
		res.Bytes += bytes
		res.Packets += pkts
		res.Retransmissions += f.ClientToServer.Retransmissions + f.ServerToClient.Retransmissions
		res.DataPackets += f.ClientToServer.DataPackets + f.ServerToClient.DataPackets
		if f.State == "reset" {
			res.Resets++
		}
		if f.HandshakeRTTMs != nil {
			rtts = append(rtts, *f.HandshakeRTTMs)
		}
		key := f.Client.IP + "→" + f.Server.String()
		t := talkers[key]
		if t == nil {
			t = &Talker{Client: f.Client.IP, Server: f.Server.String()}
			talkers[key] = t
		}
		t.Flows++
		t.Bytes += bytes
		t.Packets += pkts
	})
	if err != nil {
		return res, "", err
	}
	res.HandshakeRTT = percentiles(rtts)
	all := make([]Talker, 0, len(talkers))
	for _, t := range talkers {
		all = append(all, *t)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Bytes != all[j].Bytes {
			return all[i].Bytes > all[j].Bytes
		}
		return all[i].Client+all[i].Server < all[j].Client+all[j].Server
	})
	res.TopByBytes = append(res.TopByBytes, all[:min(top, len(all))]...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Packets > all[j].Packets })
	res.TopByPackets = append(res.TopByPackets, all[:min(top, len(all))]...)
	text := fmt.Sprintf("%d flows, %d bytes, %d packets; handshake RTT p50 %.2fms p95 %.2fms p99 %.2fms (%d samples); %d retransmissions over %d data packets; %d reset",
		res.Flows, res.Bytes, res.Packets, res.HandshakeRTT.P50, res.HandshakeRTT.P95, res.HandshakeRTT.P99, res.HandshakeRTT.Samples, res.Retransmissions, res.DataPackets, res.Resets)
	if len(res.TopByBytes) > 0 {
		t := res.TopByBytes[0]
		text += fmt.Sprintf("; top talker %s → %s (%d bytes in %d flows)", t.Client, t.Server, t.Bytes, t.Flows)
	}
	return res, text, nil
}
