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
			desc: "TCP connections and UDP flows with their TCP figures (handshake RTT, retransmissions, resets, bytes). Filter by endpoint, protocol, state, local process (pid, comm, cgroup_id: live capture) or thresholds such as min_handshake_rtt_ms=10 or min_retransmission_rate=0.01; sort by start, handshake_rtt, retransmission_rate, bytes or duration. Use it for connection-level problems (slow handshakes, retransmissions, resets) or traffic with no L7 records. Flows from live capture also carry each local end's process (pid, comm, cgroup_id) and kernel: the kernel's own retransmit and reset counts and open/close times. Next: get_tcp_insights on a flow id."},
			s.listFlows),
		newTool(toolSpec{name: "get_l4_flow_summary", title: "L4 flow summary",
			desc: "Totals over the flows in a window: counts by transport, state and protocol, bytes and packets, handshake RTT percentiles, retransmissions, resets, and the top talkers by bytes and by packets. Use it for the L4 picture of a window. Next: list_l4_flows sorted by the figure that stands out."},
			s.flowSummary),
		newTool(toolSpec{name: "get_tcp_insights", title: "TCP insights",
			desc: "TCP expert analysis (Wireshark's tcp.analysis figures) for one connection (id, or call_id for the connection that carried an API call) or for every flow matching filters: retransmissions and fast retransmissions, out-of-order, duplicate ACKs, lost segments, zero-window and window-full, resets, RTT, time to first byte, with findings ranked worst first. Use it when calls are slow or fail without an application error. Next: list_api_calls with KFL stream == \"FLOW_ID\" for the calls the connection carried."},
			s.tcpInsights),
		newTool(toolSpec{name: "get_data_boundaries", title: "Data boundaries",
			desc: "The time range and counts of the records, L4 flows and raw packets held. Call this first to know which window to ask about. Next: find_anomalies or get_api_stats over that window."},
			s.boundaries),
		newTool(toolSpec{name: "list_dissectors", title: "List dissectors",
			desc: "The protocol dissectors (WebAssembly modules): name, version, protocols, source, whether enabled. Use it to know which protocols can be dissected. Next: get_dissection_status."},
			s.listDissectors),
		newTool(toolSpec{name: "get_dissection_status", title: "Dissection status",
			desc: "Which dissectors are enabled for the next import, and how many records of each protocol are stored. Use it when a protocol you expect has no records. Next: enable_dissection, then import or start_snapshot_dissection."},
			s.dissectionStatus),
		newTool(toolSpec{name: "enable_dissection", title: "Enable dissection", destructive: true, idempotent: true,
			desc: "Turn a dissector (or, without name, all dissection) back on for the following imports. Needs a server started with --allow-destructive. Next: start_snapshot_dissection to dissect a snapshot's packets again."},
			s.setDissection(true)),
		newTool(toolSpec{name: "disable_dissection", title: "Disable dissection", destructive: true, idempotent: true,
			desc: "Turn a dissector (or, without name, all dissection) off for the following imports; stored records stay. Needs a server started with --allow-destructive. Next: get_dissection_status."},
			s.setDissection(false)),
	)
	out = append(out, s.snapshotTools()...)
	out = append(out, s.kubesharkTools()...)
	return out
}
