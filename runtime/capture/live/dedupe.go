package live

import (
	"encoding/binary"
	"hash/maphash"
	"time"
)

// Dedupe recognises the second copy of a packet sent from one local socket
// to another: the cgroup hooks see it leave the sender (egress) and arrive
// at the receiver (ingress). The egress copy always comes first in the ring
// buffer, since the receiver's hook runs after the sender's has returned,
// so the egress copy is kept and a matching ingress copy is dropped.
//
// Matching uses only what the path between two local sockets does not
// change. Addresses, ports, TTL and checksums are left out, since routing
// between namespaces decrements the TTL and NAT rewrites addresses and
// ports. The two copies need not be cut the same way either: the sender's
// hook sees a GSO super-packet that loopback or veth may deliver as several
// segments (or GRO as one), so TCP data is matched by sequence range: an
// ingress segment is a copy when egress segments with the same
// acknowledgement number cover its sequence range. Other packets (TCP
// without data, UDP, ...) are matched on a hash of their IPv4
// identification, transport header fields and first payload bytes.
//
// Each egress copy cancels at most one ingress copy, so a retransmission
// is still seen; copies older than the window are forgotten, so a packet
// from a remote host is never dropped for long-gone local traffic.
type Dedupe struct {
	seed    maphash.Seed
	window  time.Duration
	rotated time.Time
	// Two generations, swapped every window: lookups see both.
	cur, old gen
}

type gen struct {
	exact map[uint64]uint32
	spans map[uint32][]span // TCP data by acknowledgement number
}

// span is a TCP sequence range sent, and how many of its bytes have not
// yet been matched by an ingress copy.
type span struct {
	start, end uint32
	left       int
}

func newGen() gen { return gen{exact: map[uint64]uint32{}, spans: map[uint32][]span{}} }

// NewDedupe remembers egress copies for between window and twice window.
func NewDedupe(window time.Duration) *Dedupe {
	return &Dedupe{seed: maphash.MakeSeed(), window: window, cur: newGen(), old: newGen()}
}

// Egress notes a packet a local socket sent.
func (d *Dedupe) Egress(ip []byte, now time.Time) {
	f, ok := d.parse(ip)
	if !ok {
		return
	}
	d.rotate(now)
	if f.tcpData {
		d.cur.spans[f.ack] = append(d.cur.spans[f.ack], span{f.seq, f.seq + uint32(f.n), f.n})
		return
	}
	d.cur.exact[f.key]++
}

// Ingress reports whether a packet a local socket received is the copy of
// one noted by Egress, and forgets that egress copy.
func (d *Dedupe) Ingress(ip []byte, now time.Time) bool {
	f, ok := d.parse(ip)
	if !ok {
		return false
	}
	d.rotate(now)
	if f.tcpData {
		return d.consume(f.ack, f.seq, f.seq+uint32(f.n))
	}
	for _, m := range []map[uint64]uint32{d.old.exact, d.cur.exact} {
		if n := m[f.key]; n > 0 {
			if n == 1 {
				delete(m, f.key)
			} else {
				m[f.key] = n - 1
			}
			return true
		}
	}
	return false
}

// consume reports whether egress spans cover [start, end) and, if so,
// takes the covered bytes off the spans that covered them.
func (d *Dedupe) consume(ack, start, end uint32) bool {
	gens := [2]map[uint32][]span{d.old.spans, d.cur.spans}
	type ref struct{ g, i int }
	var used []ref
	// Walk forward from start, one covering span at a time.
	pos := start
	for int32(end-pos) > 0 {
		found := false
		for g, m := range gens {
			for i, s := range m[ack] {
				if s.left > 0 && pos-s.start < s.end-s.start {
					used = append(used, ref{g, i})
					pos = s.end
					found = true
					break
				}
			}
			if found {
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, r := range used {
		s := &gens[r.g][ack][r.i]
		lo, hi := max32(s.start, start), min32(s.end, end)
		s.left -= int(hi - lo)
	}
	for _, m := range gens {
		l := m[ack]
		kept := l[:0]
		for _, s := range l {
			if s.left > 0 {
				kept = append(kept, s)
			}
		}
		if len(kept) == 0 {
			delete(m, ack)
		} else {
			m[ack] = kept
		}
	}
	return true
}

// max32 and min32 compare sequence numbers, which wrap.
func max32(a, b uint32) uint32 {
	if int32(a-b) > 0 {
		return a
	}
	return b
}

func min32(a, b uint32) uint32 {
	if int32(a-b) < 0 {
		return a
	}
	return b
}

func (d *Dedupe) rotate(now time.Time) {
	since := now.Sub(d.rotated)
	if since < d.window {
		return
	}
	d.old, d.cur = d.cur, d.old
	clear(d.cur.exact)
	clear(d.cur.spans)
	if since >= 2*d.window {
		clear(d.old.exact)
		clear(d.old.spans)
	}
	d.rotated = now
}

// payloadPrefix is how many payload bytes go into an exact key.
const payloadPrefix = 32

// fields are what matching needs of a packet.
type fields struct {
	// tcpData: a TCP segment with payload, matched by range.
	tcpData  bool
	seq, ack uint32
	n        int
	// key hashes everything else.
	key uint64
}

func (d *Dedupe) parse(ip []byte) (fields, bool) {
	var f fields
	var h maphash.Hash
	h.SetSeed(d.seed)
	var proto byte
	var l4 []byte
	switch {
	case len(ip) >= 20 && ip[0]>>4 == 4:
		ihl := int(ip[0]&0x0f) * 4
		if ihl < 20 || len(ip) < ihl {
			return f, false
		}
		proto = ip[9]
		h.Write(ip[4:8]) // identification, flags, fragment offset
		l4 = ip[ihl:]
	case len(ip) >= 40 && ip[0]>>4 == 6:
		proto = ip[6]
		h.Write(ip[0:4]) // traffic class, flow label
		l4 = ip[40:]
	default:
		return f, false
	}
	h.WriteByte(proto)
	var payload []byte
	switch proto {
	case 6: // TCP
		if len(l4) < 20 {
			return f, false
		}
		off := int(l4[12]>>4) * 4
		if off < 20 || len(l4) < off {
			return f, false
		}
		payload = l4[off:]
		if len(payload) > 0 {
			f.tcpData = true
			f.seq = binary.BigEndian.Uint32(l4[4:])
			f.ack = binary.BigEndian.Uint32(l4[8:])
			f.n = len(payload)
			return f, true
		}
		h.Write(l4[4:16]) // seq, ack, data offset, flags, window
	case 17: // UDP
		if len(l4) < 8 {
			return f, false
		}
		h.Write(l4[4:6]) // length
		payload = l4[8:]
	default:
		payload = l4
	}
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(payload)))
	h.Write(n[:])
	h.Write(payload[:min(len(payload), payloadPrefix)])
	f.key = h.Sum64()
	return f, true
}
