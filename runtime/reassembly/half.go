package reassembly

import (
	"slices"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// maxAhead bounds how far past the next expected byte a segment may reach
// and still be believed: it is the largest window TCP can advertise (65535
// scaled by 2^14). Keeping every tracked position within 2^30 of next also
// keeps the signed 32-bit sequence differences unambiguous.
const maxAhead = 1 << 30

// chunk is a copied run of out-of-order bytes.
type chunk struct {
	seq  uint32
	data []byte
	ts   time.Time
}

// half is the receive state of one direction of a TCP connection.
type half struct {
	started bool
	// tentative marks a position guessed from a zero-length segment, which
	// may have been a keep-alive probe one byte behind the real position.
	tentative bool
	isnKnown  bool
	finSeen   bool
	finDone   bool
	// ackValid says peerAck is ahead of next: the peer has acknowledged
	// bytes not yet delivered here.
	ackValid bool
	isn      uint32
	next     uint32
	finSeq   uint32
	peerAck  uint32
	buffered int
	// chunks are sorted, disjoint and all ahead of next.
	chunks []chunk
}

func (h *half) start(seq uint32, tentative bool) {
	h.started, h.tentative, h.next = true, tentative, seq
}

func (h *half) startSYN(isn uint32) {
	h.start(isn+1, false)
	h.isnKnown, h.isn = true, isn
}

// settle confirms a tentative start once a segment that occupies sequence
// space arrives at seq.
func (h *half) settle(seq uint32) {
	if !h.tentative {
		return
	}
	h.tentative = false
	if seq == h.next+1 {
		// The zero-length segment we started from was a keep-alive probe.
		h.next = seq
	}
}

// rel is seq's distance ahead of next (negative when behind).
func (h *half) rel(seq uint32) int64 { return int64(int32(seq - h.next)) }

// advance moves next past n delivered or lost bytes.
func (h *half) advance(n int) {
	h.next += uint32(n)
	if h.ackValid && int32(h.peerAck-h.next) <= 0 {
		h.ackValid = false
	}
}

func (a *Assembler) deliver(c *Conn, d sdk.Direction, p []byte, ts time.Time) {
	if len(p) == 0 {
		return
	}
	c.half[d].advance(len(p))
	c.Dirs[d].Bytes += uint64(len(p))
	a.stats.BytesDelivered += uint64(len(p))
	a.h.Data(c, d, p, ts)
}

func (a *Assembler) gap(c *Conn, d sdk.Direction, n int, ts time.Time) {
	if n <= 0 {
		return
	}
	c.half[d].advance(n)
	c.Dirs[d].Gaps++
	c.Dirs[d].GapBytes += uint64(n)
	a.stats.Gaps++
	a.stats.GapBytes += uint64(n)
	a.h.Gap(c, d, n, ts)
}

func (a *Assembler) overlap(c *Conn, d sdk.Direction, n int64) {
	c.Dirs[d].OverlapBytes += uint64(n)
	a.stats.OverlapBytes += uint64(n)
}

// insert buffers p, which starts at seq at or after next. Bytes already
// buffered win over p ("first copy wins"), so only the holes between
// existing chunks are filled.
func (a *Assembler) insert(c *Conn, d sdk.Direction, seq uint32, p []byte, ts time.Time) {
	h := &c.half[d]
	start := h.rel(seq)
	end := start + int64(len(p))
	// First chunk that ends after start; chunk ends are sorted too.
	i, j := 0, len(h.chunks)
	for i < j {
		m := int(uint(i+j) >> 1)
		if h.rel(h.chunks[m].seq)+int64(len(h.chunks[m].data)) > start {
			j = m
		} else {
			i = m + 1
		}
	}
	cur := start
	for i < len(h.chunks) {
		cs := h.rel(h.chunks[i].seq)
		ce := cs + int64(len(h.chunks[i].data))
		if cs >= end {
			break
		}
		if cs > cur {
			a.addChunk(c, d, i, h.next+uint32(cur), p[cur-start:cs-start], ts)
			i++
		}
		if ov := min(ce, end) - max(cs, cur); ov > 0 {
			a.overlap(c, d, ov)
		}
		cur = max(cur, ce)
		i++
	}
	if cur < end {
		a.addChunk(c, d, i, h.next+uint32(cur), p[cur-start:], ts)
	}
}

func (a *Assembler) addChunk(c *Conn, d sdk.Direction, i int, seq uint32, p []byte, ts time.Time) {
	h := &c.half[d]
	h.chunks = slices.Insert(h.chunks, i, chunk{seq: seq, data: append([]byte(nil), p...), ts: ts})
	h.buffered += len(p)
	if c.buffered == 0 && !c.inBuf {
		a.bufs.pushBack(c)
		c.inBuf = true
	}
	c.buffered += len(p)
	a.buffered += len(p)
}

func (a *Assembler) release(c *Conn, d sdk.Direction, n int) {
	c.half[d].buffered -= n
	c.buffered -= n
	a.buffered -= n
	if c.buffered == 0 && c.inBuf {
		a.bufs.remove(c)
		c.inBuf = false
	}
}

// drain delivers the buffered chunks that have become contiguous with next
// and completes the FIN once everything before it is through.
func (a *Assembler) drain(c *Conn, d sdk.Direction, ts time.Time) {
	h := &c.half[d]
	i := 0
	for ; i < len(h.chunks); i++ {
		ch := h.chunks[i]
		rel := h.rel(ch.seq)
		if rel > 0 {
			break
		}
		a.release(c, d, len(ch.data))
		if rel+int64(len(ch.data)) > 0 {
			if rel < 0 {
				a.overlap(c, d, -rel)
			}
			a.deliver(c, d, ch.data[-rel:], ch.ts)
		} else {
			a.overlap(c, d, int64(len(ch.data)))
		}
	}
	if i > 0 {
		h.chunks = slices.Delete(h.chunks, 0, i)
	}
	if h.finSeen && !h.finDone && h.next == h.finSeq {
		h.finDone = true
		h.next++
	}
}

// skipHole declares the hole before the first buffered chunk lost and
// delivers what follows it. It returns the size of the hole.
func (a *Assembler) skipHole(c *Conn, d sdk.Direction, ts time.Time) int {
	h := &c.half[d]
	if len(h.chunks) == 0 {
		return 0
	}
	n := int(max(h.rel(h.chunks[0].seq), 0))
	a.gap(c, d, n, ts)
	a.drain(c, d, ts)
	return n
}

// enforceLimits gives up holes until c and the whole Assembler are back
// within their buffer budgets.
func (a *Assembler) enforceLimits(c *Conn, ts time.Time) {
	for c.buffered > a.cfg.MaxBufferedPerConn {
		a.stats.DroppedConnLimitBytes += uint64(a.skipHole(c, fuller(c), ts))
	}
	for a.buffered > a.cfg.MaxBufferedTotal && a.bufs.head != nil {
		// The connection that has waited longest for its hole is the least
		// likely to see it filled.
		v := a.bufs.head
		a.stats.DroppedTotalLimitBytes += uint64(a.skipHole(v, fuller(v), ts))
	}
}

func fuller(c *Conn) sdk.Direction {
	if c.half[sdk.DirB].buffered > c.half[sdk.DirA].buffered {
		return sdk.DirB
	}
	return sdk.DirA
}

// applyAck gives up the holes the peer has acknowledged: it received those
// bytes, so no retransmission will ever bring them past the capture point.
func (a *Assembler) applyAck(c *Conn, d sdk.Direction, ts time.Time) {
	h := &c.half[d]
	for h.ackValid {
		if len(h.chunks) > 0 {
			if int32(h.peerAck-h.chunks[0].seq) < 0 {
				return
			}
			a.skipHole(c, d, ts)
			continue
		}
		if h.finSeen && !h.finDone && int32(h.peerAck-h.finSeq) >= 0 {
			a.gap(c, d, int(max(h.rel(h.finSeq), 0)), ts)
			a.drain(c, d, ts)
		}
		return
	}
}

// flushHalf gives up every hole of a closing direction, including the
// tail up to its FIN or to what the peer acknowledged.
func (a *Assembler) flushHalf(c *Conn, d sdk.Direction, ts time.Time) {
	h := &c.half[d]
	for len(h.chunks) > 0 {
		a.skipHole(c, d, ts)
	}
	if !h.started || h.finDone {
		return
	}
	switch {
	case h.finSeen:
		a.gap(c, d, int(max(h.rel(h.finSeq), 0)), ts)
		a.drain(c, d, ts)
	case h.ackValid:
		a.gap(c, d, int(max(h.rel(h.peerAck), 0)), ts)
	}
}

// trimAfterFIN drops buffered bytes at or after the FIN: nothing the sender
// puts there is part of the stream.
func (a *Assembler) trimAfterFIN(c *Conn, d sdk.Direction) {
	h := &c.half[d]
	fr := h.rel(h.finSeq)
	for k := len(h.chunks) - 1; k >= 0; k-- {
		ch := &h.chunks[k]
		cs := h.rel(ch.seq)
		ce := cs + int64(len(ch.data))
		if ce <= fr {
			break
		}
		keep := max(fr-cs, 0)
		cut := int(int64(len(ch.data)) - keep)
		a.stats.IgnoredBytes += uint64(cut)
		ch.data = ch.data[:keep]
		if keep == 0 {
			h.chunks = slices.Delete(h.chunks, k, k+1)
		}
		a.release(c, d, cut)
	}
}
