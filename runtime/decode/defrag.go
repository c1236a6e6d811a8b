package decode

import (
	"bytes"
	"net/netip"
	"sort"
	"time"
)

// maxDatagram is the largest reassembled payload: offsets and lengths in
// both IPv4 and IPv6 fragment headers are bounded by 16-bit totals.
const maxDatagram = 65535

// Memory charged per fragment and per datagram on top of the data, so that
// a flood of tiny fragments is bounded by MaxFragmentMemory too.
const (
	fragmentOverhead = 64
	datagramOverhead = 256
)

// fragKey identifies a datagram being reassembled. IPv4 keys include the
// protocol (RFC 791); IPv6 keys leave it zero (RFC 8200: src, dst, id).
type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
}

type fragment struct {
	off, end int
	data     []byte
}

type datagram struct {
	frags    []fragment // sorted by off, never overlapping
	total    int        // payload length once the last fragment is seen, else -1
	size     int        // sum of fragment lengths
	mem      int        // bytes charged against the memory bound
	wire     int        // wire length of the frames held, for Segment.WireLen
	proto    uint8      // protocol of the payload, from the offset-0 fragment
	deadline time.Time
	seq      uint64
}

type queued struct {
	key fragKey
	seq uint64
}

// reassembler rebuilds datagrams from fragments for one IP version. It is
// written once for both versions, rather than using gopacket's ip4defrag
// for IPv4, so that both get the same memory bound (ip4defrag has none
// across datagrams), timeout in capture time and overlap policy.
//
// Overlap policy: an exact duplicate of a fragment already held is dropped;
// any other overlap drops the whole datagram, as RFC 5722 requires for IPv6.
// Choosing either copy would let an attacker decide what the dissectors see
// differently from what the receiving host saw.
type reassembler struct {
	pending map[fragKey]*datagram
	queue   []queued // arrival order, for expiry and eviction; may hold stale entries
	head    int
	seq     uint64
	mem     int
	maxMem  int
	timeout time.Duration
	buf     []byte // the last reassembled payload; reused
}

func newReassembler(maxMem int, timeout time.Duration) *reassembler {
	return &reassembler{pending: make(map[fragKey]*datagram), maxMem: maxMem, timeout: timeout}
}

// add stores one fragment that arrived in a frame of wire bytes. Once the
// datagram is complete it returns the reassembled payload (valid until the
// next add), its protocol and the wire length of all its frames. dropped is
// the number of fragments discarded on the way.
func (r *reassembler) add(k fragKey, now time.Time, off int, more bool, proto uint8, payload []byte, wire int) (out []byte, outProto uint8, outWire int, dropped int) {
	dropped = r.expire(now)
	end := off + len(payload)
	if end > maxDatagram || (more && (len(payload) == 0 || len(payload)%8 != 0)) {
		return nil, 0, 0, dropped + 1
	}
	cost := len(payload) + fragmentOverhead
	dg := r.pending[k]
	if dg == nil {
		if cost+datagramOverhead > r.maxMem {
			return nil, 0, 0, dropped + 1
		}
		r.seq++
		dg = &datagram{total: -1, deadline: now.Add(r.timeout), seq: r.seq, mem: datagramOverhead}
		r.mem += datagramOverhead
		r.pending[k] = dg
		r.queue = append(r.queue, queued{key: k, seq: dg.seq})
	}

	if !more {
		if (dg.total >= 0 && dg.total != end) || (len(dg.frags) > 0 && dg.frags[len(dg.frags)-1].end > end) {
			return nil, 0, 0, dropped + r.remove(k, dg) + 1
		}
		dg.total = end
	} else if dg.total >= 0 && end > dg.total {
		return nil, 0, 0, dropped + r.remove(k, dg) + 1
	}

	i := sort.Search(len(dg.frags), func(i int) bool { return dg.frags[i].end > off })
	if i < len(dg.frags) && dg.frags[i].off < end {
		f := dg.frags[i]
		if f.off == off && f.end == end && bytes.Equal(f.data, payload) {
			return nil, 0, 0, dropped + 1
		}
		return nil, 0, 0, dropped + r.remove(k, dg) + 1
	}

	for r.mem+cost > r.maxMem {
		n, ok := r.evictOldest(dg)
		dropped += n
		if !ok {
			return nil, 0, 0, dropped + r.remove(k, dg) + 1
		}
	}

	f := fragment{off: off, end: end, data: append([]byte(nil), payload...)}
	dg.frags = append(dg.frags, fragment{})
	copy(dg.frags[i+1:], dg.frags[i:])
	dg.frags[i] = f
	dg.size += len(payload)
	dg.wire += wire
	dg.mem += cost
	r.mem += cost
	if off == 0 {
		dg.proto = proto
	}

	// Fragments never overlap, so full coverage is a matter of size.
	if dg.total < 0 || dg.size != dg.total {
		return nil, 0, 0, dropped
	}
	if cap(r.buf) < dg.total {
		r.buf = make([]byte, dg.total, maxDatagram)
	}
	out = r.buf[:dg.total]
	for _, f := range dg.frags {
		copy(out[f.off:], f.data)
	}
	outProto = dg.proto
	r.forget(k, dg)
	return out, outProto, dg.wire, dropped
}

// remove drops an incomplete datagram and returns how many fragments it held.
func (r *reassembler) remove(k fragKey, dg *datagram) int {
	n := len(dg.frags)
	r.forget(k, dg)
	return n
}

func (r *reassembler) forget(k fragKey, dg *datagram) {
	r.mem -= dg.mem
	delete(r.pending, k)
}

// live returns the datagram a queue entry refers to, or nil if it has since
// completed or been dropped (and perhaps replaced under the same key).
func (r *reassembler) live(q queued) *datagram {
	dg := r.pending[q.key]
	if dg == nil || dg.seq != q.seq {
		return nil
	}
	return dg
}

// expire drops datagrams whose deadline has passed. Capture timestamps are
// only roughly ordered, so a datagram may outlive its deadline a little when
// an older one sits in front of it; the memory bound still holds.
func (r *reassembler) expire(now time.Time) (dropped int) {
	for r.head < len(r.queue) {
		q := r.queue[r.head]
		dg := r.live(q)
		if dg != nil && !now.After(dg.deadline) {
			break
		}
		if dg != nil {
			dropped += r.remove(q.key, dg)
		}
		r.pop()
	}
	return dropped
}

// evictOldest drops the oldest datagram other than keep. It reports false
// when keep is the only one left.
func (r *reassembler) evictOldest(keep *datagram) (dropped int, ok bool) {
	for i := r.head; i < len(r.queue); i++ {
		q := r.queue[i]
		dg := r.live(q)
		if dg == nil {
			if i == r.head {
				r.pop()
			}
			continue
		}
		if dg == keep {
			continue
		}
		return r.remove(q.key, dg), true
	}
	return 0, false
}

func (r *reassembler) pop() {
	r.queue[r.head] = queued{}
	r.head++
	if r.head == len(r.queue) {
		r.queue, r.head = r.queue[:0], 0
	} else if r.head > 1024 && r.head > len(r.queue)/2 {
		n := copy(r.queue, r.queue[r.head:])
		r.queue, r.head = r.queue[:n], 0
	}
}

// pendingCount is the number of incomplete datagrams, for tests.
func (r *reassembler) pendingCount() int { return len(r.pending) }
