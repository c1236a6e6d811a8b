// Package reassembly turns captured TCP segments and UDP datagrams into
// ordered per-connection byte streams.
//
// It sits between link/IP decoding (which yields packet.Segment values) and
// the protocol dissectors: capture → decode → reassembly → dissectors →
// storage. An Assembler tracks connections by their unordered 5-tuple and
// reports each one to a Handler as Open, a series of Data and Gap calls per
// direction, and exactly one Close. A Handler that also implements
// SegmentHandler is shown every segment of a connection as well, for the
// per-connection TCP analysis of runtime/flow.
//
// # Policies
//
// Sequence numbers are compared modulo 2^32. Bytes that lie wholly before the
// next expected sequence number are retransmissions and are dropped (and
// counted). Overlaps are resolved "first copy wins": a segment that partly
// overlaps bytes already delivered is trimmed and only its new tail is used,
// and a segment that overlaps bytes already buffered out of order keeps the
// buffered bytes and only fills the holes around them. Differing content in
// a retransmission is therefore never seen by the Handler.
//
// Out-of-order bytes are copied and held until the hole before them is
// filled. A hole is given up on, reported with Gap and skipped when the
// connection's buffered bytes exceed Config.MaxBufferedPerConn, when all
// connections together exceed Config.MaxBufferedTotal (the connection that
// has been buffering longest gives way), when the peer acknowledges bytes at
// or beyond the end of the hole (it received them, so they will not be sent
// again), or when the connection ends (FIN in both directions, RST, idle
// timeout, eviction, FlushAll). Segments starting more than 1 GiB ahead of
// the expected sequence number are not plausible and are ignored.
//
// SYN and FIN each consume one sequence number. Payload beyond a direction's
// FIN is ignored. A keep-alive probe (one byte at next-1) is neither data nor
// a gap. After FIN in both directions or RST a connection is closed but its
// 5-tuple is remembered for the TCP idle timeout so that late segments are
// ignored rather than opening a spurious connection; a new SYN on that
// 5-tuple starts a new connection at once.
//
// A connection first seen mid-stream (no SYN or SYN-ACK) is unoriented: A is
// whoever sent the first segment seen, and each direction starts at the
// first segment seen in it, so bytes sent before that point are treated as
// retransmissions rather than gaps.
//
// All times are capture times taken from the segments, so replaying a file
// expires connections exactly as live capture would.
//
// An Assembler is not safe for concurrent use, and a Handler must not call
// back into the Assembler that is calling it. The pipeline shards flows by
// hash onto several assemblers instead.
package reassembly
