package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

var ts0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func pkt(lt layers.LinkType, data []byte) capture.Packet {
	return capture.Packet{Timestamp: ts0, Data: data, LinkType: lt, CaptureLength: len(data), Length: len(data)}
}

func TestDecodeLinkTypes(t *testing.T) {
	body := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	spec := tcpSpec{flags: packet.FlagPSH | packet.FlagACK, seq: 1000, ack: 2000, window: 512}
	v4 := ipTCP(t, cli4, srv4, spec, body)
	v6 := ipTCP(t, cli6, srv6, spec, body)
	u4 := ipUDP(t, cli4, srv4, body)
	u6 := ipUDP(t, cli6, srv6, body)
	le, be := binary.LittleEndian, binary.BigEndian

	tests := []struct {
		name     string
		lt       layers.LinkType
		frame    []byte
		udp, six bool
	}{
		{"ethernet ipv4 tcp", layers.LinkTypeEthernet, ethernet(t, v4, nil, false), false, false},
		{"ethernet ipv6 tcp", layers.LinkTypeEthernet, ethernet(t, v6, nil, false), false, true},
		{"ethernet ipv4 udp", layers.LinkTypeEthernet, ethernet(t, u4, nil, false), true, false},
		{"ethernet ipv6 udp", layers.LinkTypeEthernet, ethernet(t, u6, nil, false), true, true},
		{"vlan", layers.LinkTypeEthernet, ethernet(t, v4, []uint16{100}, false), false, false},
		{"qinq 88a8", layers.LinkTypeEthernet, ethernet(t, v6, []uint16{10, 20}, true), false, true},
		{"stacked 8100 x3", layers.LinkTypeEthernet, ethernet(t, u4, []uint16{1, 2, 3}, false), true, false},
		{"linux sll ipv4", layers.LinkTypeLinuxSLL, sll(v4), false, false},
		{"linux sll ipv6 udp", layers.LinkTypeLinuxSLL, sll(u6), true, true},
		{"linux sll2 ipv4", layers.LinkTypeLinuxSLL2, sll2(v4), false, false},
		{"linux sll2 ipv6", layers.LinkTypeLinuxSLL2, sll2(v6), false, true},
		{"raw 101 v4", layers.LinkTypeRaw, v4, false, false},
		{"raw 101 v6", layers.LinkTypeRaw, v6, false, true},
		{"raw dlt 12", capture.LinkTypeRawDLT12, u4, true, false},
		{"raw dlt 14", capture.LinkTypeRawDLT14, v6, false, true},
		{"ipv4 228", layers.LinkTypeIPv4, v4, false, false},
		{"ipv6 229", layers.LinkTypeIPv6, u6, true, true},
		{"null le inet", layers.LinkTypeNull, null(v4, 2, le), false, false},
		{"null be inet", layers.LinkTypeNull, null(v4, 2, be), false, false},
		{"null le inet6 bsd 24", layers.LinkTypeNull, null(v6, 24, le), false, true},
		{"null le inet6 freebsd 28", layers.LinkTypeNull, null(v6, 28, le), false, true},
		{"null le inet6 darwin 30", layers.LinkTypeNull, null(u6, 30, le), true, true},
		{"null be inet6 darwin 30", layers.LinkTypeNull, null(v6, 30, be), false, true},
		{"loop inet", layers.LinkTypeLoop, null(v4, 2, be), false, false},
		{"loop inet6 24", layers.LinkTypeLoop, null(v6, 24, be), false, true},
		{"ipv6 extension headers", layers.LinkTypeEthernet, ethernet(t, ipv6WithExt(t, cli6, srv6, spec, body), nil, false), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Options{})
			var seg packet.Segment
			p := pkt(tt.lt, tt.frame)
			p.Length += 4 // as if an FCS was not captured
			ok, err := d.Decode(p, &seg)
			if err != nil || !ok {
				t.Fatalf("Decode = %v, %v", ok, err)
			}
			src, dst := cli4, srv4
			if tt.six {
				src, dst = cli6, srv6
			}
			want := packet.Segment{Timestamp: ts0, Transport: packet.TCP, Src: src, Dst: dst,
				Flags: spec.flags, Seq: spec.seq, Ack: spec.ack, Window: spec.window, Payload: body, WireLen: len(tt.frame) + 4}
			if tt.udp {
				want.Transport, want.Flags, want.Seq, want.Ack, want.Window = packet.UDP, 0, 0, 0, 0
			}
			checkSegment(t, seg, want)
		})
	}
}

func checkSegment(t *testing.T, got, want packet.Segment) {
	t.Helper()
	if !bytes.Equal(got.Payload, want.Payload) {
		t.Errorf("payload %q, want %q", got.Payload, want.Payload)
	}
	got.Payload, want.Payload = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("segment\n got %+v\nwant %+v", got, want)
	}
}

func TestDecodeEthernetPadding(t *testing.T) {
	tests := []struct {
		name    string
		ip      []byte
		payload []byte
	}{
		{"tcp ack ipv4", ipTCP(t, cli4, srv4, tcpSpec{flags: packet.FlagACK, seq: 5}, nil), nil},
		{"tcp 1 byte ipv4", ipTCP(t, cli4, srv4, tcpSpec{flags: packet.FlagACK | packet.FlagPSH}, []byte("x")), []byte("x")},
		{"udp 2 bytes ipv4", ipUDP(t, cli4, srv4, []byte("hi")), []byte("hi")},
		{"udp 0 bytes ipv6", ipUDP(t, cli6, srv6, nil), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := pad(ethernet(t, tt.ip, nil, false))
			frame = append(frame, 0xde, 0xad, 0xbe, 0xef) // a captured FCS
			var seg packet.Segment
			ok, err := New(Options{}).Decode(pkt(layers.LinkTypeEthernet, frame), &seg)
			if !ok || err != nil {
				t.Fatalf("Decode = %v, %v", ok, err)
			}
			if !bytes.Equal(seg.Payload, tt.payload) {
				t.Fatalf("payload %q, want %q", seg.Payload, tt.payload)
			}
		})
	}
}

