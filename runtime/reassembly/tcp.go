package reassembly

import (
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func (a *Assembler) addTCP(s *packet.Segment) {
	ts := s.Timestamp
	syn := s.Flags&packet.FlagSYN != 0
	ack := s.Flags&packet.FlagACK != 0
	rst := s.Flags&packet.FlagRST != 0
	fin := s.Flags&packet.FlagFIN != 0

	c := a.lookup(s)
	if c != nil && c.closed {
		if !syn && ts.Sub(c.LastSeen) <= a.cfg.IdleTimeout {
			a.stats.IgnoredSegments++
			return
		}
		a.remove(c)
		c = nil
	}
	if c != nil && syn && !ack && !rst {
		// A SYN that is not a retransmission of this connection's own means
		// the port was reused and the capture missed the old one's end.
		if h := &c.half[c.dirOf(s.Src)]; !h.isnKnown || h.isn != s.Seq {
			a.closeConn(c, CloseReused, ts)
			c = nil
		}
	}
	fresh := false
	if c == nil {
		if rst {
			// Nothing to reset; opening a connection just to close it would
			// only feed the dissectors noise.
			a.stats.IgnoredSegments++
			return
		}
		c = a.openTCP(s)
		fresh = true
	}

	d := c.dirOf(s.Src)
	h := &c.half[d]
	a.touch(c, ts)
	c.Dirs[d].Packets++
	if a.seg != nil {
		a.seg.Segment(c, d, s)
	}
	if rst {
		a.closeConn(c, CloseRST, ts)
		return
	}
	seq := s.Seq
	if syn {
		seq++
		if !fresh && !a.synAgain(c, d, s.Seq) {
			a.stats.IgnoredSegments++
			return
		}
	} else if !h.started {
		h.start(seq, len(s.Payload) == 0 && !fin)
	}
	if len(s.Payload) > 0 {
		a.tcpData(c, d, seq, s.Payload, ts)
	}
	if fin {
		a.tcpFIN(c, d, seq+uint32(len(s.Payload)), ts)
	}
	if ack {
		a.peerAck(c, d.Reverse(), s.Ack, ts)
	}
	if c.half[sdk.DirA].finSeen && c.half[sdk.DirB].finSeen {
		a.closeConn(c, CloseFIN, ts)
	}
}

// openTCP orients a new connection: whoever sent the SYN, or received the
// SYN-ACK, is the client and becomes A.
func (a *Assembler) openTCP(s *packet.Segment) *Conn {
	switch {
	case s.Has(packet.FlagSYN | packet.FlagACK):
		c := a.open(s, s.Dst, s.Src, true)
		c.half[sdk.DirB].startSYN(s.Seq)
		// The SYN-ACK acknowledges the client's ISN, which pins down where
		// the client's bytes start even though its SYN was not seen.
		c.half[sdk.DirA].startSYN(s.Ack - 1)
		return c
	case s.Has(packet.FlagSYN):
		c := a.open(s, s.Src, s.Dst, true)
		c.half[sdk.DirA].startSYN(s.Seq)
		return c
	}
	return a.open(s, s.Src, s.Dst, false)
}

// synAgain handles a SYN or SYN-ACK on a known connection. It reports
// whether the rest of the segment should be processed.
func (a *Assembler) synAgain(c *Conn, d sdk.Direction, isn uint32) bool {
	h := &c.half[d]
	switch {
	case h.isnKnown:
		// A retransmitted SYN is fine; a different ISN in a SYN-ACK is not
		// this connection's.
		return h.isn == isn
	case !h.started || h.tentative:
		h.startSYN(isn)
	default:
		// The direction was picked up from data the capture showed before
		// its handshake; keep the position already in use.
		h.isnKnown, h.isn = true, isn
	}
	return true
}

func (a *Assembler) tcpData(c *Conn, d sdk.Direction, seq uint32, p []byte, ts time.Time) {
	h := &c.half[d]
	h.settle(seq)
	rel := h.rel(seq)
	if len(p) == 1 && rel == -1 {
		a.stats.KeepAlives++
		return
	}
	end := rel + int64(len(p))
	if h.finSeen {
		if fr := h.rel(h.finSeq); end > fr {
			cut := end - max(rel, fr)
			a.stats.IgnoredBytes += uint64(cut)
			end -= cut
			if end <= rel {
				return
			}
			p = p[:end-rel]
		}
	}
	ds := &c.Dirs[d]
	if end <= 0 {
		ds.RetransmittedBytes += uint64(end - rel)
		a.stats.RetransmittedBytes += uint64(end - rel)
		return
	}
	if end > maxAhead {
		a.stats.IgnoredSegments++
		a.stats.IgnoredBytes += uint64(len(p))
		return
	}
	if rel < 0 {
		a.overlap(c, d, -rel)
		p = p[-rel:]
		rel = 0
	}
	if rel == 0 {
		// In order: hand the caller's bytes straight through, up to the
		// first buffered chunk, which wins any overlap.
		n := len(p)
		if len(h.chunks) > 0 {
			n = int(min(int64(n), h.rel(h.chunks[0].seq)))
		}
		a.deliver(c, d, p[:n], ts)
		if n < len(p) {
			a.insert(c, d, h.next, p[n:], ts)
		}
		a.drain(c, d, ts)
		return
	}
	ds.OutOfOrder++
	a.stats.OutOfOrderSegments++
	a.insert(c, d, seq, p, ts)
	a.enforceLimits(c, ts)
	a.applyAck(c, d, ts)
}

func (a *Assembler) tcpFIN(c *Conn, d sdk.Direction, finSeq uint32, ts time.Time) {
	h := &c.half[d]
	if h.finSeen {
		return
	}
	h.settle(finSeq)
	if r := h.rel(finSeq); r < 0 || r > maxAhead {
		a.stats.IgnoredSegments++
		return
	}
	h.finSeen, h.finSeq = true, finSeq
	a.trimAfterFIN(c, d)
	a.drain(c, d, ts)
	a.applyAck(c, d, ts)
}

// peerAck records that the other side acknowledged direction d up to ack.
func (a *Assembler) peerAck(c *Conn, d sdk.Direction, ack uint32, ts time.Time) {
	h := &c.half[d]
	if !h.started || h.tentative {
		return
	}
	if r := h.rel(ack); r <= 0 || r > maxAhead+1 {
		return
	}
	if !h.ackValid || int32(ack-h.peerAck) > 0 {
		h.peerAck, h.ackValid = ack, true
	}
	a.applyAck(c, d, ts)
}
