package live

import "encoding/binary"

// maxIPPacket is the largest packet an IP length field can describe.
const maxIPPacket = 65535

// oversize reports whether ip is a BIG TCP super-packet: longer than its IP
// length field can say, so the field is 0 (IPv4) or the payload length is 0
// (IPv6, with or without the hop-by-hop jumbo option). The kernel segments
// such packets later, and no capture file format or decoder expects them.
func oversize(ip []byte) bool {
	if len(ip) <= maxIPPacket {
		return false
	}
	switch {
	case len(ip) >= 20 && ip[0]>>4 == 4:
		return binary.BigEndian.Uint16(ip[2:]) == 0
	case len(ip) >= 40 && ip[0]>>4 == 6:
		return binary.BigEndian.Uint16(ip[4:]) == 0
	}
	return false
}

// splitTCP cuts a TCP super-packet into packets that fit their IP length
// field, as the kernel's segmentation would (fewer, larger pieces): each
// piece carries the IP and TCP headers with the length, sequence number and
// flags adjusted. PSH and FIN stay on the last piece only. It returns nil
// for anything but TCP over IPv4 or IPv6 (an IPv6 jumbo hop-by-hop header
// is removed). Checksums are left as they are: the decoder does not check
// them, and egress packets carry unfilled ones anyway.
func splitTCP(ip []byte) [][]byte {
	var ihl int
	var proto byte
	var hdr []byte // the IP header to repeat, jumbo option removed
	switch ip[0] >> 4 {
	case 4:
		ihl = int(ip[0]&0x0f) * 4
		if ihl < 20 || len(ip) < ihl {
			return nil
		}
		proto = ip[9]
		hdr = ip[:ihl]
	case 6:
		ihl = 40
		proto = ip[6]
		hdr = ip[:40]
		if proto == 0 && len(ip) >= 48 { // hop-by-hop options (jumbo payload)
			ext := 8 + int(ip[41])*8
			if len(ip) < 40+ext {
				return nil
			}
			proto = ip[40]
			h := make([]byte, 40)
			copy(h, ip[:40])
			h[6] = proto
			hdr = h
			ihl = 40 + ext
		}
	default:
		return nil
	}
	if proto != 6 {
		return nil
	}
	tcp := ip[ihl:]
	if len(tcp) < 20 {
		return nil
	}
	thl := int(tcp[12]>>4) * 4
	if thl < 20 || len(tcp) < thl {
		return nil
	}
	payload := tcp[thl:]
	step := maxIPPacket - len(hdr) - thl
	seq := binary.BigEndian.Uint32(tcp[4:])
	flags := tcp[13]
	var out [][]byte
	for off := 0; off < len(payload); off += step {
		n := min(step, len(payload)-off)
		p := make([]byte, 0, len(hdr)+thl+n)
		p = append(p, hdr...)
		p = append(p, tcp[:thl]...)
		p = append(p, payload[off:off+n]...)
		if ip[0]>>4 == 4 {
			binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
		} else {
			binary.BigEndian.PutUint16(p[4:], uint16(len(p)-40))
		}
		t := p[len(hdr):]
		binary.BigEndian.PutUint32(t[4:], seq+uint32(off))
		if off+n < len(payload) {
			t[13] = flags &^ 0x09 // FIN, PSH
		}
		out = append(out, p)
	}
	return out
}
