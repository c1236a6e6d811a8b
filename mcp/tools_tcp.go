package mcp

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

type tcpInsightsArgs struct {
	ID     string `json:"id,omitempty" jsonschema:"one flow: a flow id, or the stream of an API call"`
	CallID string `json:"call_id,omitempty" jsonschema:"one flow: the connection that carried this API call"`
	flowFilterArgs
	Top int `json:"top,omitempty" jsonschema:"how many worst flows to list, default 10"`
}

// Insight is one finding about TCP behaviour, worst first.
type Insight struct {
	// Severity is info, warning or critical.
	Severity string `json:"severity"`
	Finding  string `json:"finding"`
	FlowID   string `json:"flow_id,omitempty"`
}

// TCPInsightsResult is get_tcp_insights' answer: for one flow, its figures
// and findings; for a filter, totals and the worst flows.
type TCPInsightsResult struct {
	Flow                  *FlowView         `json:"flow,omitempty"`
	Flows                 int               `json:"flows"`
	Insights              []Insight         `json:"insights"`
	Totals                sdk.FlowDirection `json:"totals" jsonschema:"expert counters summed over both directions of every flow considered"`
	HandshakeRTT          Percentiles       `json:"handshake_rtt"`
	WorstByRetransmission []FlowView        `json:"worst_by_retransmission"`
	WorstByHandshakeRTT   []FlowView        `json:"worst_by_handshake_rtt"`
	Truncated             bool              `json:"truncated"`
}

func addDir(t *sdk.FlowDirection, d sdk.FlowDirection) {
	t.Packets += d.Packets
	t.Bytes += d.Bytes
	t.WireBytes += d.WireBytes
	t.DataPackets += d.DataPackets
	t.Retransmissions += d.Retransmissions
	t.FastRetransmissions += d.FastRetransmissions
	t.OutOfOrder += d.OutOfOrder
	t.DupAcks += d.DupAcks
	t.LostSegments += d.LostSegments
	t.ZeroWindow += d.ZeroWindow
	t.WindowFull += d.WindowFull
	t.KeepAlives += d.KeepAlives
	t.RST += d.RST
	t.FIN += d.FIN
}

// flowInsights explains one flow's figures in words, worst first.
func flowInsights(f *sdk.Flow) []Insight {
	var out []Insight
	add := func(sev, format string, args ...any) {
		out = append(out, Insight{Severity: sev, Finding: fmt.Sprintf(format, args...), FlowID: f.ID})
	}
	var t sdk.FlowDirection
	addDir(&t, f.ClientToServer)
	addDir(&t, f.ServerToClient)
	if f.State == "reset" {
		who := "a side"
		switch {
		case f.ClientToServer.RST > 0 && f.ServerToClient.RST == 0:
			who = "the client " + f.Client.String()
		case f.ServerToClient.RST > 0 && f.ClientToServer.RST == 0:
			who = "the server " + f.Server.String()
		}
		if f.Completeness&8 == 0 {
			add("critical", "connection reset by %s before any data (refused or dropped)", who)
		} else {
			add("warning", "connection reset by %s after data was exchanged", who)
		}
	}
	if f.RetransmissionRate >= 0.05 {
		add("critical", "%.1f%% of data segments retransmitted (%d, %d fast): packet loss or congestion", 100*f.RetransmissionRate, t.Retransmissions, t.FastRetransmissions)
	} else if t.Retransmissions > 0 {
		add("warning", "%d retransmissions (%.1f%% of data segments, %d fast)", t.Retransmissions, 100*f.RetransmissionRate, t.FastRetransmissions)
	}
	if k := f.Kernel; k != nil {
		// What the local sockets did that the packets may not show.
		if k.Retransmits > t.Retransmissions {
			add("warning", "the kernel retransmitted %d segments on this connection, %d more than the captured packets show (lost before the capture point, or not captured)", k.Retransmits, k.Retransmits-t.Retransmissions)
		}
		if k.ResetsSent+k.ResetsReceived > 0 && f.State != "reset" {
			add("warning", "the kernel counted %d resets sent and %d received for this connection that the captured packets do not show", k.ResetsSent, k.ResetsReceived)
		}
	}
	if t.ZeroWindow > 0 {
		add("warning", "%d zero-window advertisements: a receiver could not keep up (server→client %d, client→server %d)", t.ZeroWindow, f.ServerToClient.ZeroWindow, f.ClientToServer.ZeroWindow)
	}
	if t.WindowFull > 0 {
		add("warning", "%d window-full events: the sender was limited by the receiver's window", t.WindowFull)
	}
	if t.LostSegments > 0 {
		add("warning", "%d segments missing from the capture or lost on the wire", t.LostSegments)
	}
	if t.DupAcks > 2 {
		add("info", "%d duplicate ACKs", t.DupAcks)
	}
	if t.OutOfOrder > 0 {
		add("info", "%d out-of-order segments", t.OutOfOrder)
	}
	if f.HandshakeRTTMs != nil && *f.HandshakeRTTMs >= 100 {
		add("warning", "slow handshake: %.1fms (SYN→SYN-ACK %s, SYN-ACK→ACK %s)", *f.HandshakeRTTMs, ms(f.SynAckMs), ms(f.AckMs))
	}
	if f.RTT != nil && f.RTT.Samples > 1 && f.RTT.JitterMs > f.RTT.AvgMs && f.RTT.AvgMs > 0 {
		add("info", "RTT jitter %.2fms exceeds the average RTT %.2fms", f.RTT.JitterMs, f.RTT.AvgMs)
	}
	if f.TimeToFirstByteMs != nil && *f.TimeToFirstByteMs >= 1000 {
		add("warning", "server took %.0fms to send its first byte", *f.TimeToFirstByteMs)
	}
	if f.Transport == "tcp" && !f.HandshakeSeen {
		add("info", "handshake not captured (the capture started mid-connection): handshake RTT unknown")
	}
	if len(out) == 0 {
		add("info", "no TCP problems seen: %d packets, handshake RTT %s", t.Packets, ms(f.HandshakeRTTMs))
	}
	return out
}

