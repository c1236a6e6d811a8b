package sdk

import "time"

// Flow is one L4 connection (TCP) or flow (UDP) as the host saw it, with the
// TCP expert figures that explain slow or broken exchanges: the L4 half of
// the data contract, beside Record. A record's Stream is the ID of the flow
// that carried it. Dissectors never fill flows; the host does.
type Flow struct {
	// ID is the stream id records carry in Record.Stream.
	ID string `json:"id"`
	// Transport is "tcp" or "udp".
	Transport string `json:"transport"`
	// Client opened the connection (sent the SYN, or the first datagram);
	// when the capture missed the handshake it is the side the dissector
	// recognised as the client, or the first sender.
	Client Endpoint `json:"client"`
	Server Endpoint `json:"server"`
	// Protocol is the L7 protocol a dissector recognised, "" when none did.
	Protocol string `json:"protocol,omitempty"`
	// Records is how many records the flow produced.
	Records int `json:"records"`
	// Start and End are the capture times of the first and last packet.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// DurationMs is End - Start.
	DurationMs float64 `json:"duration_ms"`
	// State is "open" (no end seen), "closed" (FIN both ways), "reset" (RST),
	// "half-closed" (FIN one way only) or, for UDP, "active".
	State string `json:"state"`
	// CloseReason is why tracking ended: fin, rst, idle, evicted, flush
	// (end of capture) or reused (a new SYN on the same ports).
	CloseReason string `json:"close_reason,omitempty"`
	// HandshakeSeen is true when SYN, SYN-ACK and the final ACK were all
	// captured.
	HandshakeSeen bool `json:"handshake_seen"`
	// Completeness is Wireshark's tcp.completeness bit set: 1 SYN, 2 SYN-ACK,
	// 4 ACK, 8 data, 16 FIN, 32 RST. 31 or 47 (or 63) is a complete
	// connection.
	Completeness int `json:"completeness"`
	// Complete is true when the connection was seen from handshake to
	// FIN or RST with data in between.
	Complete bool `json:"complete"`

	// Handshake timings, present when the packets were captured: SYN to
	// SYN-ACK (the server's side of the RTT), SYN-ACK to ACK (the client's
	// side) and their sum, the handshake RTT.
	SynAckMs       *float64 `json:"syn_ack_ms,omitempty"`
	AckMs          *float64 `json:"ack_ms,omitempty"`
	HandshakeRTTMs *float64 `json:"handshake_rtt_ms,omitempty"`
	// TimeToFirstByteMs runs from the client's first payload byte to the
	// server's first payload byte.
	TimeToFirstByteMs *float64 `json:"time_to_first_byte_ms,omitempty"`
	// RTT is measured from data segments to the ACKs that cover them
	// (Karn's rule: retransmitted segments give no sample).
	RTT *RTTStats `json:"rtt,omitempty"`

	// ClientToServer and ServerToClient count each direction.
	ClientToServer FlowDirection `json:"client_to_server"`
	ServerToClient FlowDirection `json:"server_to_client"`
	// RetransmissionRate is retransmitted data segments over all data
	// segments, both directions, 0..1.
	RetransmissionRate float64 `json:"retransmission_rate"`

	// PID, Comm and CgroupID name the flow's local process (the client's
	// when both ends are local): Client.Process or Server.Process in short,
	// for filters and listings. Live capture only; zero otherwise.
	PID      int    `json:"pid,omitempty"`
	Comm     string `json:"comm,omitempty"`
	CgroupID uint64 `json:"cgroup_id,omitempty"`
	// Kernel is what the kernel's TCP events said about the connection
	// during live capture; nil for captures read from files.
	Kernel *KernelFlow `json:"kernel,omitempty"`
}

// KernelFlow is a connection's life as the kernel's TCP tracepoints
// reported it: it counts what the local sockets did, which the packets may
// not show (a retransmission lost before the capture point, a reset sent to
// a peer that is gone).
type KernelFlow struct {
	// OpenedAt is the first event of the connection (connect, or the
	// passive open); ClosedAt when its last local socket reached CLOSE.
	OpenedAt *time.Time `json:"opened_at,omitempty"`
	ClosedAt *time.Time `json:"closed_at,omitempty"`
	// Retransmits counts segments the local sockets sent again.
	Retransmits uint64 `json:"retransmits"`
	// ResetsSent and ResetsReceived count RSTs the local sockets sent and
	// received.
	ResetsSent     uint64 `json:"resets_sent"`
	ResetsReceived uint64 `json:"resets_received"`
	// States is each local socket's last TCP state, client's first
	// ("CLOSE", "ESTABLISHED", ...).
	States []string `json:"states,omitempty"`
}

// RTTStats summarises round-trip samples in milliseconds.
type RTTStats struct {
	Samples int     `json:"samples"`
	MinMs   float64 `json:"min_ms"`
	AvgMs   float64 `json:"avg_ms"`
	MaxMs   float64 `json:"max_ms"`
	// JitterMs is the mean absolute difference between consecutive
	// samples (RFC 3550's idea, without its smoothing).
	JitterMs float64 `json:"jitter_ms"`
}

// FlowDirection counts one direction of a flow. The TCP expert counters
// follow Wireshark's tcp.analysis definitions so that figures can be checked
// against it.
type FlowDirection struct {
	Packets uint64 `json:"packets"`
	// Bytes is payload bytes (TCP or UDP), retransmissions included;
	// WireBytes is whole frames as captured on the wire.
	Bytes     uint64 `json:"bytes"`
	WireBytes uint64 `json:"wire_bytes"`
	// DataPackets carry payload.
	DataPackets uint64 `json:"data_packets"`

	Retransmissions     uint64 `json:"retransmissions"`
	FastRetransmissions uint64 `json:"fast_retransmissions"`
	OutOfOrder          uint64 `json:"out_of_order"`
	DupAcks             uint64 `json:"dup_acks"`
	// LostSegments counts gaps: a segment starting beyond the next expected
	// sequence number (Wireshark's "previous segment not captured").
	LostSegments uint64 `json:"lost_segments"`
	ZeroWindow   uint64 `json:"zero_window"`
	// WindowFull counts segments that filled the receiver's advertised
	// window. It needs the window scale from the handshake; when the
	// capture missed it, nothing is counted (as in Wireshark).
	WindowFull uint64 `json:"window_full"`
	KeepAlives uint64 `json:"keep_alives"`
	RST        uint64 `json:"rst"`
	FIN        uint64 `json:"fin"`
}
