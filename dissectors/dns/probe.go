package dns

import (
	"encoding/binary"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

type verdict uint8

const (
	vBad   verdict = iota // not a DNS message
	vShort                // consistent so far, but the bytes end early
	vOK                   // a whole message walked cleanly
)

// probe judges data as a bare message (UDP) and as a length-prefixed one
// (TCP); the host does not say which transport it is probing for.
func probe(data []byte) sdk.Probe {
	var best sdk.Probe
	if v, n, qr := walk(data, true); v == vOK {
		conf := uint8(80)
		if n != len(data) {
			// Trailing bytes after a complete message are legal but odd.
			conf = 55
		}
		best = sdk.Probe{Confidence: conf, FromServer: qr}
	}
	if len(data) < 2 {
		if best.Confidence == 0 {
			best.NeedMore = true
		}
		return best
	}
	size := int(binary.BigEndian.Uint16(data))
	if size < 12 {
		return best
	}
	msg := data[2:]
	complete := len(msg) >= size
	if complete {
		msg = msg[:size]
	}
	v, n, qr := walk(msg, true)
	switch {
	case v == vOK && complete && n == size:
		if best.Confidence < 85 {
			best = sdk.Probe{Confidence: 85, FromServer: qr}
		}
	case v == vShort && !complete && best.Confidence == 0:
		// A long response (a zone transfer) can outgrow the probe window;
		// what is there parsed cleanly, so it may still be claimed.
		if len(msg) >= 4<<10 {
			best = sdk.Probe{Confidence: 60, FromServer: qr}
		} else {
			best = sdk.Probe{Confidence: 30, FromServer: qr, NeedMore: true}
		}
	}
	return best
}

// walk checks that msg is a plausible DNS message without allocating: sane
// header, names that decode, known classes, resource records that fit. It
// returns how many bytes the message used and its QR bit. strict also
// rejects control characters in question names, which real names never
// carry and random bytes often do.
func walk(msg []byte, strict bool) (verdict, int, bool) {
	if len(msg) < 12 {
		if len(msg) >= 4 && !headerFlagsOK(msg) {
			return vBad, 0, false
		}
		return vShort, 0, false
	}
	if !headerFlagsOK(msg) {
		return vBad, 0, false
	}
	qr := msg[2]&0x80 != 0
	opcode := (msg[2] >> 3) & 0xf
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	an := int(binary.BigEndian.Uint16(msg[6:]))
	ns := int(binary.BigEndian.Uint16(msg[8:]))
	ar := int(binary.BigEndian.Uint16(msg[10:]))
	if qd > maxQuestion || an+ns+ar > 4096 {
		return vBad, 0, false
	}
	if qd == 0 && (!qr || an == 0) && opcode != 6 {
		// Only mDNS announcements and DSO messages go without a question.
		return vBad, 0, false
	}
	if qd == 0 && an+ns+ar == 0 {
		return vBad, 0, false
	}
	off := 12
	for range qd {
		end, v := walkName(msg, off, strict)
		if v != vOK {
			return v, 0, qr
		}
		if end+4 > len(msg) {
			return vShort, 0, qr
		}
		qtype := binary.BigEndian.Uint16(msg[end:])
		if qtype == 0 || !classOK(binary.BigEndian.Uint16(msg[end+2:])) {
			return vBad, 0, qr
		}
		off = end + 4
	}
	for range an + ns + ar {
		end, v := walkName(msg, off, false)
		if v != vOK {
			return v, 0, qr
		}
		if end+10 > len(msg) {
			return vShort, 0, qr
		}
		typ := binary.BigEndian.Uint16(msg[end:])
		if typ == 0 || typ != 41 && !classOK(binary.BigEndian.Uint16(msg[end+2:])) {
			return vBad, 0, qr
		}
		rdlen := int(binary.BigEndian.Uint16(msg[end+8:]))
		off = end + 10 + rdlen
		if off > len(msg) {
			return vShort, 0, qr
		}
	}
	return vOK, off, qr
}

// headerFlagsOK checks the flag bytes: a defined opcode, a defined RCODE,
// the reserved Z bit clear, and no RCODE on a query.
func headerFlagsOK(msg []byte) bool {
	opcode := (msg[2] >> 3) & 0xf
	switch opcode {
	case 0, 2, 4, 5, 6:
	default:
		return false
	}
	rcode := msg[3] & 0xf
	if msg[3]&0x40 != 0 || rcode > 11 {
		return false
	}
	return msg[2]&0x80 != 0 || rcode == 0
}

// classOK accepts IN, CH, HS, NONE and ANY; the top bit is mDNS's
// unicast-response / cache-flush flag.
func classOK(c uint16) bool {
	switch c & 0x7fff {
	case 1, 3, 4, 254, 255:
		return true
	}
	return false
}

// walkName follows a possibly compressed name starting at off and returns
// where the name ends in place.
func walkName(msg []byte, off int, strict bool) (int, verdict) {
	end := -1
	total := 0
	for hops := 0; ; {
		if off >= len(msg) {
			if end >= 0 {
				return 0, vBad // a pointer aimed past the end
			}
			return 0, vShort
		}
		c := int(msg[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if end < 0 {
					end = off + 1
				}
				return end, vOK
			}
			if off+1+c > len(msg) {
				if end >= 0 {
					return 0, vBad
				}
				return 0, vShort
			}
			if strict {
				for _, b := range msg[off+1 : off+1+c] {
					if b < 0x20 || b == 0x7f {
						return 0, vBad
					}
				}
			}
			total += c + 1
			if total > 255 {
				return 0, vBad
			}
			off += 1 + c
		case 0xc0:
			if off+2 > len(msg) {
				return 0, vShort
			}
			ptr := int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
			// Pointers lead backwards; forward ones are how loops start.
			if ptr >= off || ptr < 12 {
				return 0, vBad
			}
			if end < 0 {
				end = off + 2
			}
			hops++
			if hops > 32 {
				return 0, vBad
			}
			off = ptr
		default:
			return 0, vBad
		}
	}
}
