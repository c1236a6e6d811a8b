package live

import (
	"encoding/binary"
	"testing"
	"time"
)

// tcp4 builds an IPv4 TCP packet.
func tcp4(src, dst [4]byte, sport, dport uint16, id uint16, ttl byte, seq, ack uint32, payload string) []byte {
	p := make([]byte, 40+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[4:], id)
	p[8], p[9] = ttl, 6
	copy(p[12:], src[:])
	copy(p[16:], dst[:])
	t := p[20:]
	binary.BigEndian.PutUint16(t[0:], sport)
	binary.BigEndian.PutUint16(t[2:], dport)
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12], t[13] = 5<<4, 0x18
	binary.BigEndian.PutUint16(t[14:], 512)
	copy(t[20:], payload)
	return p
}

// udp4 builds an IPv4 UDP packet.
func udp4(src, dst [4]byte, sport, dport uint16, id uint16, payload string) []byte {
	p := make([]byte, 28+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[4:], id)
	p[8], p[9] = 64, 17
	copy(p[12:], src[:])
	copy(p[16:], dst[:])
	binary.BigEndian.PutUint16(p[20:], sport)
	binary.BigEndian.PutUint16(p[22:], dport)
	binary.BigEndian.PutUint16(p[24:], uint16(8+len(payload)))
	copy(p[28:], payload)
	return p
}

func TestDedupe(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	a, b, nat := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, [4]byte{10, 96, 0, 10}
	pkt := tcp4(a, b, 40000, 80, 7, 64, 1000, 2000, "GET / HTTP/1.1\r\n\r\n")
	tests := []struct {
		name    string
		egress  [][]byte
		ingress []byte
		at      time.Duration
		dup     bool
	}{
		{"same bytes", [][]byte{pkt}, pkt, 0, true},
		{"TTL decremented by routing", [][]byte{pkt}, tcp4(a, b, 40000, 80, 7, 63, 1000, 2000, "GET / HTTP/1.1\r\n\r\n"), 0, true},
		{"NAT rewrote address and port", [][]byte{pkt}, tcp4(a, nat, 40000, 8080, 7, 64, 1000, 2000, "GET / HTTP/1.1\r\n\r\n"), 0, true},
		{"other sequence number", [][]byte{pkt}, tcp4(a, b, 40000, 80, 7, 64, 1001, 2000, "GET / HTTP/1.1\r\n\r\n"), 0, false},
		{"other acknowledgement", [][]byte{pkt}, tcp4(a, b, 40000, 80, 7, 64, 1000, 2001, "GET / HTTP/1.1\r\n\r\n"), 0, false},
		{"longer than what was sent", [][]byte{pkt}, tcp4(a, b, 40000, 80, 7, 64, 1000, 2000, "GET / HTTP/1.1\r\n\r\nmore"), 0, false},
		{"super-packet arrives as segments", [][]byte{tcp4(a, b, 1, 2, 7, 64, 1000, 2000, "0123456789")}, tcp4(a, b, 1, 2, 9, 64, 1004, 2000, "456789"), 0, true},
		{"segments arrive coalesced", [][]byte{tcp4(a, b, 1, 2, 7, 64, 1000, 2000, "01234"), tcp4(a, b, 1, 2, 8, 64, 1005, 2000, "56789")}, tcp4(a, b, 1, 2, 7, 64, 1000, 2000, "0123456789"), 0, true},
		{"sequence wraps", [][]byte{tcp4(a, b, 1, 2, 7, 64, 0xfffffffc, 2000, "01234567")}, tcp4(a, b, 1, 2, 7, 64, 0xfffffffe, 2000, "234567"), 0, true},
		{"pure ACK, other IP id", [][]byte{tcp4(a, b, 1, 2, 7, 64, 1, 2, "")}, tcp4(a, b, 1, 2, 8, 64, 1, 2, ""), 0, false},
		{"pure ACK, same", [][]byte{tcp4(a, b, 1, 2, 7, 64, 1, 2, "")}, tcp4(a, b, 1, 2, 7, 63, 1, 2, ""), 0, true},
		{"no egress copy (remote sender)", nil, pkt, 0, false},
		{"egress copy forgotten", [][]byte{pkt}, pkt, 5 * time.Second, false},
		{"not IP", [][]byte{{1, 2, 3}}, []byte{1, 2, 3}, 0, false},
	}
	dns := udp4(a, b, 5353, 53, 11, "\x12\x34\x01\x00\x00\x01example")
	tests = append(tests, []struct {
		name    string
		egress  [][]byte
		ingress []byte
		at      time.Duration
		dup     bool
	}{
		{"UDP, same", [][]byte{dns}, udp4(a, nat, 5353, 5300, 11, "\x12\x34\x01\x00\x00\x01example"), 0, true},
		{"UDP, other query id", [][]byte{dns}, udp4(a, b, 5353, 53, 11, "\x12\x35\x01\x00\x00\x01example"), 0, false},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDedupe(time.Second)
			for _, e := range tt.egress {
				d.Egress(e, t0)
			}
			if got := d.Ingress(tt.ingress, t0.Add(tt.at)); got != tt.dup {
				t.Fatalf("Ingress = %v, want %v", got, tt.dup)
			}
		})
	}
}

// TestDedupeCountsCopies: a packet sent twice (a retransmission) arrives
// twice; each egress copy cancels one ingress copy, no more.
func TestDedupeCountsCopies(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	pkt := tcp4([4]byte{127, 0, 0, 1}, [4]byte{127, 0, 0, 1}, 1, 2, 3, 64, 4, 5, "x")
	d := NewDedupe(time.Second)
	d.Egress(pkt, t0)
	d.Egress(pkt, t0)
	got := []bool{d.Ingress(pkt, t0), d.Ingress(pkt, t0), d.Ingress(pkt, t0)}
	if !got[0] || !got[1] || got[2] {
		t.Fatalf("three ingress copies after two egress copies: %v, want [true true false]", got)
	}
}

func TestSplitTCP(t *testing.T) {
	payload := make([]byte, 150000)
	for i := range payload {
		payload[i] = byte(i)
	}
	big := tcp4([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 1, 2, 3, 64, 0xfffff000, 9, string(payload))
	binary.BigEndian.PutUint16(big[2:], 0) // BIG TCP: the length does not fit
	big[33] |= 0x01                        // FIN on the super-packet
	if !oversize(big) {
		t.Fatal("oversize = false for a 150 kB packet with total length 0")
	}
	pieces := splitTCP(big)
	if len(pieces) != 3 {
		t.Fatalf("%d pieces, want 3", len(pieces))
	}
	var joined []byte
	seq := uint32(0xfffff000)
	for i, p := range pieces {
		if n := int(binary.BigEndian.Uint16(p[2:])); n != len(p) || n > maxIPPacket {
			t.Fatalf("piece %d: total length %d, size %d", i, n, len(p))
		}
		if got := binary.BigEndian.Uint32(p[24:]); got != seq {
			t.Fatalf("piece %d: seq %#x, want %#x (wrapping)", i, got, seq)
		}
		fin := p[33]&0x01 != 0
		if fin != (i == len(pieces)-1) {
			t.Fatalf("piece %d: FIN %v", i, fin)
		}
		joined = append(joined, p[40:]...)
		seq += uint32(len(p) - 40)
	}
	if string(joined) != string(payload) {
		t.Fatal("pieces do not join into the payload")
	}
	small := tcp4([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 1, 2, 3, 64, 1, 9, "x")
	if oversize(small) {
		t.Fatal("oversize = true for a small packet")
	}
}
