// Package flow computes the L4 half of the data contract, sdk.Flow: per
// connection packet and byte counts, Wireshark's TCP expert figures
// (tcp.analysis: retransmissions, fast retransmissions, out-of-order,
// duplicate ACKs, lost segments, zero and full windows, keep-alives),
// handshake timings, round-trip samples and time to first byte.
//
// It sits beside the dissectors in the data flow: capture → decode →
// reassembly → {dissectors → records, flow → flows} → storage. The
// reassembler shows the pipeline every segment of a connection
// (reassembly.SegmentHandler); the pipeline feeds them, as captured and in
// capture order, to the connection's Tracker and asks it for the sdk.Flow
// when the connection closes.
//
// # Definitions
//
// The counters follow Wireshark's tcp_analyze_sequence_number so that a flow
// can be checked against tshark: each segment is classified relative to the
// highest sequence number seen so far in its direction ("next expected"),
// the last ACK and window the peer sent, and the peer's run of duplicate
// ACKs. Out-of-order and retransmission are told apart by time, as
// Wireshark does: a segment behind the next expected sequence number that
// arrives within the connection's initial RTT (3 ms when the handshake was
// not seen) of the segment that set it is out of order, later ones are
// retransmissions, and one that matches the peer's run of at least two
// duplicate ACKs within 20 ms of the last one is a fast retransmission. What
// Wireshark calls a spurious retransmission (data the peer had already
// acknowledged) is counted as a retransmission.
//
// Window full needs the window scale negotiated in the handshake; when the
// handshake was not captured the scale is unknown and, like Wireshark, the
// tracker does not count it.
//
// Completeness is Wireshark's tcp.completeness, whose ACK bit any bare ACK
// sets; HandshakeSeen is stricter and asks for the ACK of the SYN-ACK. Time
// to first byte runs from the client's first payload to the server's first
// payload at or after it, so a server that greets first (SMTP, FTP) is timed
// on its answer to the client's first command, not on its greeting.
//
// Round-trip samples run from a data segment to the first ACK that covers
// it, measured from the newest segment the ACK covers. Karn's rule applies:
// once bytes are sent again (or arrive out of order), the ACKs that cover
// them and everything sent after them give no sample. At most 64 segments
// per direction wait for their ACK; more are not sampled, which bounds a
// Tracker's memory whatever the connection does.
//
// Sequence numbers are compared modulo 2^32, so connections that wrap
// around are counted like any other.
package flow
