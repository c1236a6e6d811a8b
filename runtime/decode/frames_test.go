package decode

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Hand-built frames for the tests. IP and transport headers are serialized
// by gopacket; link headers gopacket cannot write (SLL, SLL2, BSD null in
// either byte order) are prepended by hand.

var (
	cli4 = netip.MustParseAddrPort("10.0.0.1:40000")
	srv4 = netip.MustParseAddrPort("10.0.1.1:80")
	cli6 = netip.MustParseAddrPort("[2001:db8::1]:40000")
	srv6 = netip.MustParseAddrPort("[2001:db8::2]:443")
)

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

type tcpSpec struct {
	flags    uint8
	seq, ack uint32
	window   uint16
}

func tcpLayer(src, dst netip.AddrPort, s tcpSpec) *layers.TCP {
	f := s.flags
	return &layers.TCP{
		SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
		Seq: s.seq, Ack: s.ack, Window: s.window,
		FIN: f&0x01 != 0, SYN: f&0x02 != 0, RST: f&0x04 != 0, PSH: f&0x08 != 0,
		ACK: f&0x10 != 0, URG: f&0x20 != 0, ECE: f&0x40 != 0, CWR: f&0x80 != 0,
	}
}

func ipLayer(src, dst netip.Addr, proto layers.IPProtocol) gopacket.NetworkLayer {
	if src.Is4() {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice()), Id: 7}
	}
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
}

// ipTCP is an IP packet (no link header) holding one TCP segment.
func ipTCP(t testing.TB, src, dst netip.AddrPort, s tcpSpec, payload []byte) []byte {
	ip := ipLayer(src.Addr(), dst.Addr(), layers.IPProtocolTCP)
	tcp := tcpLayer(src, dst, s)
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip.(gopacket.SerializableLayer), tcp, gopacket.Payload(payload))
}

// ipUDP is an IP packet (no link header) holding one UDP datagram.
func ipUDP(t testing.TB, src, dst netip.AddrPort, payload []byte) []byte {
	ip := ipLayer(src.Addr(), dst.Addr(), layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip.(gopacket.SerializableLayer), udp, gopacket.Payload(payload))
}

func etherType(ip []byte) layers.EthernetType {
	if len(ip) > 0 && ip[0]>>4 == 6 {
		return layers.EthernetTypeIPv6
	}
	return layers.EthernetTypeIPv4
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

// ethernet wraps ip in Ethernet with the given VLAN tags, outermost first;
// a tag's TPID is 0x88a8 when qinq is set for the outer tag.
func ethernet(t testing.TB, ip []byte, vlans []uint16, qinq bool) []byte {
	ls := []gopacket.SerializableLayer{}
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: etherType(ip)}
	ls = append(ls, eth)
	if len(vlans) > 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		if qinq {
			eth.EthernetType = layers.EthernetTypeQinQ
		}
		for i, id := range vlans {
			next := layers.EthernetTypeDot1Q
			if i == len(vlans)-1 {
				next = etherType(ip)
			}
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: id, Type: next})
		}
	}
	ls = append(ls, gopacket.Payload(ip))
	return serialize(t, ls...)
}

// pad appends Ethernet padding (non-zero, to catch leaks) up to 60 bytes.
func pad(frame []byte) []byte {
	for len(frame) < 60 {
		frame = append(frame, 0xee)
	}
	return frame
}

func sll(ip []byte) []byte {
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[0:], 0) // sent to us
	binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
	binary.BigEndian.PutUint16(h[4:], 6) // address length
	copy(h[6:], macA)                    // address, padded to 8
	binary.BigEndian.PutUint16(h[14:], uint16(etherType(ip)))
	return append(h, ip...)
}

func sll2(ip []byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], uint16(etherType(ip)))
	binary.BigEndian.PutUint32(h[4:], 3) // interface index
	binary.BigEndian.PutUint16(h[8:], 1) // ARPHRD_ETHER
	h[10] = 4                            // outgoing
	h[11] = 6
	copy(h[12:], macA)
	return append(h, ip...)
}

// null prefixes the 4-byte BSD address family in the given byte order.
func null(ip []byte, family uint32, order binary.ByteOrder) []byte {
	h := make([]byte, 4)
	order.PutUint32(h, family)
	return append(h, ip...)
}

// ipv6WithExt builds IPv6 → hop-by-hop → routing → destination options →
// TCP, with the extension headers written byte by byte.
func ipv6WithExt(t testing.TB, src, dst netip.AddrPort, s tcpSpec, payload []byte) []byte {
	tcp := tcpLayer(src, dst, s)
	inner := ipLayer(src.Addr(), dst.Addr(), layers.IPProtocolTCP)
	tcp.SetNetworkLayerForChecksum(inner)
	seg := serialize(t, tcp, gopacket.Payload(payload))
	ext := []byte{
		// hop-by-hop: next=routing, len 0, PadN of 4
		43, 0, 1, 4, 0, 0, 0, 0,
		// routing: next=dest opts, len 2 (24 bytes), type 0, segments left 0
		60, 2, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		// destination options: next=TCP, len 0, PadN of 4
		6, 0, 1, 4, 0, 0, 0, 0,
	}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6HopByHop, SrcIP: net.IP(src.Addr().AsSlice()), DstIP: net.IP(dst.Addr().AsSlice())}
	return serialize(t, ip, gopacket.Payload(append(ext, seg...)))
}

// fragments4 splits an IPv4 packet into fragments with at most size bytes
// of payload each (size a multiple of 8).
func fragments4(t testing.TB, packet []byte, size int) [][]byte {
	var ip layers.IPv4
	if err := ip.DecodeFromBytes(packet, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	payload := ip.Payload
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		f := ip
		f.Flags = 0
		if end < len(payload) {
			f.Flags = layers.IPv4MoreFragments
		}
		f.FragOffset = uint16(off / 8)
		f.Options = nil
		out = append(out, serialize(t, &f, gopacket.Payload(payload[off:end])))
	}
	return out
}

// fragments6 splits an IPv6 packet whose payload is all fragmentable into
// fragments of at most size bytes (a multiple of 8).
func fragments6(t testing.TB, packet []byte, size int, id uint32) [][]byte {
	var ip layers.IPv6
	if err := ip.DecodeFromBytes(packet, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	payload := ip.Payload
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		h := ip
		h.NextHeader = layers.IPProtocolIPv6Fragment
		fr := &layers.IPv6Fragment{NextHeader: ip.NextHeader, FragmentOffset: uint16(off / 8), MoreFragments: end < len(payload), Identification: id}
		out = append(out, serialize(t, &h, fr, gopacket.Payload(payload[off:end])))
	}
	return out
}
