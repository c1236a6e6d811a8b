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
// Packets are matched on what the path between two local sockets does not
// change: the IPv4 identification, the TCP sequence and acknowledgement
// numbers, flags and window (or the UDP length), the transport payload's
// length and its first bytes. Addresses, ports, TTL and checksums are left
// out, since routing between namespaces decrements the TTL and NAT rewrites
// addresses and ports. Each egress copy cancels at most one ingress copy,
// so a retransmission is still counted; copies older than the window are
// forgotten, so a packet from a remote host is never dropped for long-gone
// local traffic.
type Dedupe struct {
	seed    maphash.Seed
	window  time.Duration
	cur     map[uint64]uint32
	old     map[uint64]uint32
	rotated time.Time
}

// NewDedupe remembers egress copies for between window and twice window.
func NewDedupe(window time.Duration) *Dedupe {
	return &Dedupe{seed: maphash.MakeSeed(), window: window, cur: map[uint64]uint32{}, old: map[uint64]uint32{}}
}

// Egress notes a packet a local socket sent.
func (d *Dedupe) Egress(ip []byte, now time.Time) {
	k, ok := d.key(ip)
	if !ok {
		return
	}
	d.rotate(now)
	d.cur[k]++
}

// Ingress reports whether a packet a local socket received is the copy of
// one noted by Egress, and forgets that egress copy.
func (d *Dedupe) Ingress(ip []byte, now time.Time) bool {
	k, ok := d.key(ip)
	if !ok {
		return false
	}
	d.rotate(now)
	for _, m := range []map[uint64]uint32{d.old, d.cur} {
		if n := m[k]; n > 0 {
			if n == 1 {
				delete(m, k)
			} else {
				m[k] = n - 1
			}
			return true
		}
	}
	return false
}

func (d *Dedupe) rotate(now time.Time) {
	if now.Sub(d.rotated) < d.window {
		return
	}
	d.old, d.cur = d.cur, d.old
	clear(d.cur)
	d.rotated = now
}

// payloadPrefix is how many payload bytes go into the key.
const payloadPrefix = 32

// key hashes the NAT-invariant parts of an IP packet.
func (d *Dedupe) key(ip []byte) (uint64, bool) {
	var h maphash.Hash
	h.SetSeed(d.seed)
	var proto byte
	var l4 []byte
	switch {
	case len(ip) >= 20 && ip[0]>>4 == 4:
		ihl := int(ip[0]&0x0f) * 4
		if ihl < 20 || len(ip) < ihl {
			return 0, false
		}
		proto = ip[9]
		h.Write(ip[4:8]) // identification, flags, fragment offset
		l4 = ip[ihl:]
	case len(ip) >= 40 && ip[0]>>4 == 6:
		proto = ip[6]
		h.Write(ip[0:4]) // traffic class, flow label
		l4 = ip[40:]
	default:
		return 0, false
	}
	h.WriteByte(proto)
	var payload []byte
	switch proto {
	case 6: // TCP
		if len(l4) < 20 {
			return 0, false
		}
		off := int(l4[12]>>4) * 4
		if off < 20 || len(l4) < off {
			return 0, false
		}
		h.Write(l4[4:16]) // seq, ack, data offset, flags, window
		payload = l4[off:]
	case 17: // UDP
		if len(l4) < 8 {
			return 0, false
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
	return h.Sum64(), true
}