var severityRank = map[string]int{"critical": 0, "warning": 1, "info": 2}

func (s *Server) tcpInsights(ctx context.Context, a tcpInsightsArgs) (TCPInsightsResult, string, error) {
	res := TCPInsightsResult{Insights: []Insight{}, WorstByRetransmission: []FlowView{}, WorstByHandshakeRTT: []FlowView{}}
	st, err := s.storeFor(ctx, a.Snapshot)
	if err != nil {
		return res, "", err
	}
	id := a.ID
	if a.CallID != "" {
		rec, err := st.Get(ctx, a.CallID)
		if err != nil {
			return res, "", notFound(err, "call", a.CallID, callHint)
		}
		id = rec.Stream
	}
	if id != "" {
		f, err := st.Flow(ctx, id)
		if err != nil {
			return res, "", notFound(err, "flow", id, flowHint)
		}
		v := toFlowView(f)
		res.Flow, res.Flows = &v, 1
		addDir(&res.Totals, f.ClientToServer)
		addDir(&res.Totals, f.ServerToClient)
		if f.HandshakeRTTMs != nil {
			res.HandshakeRTT = percentiles([]float64{*f.HandshakeRTTMs})
		}
		res.Insights = flowInsights(f)
		return res, insightsText(res), nil
	}
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
	var all []*sdk.Flow
	var rtts []float64
	res.Truncated, err = s.scanFlows(ctx, a.Snapshot, w, func(f *sdk.Flow) bool { return f.Transport == "tcp" && match(f) }, func(f *sdk.Flow) {
		all = append(all, f)
		addDir(&res.Totals, f.ClientToServer)
		addDir(&res.Totals, f.ServerToClient)
		if f.HandshakeRTTMs != nil {
			rtts = append(rtts, *f.HandshakeRTTMs)
		}
	})
	if err != nil {
		return res, "", err
	}
	if len(all) == 0 {
		return res, "", errors.New("no TCP flows match; widen the window (get_data_boundaries shows what is held) or loosen the filters")
	}
	res.Flows = len(all)
	res.HandshakeRTT = percentiles(rtts)
	for _, f := range all {
		for _, in := range flowInsights(f) {
			if in.Severity != "info" {
				res.Insights = append(res.Insights, in)
			}
		}
	}
	sort.SliceStable(res.Insights, func(i, j int) bool {
		return severityRank[res.Insights[i].Severity] < severityRank[res.Insights[j].Severity]
	})
	if len(res.Insights) > 50 {
		res.Insights, res.Truncated = res.Insights[:50], true
	}
	byRetx := append([]*sdk.Flow(nil), all...)
	sort.SliceStable(byRetx, func(i, j int) bool { return byRetx[i].RetransmissionRate > byRetx[j].RetransmissionRate })
	for _, f := range byRetx[:min(top, len(byRetx))] {
		if f.RetransmissionRate > 0 {
			res.WorstByRetransmission = append(res.WorstByRetransmission, toFlowView(f))
		}
	}
	byRTT := append([]*sdk.Flow(nil), all...)
	key := flowSortKey("handshake_rtt")
	sort.SliceStable(byRTT, func(i, j int) bool { return key(byRTT[i]) > key(byRTT[j]) })
	for _, f := range byRTT[:min(top, len(byRTT))] {
		if f.HandshakeRTTMs != nil {
			res.WorstByHandshakeRTT = append(res.WorstByHandshakeRTT, toFlowView(f))
		}
	}
	return res, insightsText(res), nil
}

// insightsText is get_tcp_insights' summary line: the flow or the totals,
// and the worst finding.
func insightsText(res TCPInsightsResult) string {
	var b strings.Builder
	if res.Flow != nil {
		b.WriteString(flowLine(*res.Flow))
	} else {
		fmt.Fprintf(&b, "%d TCP flows: %d retransmissions (%d fast), %d dup ACKs, %d lost segments, %d zero-window, %d resets; handshake RTT p50 %.2fms p95 %.2fms max %.2fms",
			res.Flows, res.Totals.Retransmissions, res.Totals.FastRetransmissions, res.Totals.DupAcks, res.Totals.LostSegments, res.Totals.ZeroWindow, res.Totals.RST,
			res.HandshakeRTT.P50, res.HandshakeRTT.P95, res.HandshakeRTT.Max)
	}
	if len(res.Insights) > 0 {
		in := res.Insights[0]
		fmt.Fprintf(&b, "; %d findings, worst: [%s] %s", len(res.Insights), in.Severity, in.Finding)
	}
	return b.String()
}