func TestDecodeNotTransport(t *testing.T) {
	arp := serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: 1, SourceHwAddress: macA, SourceProtAddress: []byte{10, 0, 0, 1}, DstHwAddress: macB, DstProtAddress: []byte{10, 0, 0, 2}})
	icmpIP := ipLayer(cli4.Addr(), srv4.Addr(), layers.IPProtocolICMPv4)
	icmp := serialize(t, icmpIP.(gopacket.SerializableLayer), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}, gopacket.Payload("ping"))
	icmp6IP := ipLayer(cli6.Addr(), srv6.Addr(), layers.IPProtocolICMPv6)
	icmp6 := serialize(t, icmp6IP.(gopacket.SerializableLayer), gopacket.Payload("\x80\x00\x00\x00ping"))
	lldp := append(append(append([]byte{}, macB...), macA...), 0x88, 0xcc, 0, 0)

	tests := []struct {
		name       string
		lt         layers.LinkType
		frame      []byte
		nonIP      bool
		nonTranspt bool
	}{
		{"arp", layers.LinkTypeEthernet, arp, true, false},
		{"lldp", layers.LinkTypeEthernet, lldp, true, false},
		{"icmp", layers.LinkTypeEthernet, ethernet(t, icmp, nil, false), false, true},
		{"icmpv6", layers.LinkTypeRaw, icmp6, false, true},
		{"null unknown family", layers.LinkTypeNull, null(icmp, 7, binary.LittleEndian), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Options{})
			var seg packet.Segment
			ok, err := d.Decode(pkt(tt.lt, tt.frame), &seg)
			if ok || err != nil {
				t.Fatalf("Decode = %v, %v; want false, nil", ok, err)
			}
			st := d.Stats()
			if (st.NonIP == 1) != tt.nonIP || (st.NonTransport == 1) != tt.nonTranspt {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	v4 := ipTCP(t, cli4, srv4, tcpSpec{flags: packet.FlagACK}, []byte("hello"))
	badIHL := append([]byte(nil), v4...)
	badIHL[0] = 0x43
	badOffset := append([]byte(nil), v4...)
	badOffset[20+12] = 0x20 // TCP data offset 2 words
	tests := []struct {
		name  string
		lt    layers.LinkType
		frame []byte
	}{
		{"empty ethernet", layers.LinkTypeEthernet, nil},
		{"short ethernet", layers.LinkTypeEthernet, []byte{1, 2, 3}},
		{"ipv4 cut in header", layers.LinkTypeRaw, v4[:12]},
		{"tcp cut in header", layers.LinkTypeRaw, v4[:30]},
		{"ipv4 ihl 3", layers.LinkTypeRaw, badIHL},
		{"tcp data offset 2", layers.LinkTypeRaw, badOffset},
		{"raw version 5", layers.LinkTypeRaw, []byte{0x50, 0, 0, 0}},
		{"empty raw", layers.LinkTypeRaw, nil},
		{"sll2 short", layers.LinkTypeLinuxSLL2, []byte{8, 0}},
		{"unsupported link type", layers.LinkType(105), v4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Options{})
			var seg packet.Segment
			ok, err := d.Decode(pkt(tt.lt, tt.frame), &seg)
			if ok || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode = %v, %v; want an ErrMalformed", ok, err)
			}
			if d.Stats().Malformed != 1 {
				t.Fatalf("stats %+v", d.Stats())
			}
		})
	}
	_, err := New(Options{}).Decode(pkt(105, v4), &packet.Segment{})
	if !errors.Is(err, capture.ErrUnsupportedLinkType) {
		t.Fatalf("unsupported link type: %v", err)
	}
}

func TestDecodeSnapLength(t *testing.T) {
	frame := ethernet(t, ipTCP(t, cli4, srv4, tcpSpec{flags: packet.FlagACK}, bytes.Repeat([]byte("a"), 1000)), nil, false)
	p := pkt(layers.LinkTypeEthernet, frame[:200])
	p.Length = len(frame)
	d := New(Options{})
	var seg packet.Segment
	ok, err := d.Decode(p, &seg)
	if !ok || err != nil {
		t.Fatalf("Decode = %v, %v", ok, err)
	}
	if len(seg.Payload) != 200-14-40 || seg.WireLen != len(frame) || d.Stats().Truncated != 1 {
		t.Fatalf("payload %d, wirelen %d, stats %+v", len(seg.Payload), seg.WireLen, d.Stats())
	}
}

func TestDecodeIPInIP(t *testing.T) {
	inner := ipTCP(t, cli6, srv6, tcpSpec{flags: packet.FlagSYN}, nil)
	outer := serialize(t, ipLayer(cli4.Addr(), srv4.Addr(), layers.IPProtocolIPv6).(gopacket.SerializableLayer), gopacket.Payload(inner))
	var seg packet.Segment
	ok, err := New(Options{}).Decode(pkt(layers.LinkTypeRaw, outer), &seg)
	if !ok || err != nil || seg.Src != cli6 || seg.Dst != srv6 {
		t.Fatalf("Decode = %v, %v, %v → %v", ok, err, seg.Src, seg.Dst)
	}
	_ = netip.Addr{}
}
