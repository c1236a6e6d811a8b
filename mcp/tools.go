package mcp

// allTools lists every tool in the order clients see them: calls first (what
// assistants reach for), then aggregates, flows, security, inventory and
// administration.
func (s *Server) allTools() []tool {
	var out []tool
	out = append(out, s.callTools()...)
	out = append(out, s.analysisTools()...)
	out = append(out,
		newTool(toolSpec{name: "list_l4_flows", title: "List L4 flows",
			desc: "TCP connections and UDP flows with their TCP figures (handshake RTT, retransmissions, resets, bytes). Filter by endpoint, protocol, state or thresholds such as min_handshake_rtt_ms=10 or min_retransmission_rate=0.01; sort by start, handshake_rtt, retransmission_rate, bytes or duration."},
			s.listFlows),
		newTool(toolSpec{name: "get_l4_flow_summary", title: "L4 flow summary",
			desc: "Totals over the flows in a window: counts by transport, state and protocol, bytes and packets, handshake RTT percentiles, retransmissions, resets, and the top talkers by bytes and by packets."},
			s.flowSummary),
		newTool(toolSpec{name: "get_tcp_insights", title: "TCP insights",
			desc: "TCP expert analysis (Wireshark's tcp.analysis figures) for one connection (id, or call_id for the connection that carried an API call) or for every flow matching filters: retransmissions and fast retransmissions, out-of-order, duplicate ACKs, lost segments, zero-window and window-full, resets, RTT, time to first byte, with findings ranked worst first."},
			s.tcpInsights),
		newTool(toolSpec{name: "get_data_boundaries", title: "Data boundaries",
			desc: "The time range and counts of the records, L4 flows and raw packets held. Call this first to know which window to ask about."},
			s.boundaries),
		newTool(toolSpec{name: "list_dissectors", title: "List dissectors",
			desc: "The protocol dissectors (WebAssembly modules): name, version, protocols, source, whether enabled."},
			s.listDissectors),
		newTool(toolSpec{name: "get_dissection_status", title: "Dissection status",
			desc: "Which dissectors are enabled for the next import, and how many records of each protocol are stored."},
			s.dissectionStatus),
		newTool(toolSpec{name: "enable_dissection", title: "Enable dissection", destructive: true,
			desc: "Turn a dissector (or, without name, all dissection) back on for the following imports. Needs a server started with --allow-destructive."},
			s.setDissection(true)),
		newTool(toolSpec{name: "disable_dissection", title: "Disable dissection", destructive: true,
			desc: "Turn a dissector (or, without name, all dissection) off for the following imports; stored records stay. Needs a server started with --allow-destructive."},
			s.setDissection(false)),
	)
	out = append(out, s.snapshotTools()...)
	return out
}
