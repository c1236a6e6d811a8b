package flow

import (
	"net/netip"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

const (
	// maxOutstanding bounds the data segments per direction that wait for
	// an ACK to give a round-trip sample.
	maxOutstanding = 64
	// fastRetransWindow is how soon after the peer's last duplicate ACK a
	// retransmission counts as fast (Wireshark's 20 ms).
	fastRetransWindow = int64(20 * time.Millisecond)
	// defaultReorderWindow separates out-of-order from retransmitted
	// segments when the handshake did not give an initial RTT (Wireshark's
	// 3 ms).
	defaultReorderWindow = int64(3 * time.Millisecond)
)

// Completeness bits, as in Wireshark's tcp.completeness.
const (
	compSYN    = 1
	compSYNACK = 2
	compACK    = 4
	compData   = 8
	compFIN    = 16
	compRST    = 32
)

// sent is a data segment waiting for the ACK that covers it.
type sent struct {
	start, end uint32
	// at is its capture time in Unix ns, or 0 once Karn's rule says the ACK
	// that covers it cannot be told apart from the ACK of a resend.
	at int64
}

// queue holds the outstanding segments of one direction in sequence order.
// It is a slice consumed from head and compacted in place, so once it has
// grown to its bound it never allocates again.
type queue struct {
	s    []sent
	head int
}

func (q *queue) len() int { return len(q.s) - q.head }

func (q *queue) push(e sent) {
	if q.len() >= maxOutstanding {
		return
	}
	if q.head > 0 && len(q.s) == cap(q.s) {
		n := copy(q.s, q.s[q.head:])
		q.s, q.head = q.s[:n], 0
	}
	q.s = append(q.s, e)
}

// ack removes the segments ack covers and returns the newest of them.
func (q *queue) ack(ack uint32) (sent, bool) {
	var last sent
	ok := false
	for q.head < len(q.s) && seqLE(q.s[q.head].end, ack) {
		last, ok = q.s[q.head], true
		q.head++
	}
	if q.head == len(q.s) {
		q.s, q.head = q.s[:0], 0
	}
	return last, ok
}

// resent applies Karn's rule from seq on: every outstanding segment that
// ends after it loses its sample.
func (q *queue) resent(seq uint32) {
	for i := q.head; i < len(q.s); i++ {
		if seqGT(q.s[i].end, seq) {
			q.s[i].at = 0
		}
	}
}

// half is what the tracker knows about one direction: what its sender
// sent, acknowledged and advertised.
type half struct {
	stats sdk.FlowDirection
	// dataRetrans counts retransmitted segments that carried data, for the
	// retransmission rate (Retransmissions also counts SYNs and FINs).
	dataRetrans uint64

	seqKnown bool
	nextSeq  uint32 // highest sequence number sent so far, plus one
	nextAt   int64  // when nextSeq last moved

	ackKnown bool
	lastAck  uint32
	lastAt   int64 // time of the last segment with ACK set
	dupAcks  int   // current run of duplicate ACKs

	winKnown bool
	rawWin   uint16 // last advertised window as on the wire
	// win is rawWin in bytes; winBytes says the scale was known for it.
	win      uint32
	winBytes bool

	syn, wsOffered bool // a SYN was seen, and whether it offered scaling
	ws             uint8
	fin            bool

	// lastKeepAlive and lastProbe say what this direction's previous
	// segment was, so the peer's answer to it is not taken for a
	// duplicate ACK.
	lastKeepAlive, lastProbe bool

	// firstAt is this direction's first payload; replyAt the other
	// direction's first payload at or after it.
	hasFirst, hasReply bool
	firstAt, replyAt   int64

	out queue
}

// Tracker follows one TCP connection or UDP flow and computes its sdk.Flow.
// Feed it every segment of the connection, in capture order, with Observe.
// Its memory is bounded whatever the connection does. A Tracker is not safe
// for concurrent use.
type Tracker struct {
	transport  packet.Transport
	h          [2]half
	seen       bool
	start, end time.Time
	comp       int
	rst        bool

	// Handshake: the last SYN before the first SYN-ACK, the first and the
	// last SYN-ACK before the handshake's ACK, and that ACK.
	synSeen, synAckSeen, ackSeen bool
	synAckDir                    sdk.Direction
	serverISN                    uint32
	synAt, synAckFirst, synAckAt int64
	ackAt                        int64

	rtt rttStats
}

// rttStats accumulates round-trip samples in ns.
type rttStats struct {
	n               int
	min, max, sum   int64
	last, jitterSum int64
}

func (r *rttStats) add(ns int64) {
	if r.n == 0 || ns < r.min {
		r.min = ns
	}
	if ns > r.max {
		r.max = ns
	}
	r.sum += ns
	if r.n > 0 {
		d := ns - r.last
		if d < 0 {
			d = -d
		}
		r.jitterSum += d
	}
	r.last = ns
	r.n++
}

// New returns a Tracker for a connection of the given transport.
func New(transport packet.Transport) *Tracker {
	t := &Tracker{}
	t.Reset(transport)
	return t
}

// Reset makes t track a new connection of the given transport, keeping the
// memory it has already allocated. It lets a Tracker live inside a larger
// per-connection struct without an allocation of its own.
func (t *Tracker) Reset(transport packet.Transport) {
	q0, q1 := t.h[0].out.s[:0], t.h[1].out.s[:0]
	*t = Tracker{transport: transport}
	t.h[0].out.s, t.h[1].out.s = q0, q1
}

// Observe accounts for one segment or datagram, sent in direction dir (the
// side of the connection that sent it, in the same terms Flow's a and b
// use). s is not retained.
func (t *Tracker) Observe(dir sdk.Direction, s *packet.Segment) {
	dir &= 1
	ts := s.Timestamp
	if !t.seen {
		t.seen, t.start, t.end = true, ts, ts
	} else if ts.After(t.end) {
		t.end = ts
	}
	ns := ts.UnixNano()
	f := &t.h[dir]
	n := uint32(len(s.Payload))
	f.stats.Packets++
	f.stats.Bytes += uint64(n)
	f.stats.WireBytes += uint64(s.WireLen)
	if n > 0 {
		f.stats.DataPackets++
		t.firstBytes(dir, ns)
	}
	if t.transport == packet.TCP {
		t.observeTCP(dir, s, n, ns)
	}
}

// firstBytes keeps the times that time to first byte is computed from.
func (t *Tracker) firstBytes(dir sdk.Direction, ns int64) {
	f, r := &t.h[dir], &t.h[dir^1]
	if !f.hasFirst {
		f.hasFirst, f.firstAt = true, ns
	}
	if r.hasFirst && !r.hasReply {
		r.hasReply, r.replyAt = true, ns
	}
}

func (t *Tracker) observeTCP(dir sdk.Direction, s *packet.Segment, n uint32, ns int64) {
	f, r := &t.h[dir], &t.h[dir^1]
	syn := s.Flags&packet.FlagSYN != 0
	fin := s.Flags&packet.FlagFIN != 0
	rst := s.Flags&packet.FlagRST != 0
	ack := s.Flags&packet.FlagACK != 0
	ctl := syn || fin || rst

	if rst {
		f.stats.RST++
		t.rst = true
		t.comp |= compRST
	}
	if fin {
		f.stats.FIN++
		f.fin = true
		t.comp |= compFIN
	}
	if n > 0 {
		t.comp |= compData
	}
	if ack && !syn && n == 0 {
		// Wireshark sets its ACK bit for any bare ACK, the handshake's or
		// not; HandshakeSeen asks for the handshake's own.
		t.comp |= compACK
	}
	if syn && !rst {
		f.syn, f.wsOffered, f.ws = true, s.HasWindowScale, s.WindowScale
		t.handshake(dir, s, ack, ns)
	} else if ack && !rst && t.synAckSeen && !t.ackSeen && dir != t.synAckDir && s.Ack == t.serverISN+1 {
		t.ackSeen, t.ackAt = true, ns
	}

	// The classification below follows Wireshark's
	// tcp_analyze_sequence_number, check for check.
	probe, keepAlive, dupAck := false, false, false
	if f.seqKnown && n == 1 && s.Seq == f.nextSeq && r.winKnown && r.rawWin == 0 {
		// A zero window probe: one byte pushed against a closed window.
		// It is none of the things below and does not move nextSeq.
		probe = true
	} else {
		if s.Window == 0 && !ctl {
			f.stats.ZeroWindow++
		}
		if f.seqKnown && seqGT(s.Seq, f.nextSeq) && !rst {
			f.stats.LostSegments++
		}
		if f.seqKnown && n <= 1 && s.Seq == f.nextSeq-1 && !ctl {
			keepAlive = true
			f.stats.KeepAlives++
		}
		if n > 0 && !ctl && r.ackKnown && r.winBytes && s.Seq+n == r.lastAck+r.win {
			f.stats.WindowFull++
		}
		// The answer to the peer's keep-alive or zero window probe repeats
		// the last ACK without being a duplicate ACK.
		answer := (r.lastKeepAlive || r.lastProbe) && n == 0 && !ctl &&
			f.seqKnown && s.Seq == f.nextSeq && f.ackKnown && s.Ack == f.lastAck
		if !answer && n == 0 && !ctl && ack && s.Window != 0 && f.winKnown && s.Window == f.rawWin &&
			f.seqKnown && s.Seq == f.nextSeq && f.ackKnown && s.Ack == f.lastAck {
			dupAck = true
			f.stats.DupAcks++
			f.dupAcks++
		}
	}
	if !dupAck {
		f.dupAcks = 0
	}
	f.lastKeepAlive, f.lastProbe = keepAlive, probe

	end := s.Seq + n
	if syn || fin {
		end++
	}
	behind := false
	if (n > 0 || syn || fin) && !keepAlive && !probe {
		behind = f.seqKnown && seqLT(s.Seq, f.nextSeq)
		if n > 1 && s.Seq == f.nextSeq-1 {
			// One byte behind and longer than one byte: the byte before was
			// a probe the sender now sends for real.
			behind = false
		}
		if behind {
			t.behind(f, r, s, n, end, ns, syn)
		}
	}
	if !probe && (!f.seqKnown || seqGT(end, f.nextSeq)) {
		if n > 0 && !behind && !keepAlive {
			f.out.push(sent{start: s.Seq, end: s.Seq + n, at: ns})
		}
		f.seqKnown, f.nextSeq, f.nextAt = true, end, ns
	}

	if ack && !rst {
		f.ackKnown, f.lastAck, f.lastAt = true, s.Ack, ns
		if e, ok := r.out.ack(s.Ack); ok && e.at != 0 && ns >= e.at {
			t.rtt.add(ns - e.at)
		}
	}
	f.winKnown, f.rawWin = true, s.Window
	f.win, f.winBytes = t.windowBytes(dir, s.Window, syn)
}

// behind classifies a segment that starts before its direction's next
// expected sequence number: fast retransmission, out-of-order or
// retransmission, in Wireshark's order.
func (t *Tracker) behind(f, r *half, s *packet.Segment, n, end uint32, ns int64, syn bool) {
	f.out.resent(s.Seq)
	switch {
	case syn:
		// A SYN again is always a retransmission; ordering does not apply.
	case r.dupAcks >= 2 && r.lastAck == s.Seq && ns-r.lastAt < fastRetransWindow:
		f.stats.FastRetransmissions++
		if n > 0 {
			f.dataRetrans++
		}
		return
	case ns-f.nextAt < t.reorderWindow() && f.nextSeq != end:
		f.stats.OutOfOrder++
		return
	}
	f.stats.Retransmissions++
	if n > 0 {
		f.dataRetrans++
	}
}

// reorderWindow is the initial RTT when the handshake gave one.
func (t *Tracker) reorderWindow() int64 {
	if t.synSeen && t.ackSeen && t.ackAt > t.synAt {
		return t.ackAt - t.synAt
	}
	return defaultReorderWindow
}

func (t *Tracker) handshake(dir sdk.Direction, s *packet.Segment, ack bool, ns int64) {
	if !ack {
		t.comp |= compSYN
		if !t.synAckSeen {
			// A retransmitted SYN restarts the clock: the SYN-ACK answers
			// the last one.
			t.synSeen, t.synAt = true, ns
		}
		return
	}
	t.comp |= compSYNACK
	if t.ackSeen {
		return
	}
	if !t.synAckSeen {
		t.synAckFirst = ns
	}
	t.synAckSeen, t.synAckAt, t.synAckDir, t.serverISN = true, ns, dir, s.Seq
}

// windowBytes converts a window as sent in direction dir to bytes. A SYN's
// window is never scaled; later ones are scaled by the shift this direction
// offered if both sides offered one (RFC 7323), and not at all if either
// SYN came without the option. Otherwise the scale is unknown.
func (t *Tracker) windowBytes(dir sdk.Direction, raw uint16, syn bool) (uint32, bool) {
	if syn {
		return uint32(raw), true
	}
	a, b := &t.h[dir], &t.h[dir^1]
	switch {
	case a.syn && !a.wsOffered, b.syn && !b.wsOffered:
		return uint32(raw), true
	case a.syn && b.syn:
		return uint32(raw) << a.ws, true
	}
	return 0, false
}

// Flow builds the connection's sdk.Flow. a and b are the endpoints that
// sent in sdk.DirA and sdk.DirB; clientIsB says b is the client (the
// pipeline may learn that only from the protocol, after the fact). id,
// Protocol, Records and CloseReason are the caller's to know: id is filled
// in, the rest is left for the caller to set.
func (t *Tracker) Flow(id string, a, b netip.AddrPort, clientIsB bool) sdk.Flow {
	cd := sdk.DirA
	if clientIsB {
		cd = sdk.DirB
		a, b = b, a
	}
	c, s := &t.h[cd], &t.h[cd^1]
	f := sdk.Flow{
		ID:             id,
		Transport:      t.transport.String(),
		Client:         endpoint(a),
		Server:         endpoint(b),
		Start:          t.start,
		End:            t.end,
		DurationMs:     ms(t.end.Sub(t.start).Nanoseconds()),
		ClientToServer: c.stats,
		ServerToClient: s.stats,
	}
	if c.hasReply {
		f.TimeToFirstByteMs = msp(c.replyAt - c.firstAt)
	}
	if t.transport != packet.TCP {
		f.State = "active"
		return f
	}
	switch {
	case t.rst:
		f.State = "reset"
	case c.fin && s.fin:
		f.State = "closed"
	case c.fin || s.fin:
		f.State = "half-closed"
	default:
		f.State = "open"
	}
	f.Completeness = t.comp
	f.HandshakeSeen = t.synSeen && t.synAckSeen && t.ackSeen
	f.Complete = f.HandshakeSeen && t.comp&compData != 0 && t.comp&(compFIN|compRST) != 0
	if t.synSeen && t.synAckSeen && t.synAckFirst >= t.synAt {
		f.SynAckMs = msp(t.synAckFirst - t.synAt)
	}
	if t.synAckSeen && t.ackSeen {
		f.AckMs = msp(t.ackAt - t.synAckAt)
		if f.SynAckMs != nil {
			f.HandshakeRTTMs = msp(t.synAckFirst - t.synAt + t.ackAt - t.synAckAt)
		}
	}
	if r := &t.rtt; r.n > 0 {
		st := &sdk.RTTStats{Samples: r.n, MinMs: ms(r.min), AvgMs: ms(r.sum) / float64(r.n), MaxMs: ms(r.max)}
		if r.n > 1 {
			st.JitterMs = ms(r.jitterSum) / float64(r.n-1)
		}
		f.RTT = st
	}
	if data := c.stats.DataPackets + s.stats.DataPackets; data > 0 {
		f.RetransmissionRate = min(float64(c.dataRetrans+s.dataRetrans)/float64(data), 1)
	}
	return f
}

func endpoint(ap netip.AddrPort) sdk.Endpoint {
	return sdk.Endpoint{IP: ap.Addr().Unmap().String(), Port: ap.Port()}
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

func msp(ns int64) *float64 {
	v := ms(ns)
	return &v
}

// Sequence number comparisons modulo 2^32 (RFC 1982 serial arithmetic).
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }
func seqGT(a, b uint32) bool { return int32(a-b) > 0 }
func seqLE(a, b uint32) bool { return int32(a-b) <= 0 }
