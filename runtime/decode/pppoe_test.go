package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

// pppoeHeader is a PPPoE header (version 1, type 1) followed by body, with
// the Length field set to len(body).
func pppoeHeader(code uint8, session uint16, body []byte) []byte {
	h := []byte{0x11, code, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(h[2:], session)
	binary.BigEndian.PutUint16(h[4:], uint16(len(body)))
	return append(h, body...)
}

// pppFrame is a PPP frame: the protocol field (two bytes, or one when
// compressed) and the payload.
func pppFrame(proto uint16, compressed bool, payload []byte) []byte {
	var f []byte
	if compressed {
		f = []byte{byte(proto)}
	} else {
		f = []byte{byte(proto >> 8), byte(proto)}
	}
	return append(f, payload...)
}

// ethernetType wraps payload in Ethernet with the given EtherType, behind
// the given 802.1Q tags (outermost first).
func ethernetType(payload []byte, et layers.EthernetType, vlans ...uint16) []byte {
	f := append(append([]byte{}, macB...), macA...)
	for _, id := range vlans {
		f = binary.BigEndian.AppendUint16(f, uint16(layers.EthernetTypeDot1Q))
		f = binary.BigEndian.AppendUint16(f, id)
	}
	f = binary.BigEndian.AppendUint16(f, uint16(et))
	return append(f, payload...)
}

// pppoeSession is Ethernet → VLANs → PPPoE session → PPP → ip.
func pppoeSession(ip []byte, vlans ...uint16) []byte {
	proto := uint16(pppIPv4)
	if etherType(ip) == layers.EthernetTypeIPv6 {
		proto = pppIPv6
	}
	return ethernetType(pppoeHeader(0, 0x1234, pppFrame(proto, false, ip)), layers.EthernetTypePPPoESession, vlans...)
}

func TestDecodePPPoE(t *testing.T) {
	body := []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01")
	spec := tcpSpec{flags: packet.FlagPSH | packet.FlagACK, seq: 1000, ack: 2000, window: 512}
	v4 := ipTCP(t, cli4, srv4, spec, body)
	v6 := ipTCP(t, cli6, srv6, spec, body)
	u4 := ipUDP(t, cli4, srv4, body)
	u6 := ipUDP(t, cli6, srv6, body)
	short := ipUDP(t, cli4, srv4, []byte("x"))

	// An SLL header for a PPPoE session.
	sllPPPoE := sll(pppoeHeader(0, 1, pppFrame(pppIPv4, false, u4)))
	binary.BigEndian.PutUint16(sllPPPoE[14:], uint16(layers.EthernetTypePPPoESession))
	sll2PPPoE := sll2(pppoeHeader(0, 1, pppFrame(pppIPv6, false, v6)))
	binary.BigEndian.PutUint16(sll2PPPoE[0:], uint16(layers.EthernetTypePPPoESession))

	tests := []struct {
		name     string
		lt       layers.LinkType
		frame    []byte
		payload  []byte
		udp, six bool
	}{
		{"pppoe ipv4 udp", layers.LinkTypeEthernet, pppoeSession(u4), body, true, false},
		{"pppoe ipv6 udp", layers.LinkTypeEthernet, pppoeSession(u6), body, true, true},
		{"pppoe ipv4 tcp", layers.LinkTypeEthernet, pppoeSession(v4), body, false, false},
		{"pppoe ipv6 tcp", layers.LinkTypeEthernet, pppoeSession(v6), body, false, true},
		{"vlan pppoe", layers.LinkTypeEthernet, pppoeSession(u4, 100), body, true, false},
		{"double vlan pppoe ipv4", layers.LinkTypeEthernet, pppoeSession(u4, 10, 20), body, true, false},
		{"double vlan pppoe ipv6", layers.LinkTypeEthernet, pppoeSession(v6, 10, 20), body, false, true},
		{"protocol field compression", layers.LinkTypeEthernet,
			ethernetType(pppoeHeader(0, 7, pppFrame(pppIPv4, true, u4)), layers.EthernetTypePPPoESession), body, true, false},
		{"ethernet padding", layers.LinkTypeEthernet, pad(pppoeSession(short)), []byte("x"), true, false},
		// A session packet with a non-zero code is still a session packet.
		{"session non-zero code", layers.LinkTypeEthernet,
			ethernetType(pppoeHeader(0x65, 7, pppFrame(pppIPv6, false, u6)), layers.EthernetTypePPPoESession), body, true, true},
		{"linux sll pppoe", layers.LinkTypeLinuxSLL, sllPPPoE, body, true, false},
		{"linux sll2 pppoe", layers.LinkTypeLinuxSLL2, sll2PPPoE, body, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Options{})
			var seg packet.Segment
			ok, err := d.Decode(pkt(tt.lt, tt.frame), &seg)
			if err != nil || !ok {
				t.Fatalf("Decode = %v, %v (stats %+v)", ok, err, d.Stats())
			}
			src, dst := cli4, srv4
			if tt.six {
				src, dst = cli6, srv6
			}
			want := packet.Segment{Timestamp: ts0, Transport: packet.TCP, Src: src, Dst: dst,
				Flags: spec.flags, Seq: spec.seq, Ack: spec.ack, Window: spec.window, Payload: tt.payload, WireLen: len(tt.frame)}
			if tt.udp {
				want.Transport, want.Flags, want.Seq, want.Ack, want.Window = packet.UDP, 0, 0, 0, 0
			}
			checkSegment(t, seg, want)
			if st := d.Stats(); st.NonIP+st.NonTransport+st.Malformed+st.Truncated != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestDecodePPPoENotIP(t *testing.T) {
	u4 := ipUDP(t, cli4, srv4, []byte("hello"))
	// PADI with a Service-Name tag and a Host-Uniq tag.
	padi := pppoeHeader(0x09, 0, []byte{0x01, 0x01, 0, 0, 0x01, 0x03, 0, 4, 1, 2, 3, 4})
	// LCP Configure-Request with a Magic-Number option.
	lcp := pppoeHeader(0, 7, pppFrame(0xc021, false, []byte{1, 1, 0, 10, 5, 6, 1, 2, 3, 4}))
	// IPCP Configure-Request.
	ipcp := pppoeHeader(0, 7, pppFrame(0x8021, false, []byte{1, 1, 0, 10, 3, 6, 10, 0, 0, 1}))

	tests := []struct {
		name  string
		frame []byte
	}{
		{"discovery padi", ethernetType(padi, layers.EthernetTypePPPoEDiscovery)},
		{"discovery pads vlan", ethernetType(pppoeHeader(0x65, 7, []byte{0x01, 0x01, 0, 0}), layers.EthernetTypePPPoEDiscovery, 5, 6)},
		{"discovery padt empty", ethernetType(pppoeHeader(0xa7, 7, nil), layers.EthernetTypePPPoEDiscovery)},
		// Discovery is never PPP, even when the bytes after its header
		// would read as an IPv4 PPP frame.
		{"discovery looking like ip", ethernetType(pppoeHeader(0, 7, pppFrame(pppIPv4, false, u4)), layers.EthernetTypePPPoEDiscovery)},
		{"session lcp", ethernetType(lcp, layers.EthernetTypePPPoESession)},
		{"session ipcp vlan", ethernetType(ipcp, layers.EthernetTypePPPoESession, 10, 20)},
		{"session empty", ethernetType(pppoeHeader(0, 7, nil), layers.EthernetTypePPPoESession)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Options{})
			var seg packet.Segment
			ok, err := d.Decode(pkt(layers.LinkTypeEthernet, tt.frame), &seg)
			if ok || err != nil {
				t.Fatalf("Decode = %v, %v; want false, nil", ok, err)
			}
			if st := d.Stats(); st.NonIP != 1 || st.NonTransport+st.Malformed != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestDecodePPPoEMalformed(t *testing.T) {
	u4 := ipUDP(t, cli4, srv4, []byte("hello"))
	badIP := append([]byte(nil), u4...)
	badIP[0] = 0x43 // IHL 3
	tests := []struct {
		name  string
		frame []byte
	}{
		{"header cut", ethernetType([]byte{0x11, 0, 0x12}, layers.EthernetTypePPPoESession)},
		{"bad ipv4 inside", pppoeSession(badIP)},
		{"ipv4 cut inside", ethernetType(pppoeHeader(0, 7, pppFrame(pppIPv4, false, u4[:12])), layers.EthernetTypePPPoESession)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Options{})
			ok, err := d.Decode(pkt(layers.LinkTypeEthernet, tt.frame), &packet.Segment{})
			if ok || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode = %v, %v; want an ErrMalformed", ok, err)
			}
			if d.Stats().Malformed != 1 {
				t.Fatalf("stats %+v", d.Stats())
			}
		})
	}
}

// TestDecodePPPoESnapLength: a frame cut by the snap length inside the PPP
// payload still yields what was captured, counted as truncated.
func TestDecodePPPoESnapLength(t *testing.T) {
	frame := pppoeSession(ipUDP(t, cli4, srv4, bytes.Repeat([]byte("a"), 1000)), 1, 2)
	p := pkt(layers.LinkTypeEthernet, frame[:200])
	p.Length = len(frame)
	d := New(Options{})
	var seg packet.Segment
	ok, err := d.Decode(p, &seg)
	if !ok || err != nil {
		t.Fatalf("Decode = %v, %v", ok, err)
	}
	if hdr := 14 + 8 + 6 + 2 + 20 + 8; len(seg.Payload) != 200-hdr || seg.WireLen != len(frame) || d.Stats().Truncated != 1 {
		t.Fatalf("payload %d, wirelen %d, stats %+v", len(seg.Payload), seg.WireLen, d.Stats())
	}
}

// TestDecodePPPoEAfterDiscovery checks that the EtherType look-back does
// not carry state from one frame to the next.
func TestDecodePPPoEAfterDiscovery(t *testing.T) {
	u4 := ipUDP(t, cli4, srv4, []byte("hello"))
	d := New(Options{})
	var seg packet.Segment
	frames := [][]byte{
		ethernetType(pppoeHeader(0x09, 0, nil), layers.EthernetTypePPPoEDiscovery, 3),
		pppoeSession(u4, 3),
		ethernetType(pppoeHeader(0, 7, pppFrame(pppIPv4, false, u4)), layers.EthernetTypePPPoEDiscovery),
		pppoeSession(u4),
	}
	var oks []bool
	for _, f := range frames {
		ok, err := d.Decode(pkt(layers.LinkTypeEthernet, f), &seg)
		if err != nil {
			t.Fatal(err)
		}
		oks = append(oks, ok)
	}
	if oks[0] || !oks[1] || oks[2] || !oks[3] || d.Stats().NonIP != 2 {
		t.Fatalf("ok %v, stats %+v", oks, d.Stats())
	}
}

// TestDecodeCorpusPPPoE checks that the corpus captures of PPPoE sessions
// yield a segment for every frame.
func TestDecodeCorpusPPPoE(t *testing.T) {
	for _, f := range corpusFiles(t) {
		name := filepath.Base(f)
		if !strings.Contains(name, "pppoe") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			st, errs, segs := decodeFile(t, f)
			if errs != 0 || st.NonIP != 0 || uint64(segs) != st.Packets {
				t.Fatalf("%d segments, %d errors: %+v", segs, errs, st)
			}
		})
	}
}
