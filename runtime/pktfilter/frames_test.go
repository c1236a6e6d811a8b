package pktfilter

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

// Test frames are built with gopacket's serializers so that tcpdump can
// read them back for the cross-check.

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

// serialize joins layers into bytes, fixing lengths; checksums are left as
// is since no primitive looks at them.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		t.Fatalf("serialize %v: %v", ls, err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func ether(et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: et}
}

func dot1q(id uint16, et layers.EthernetType) *layers.Dot1Q {
	return &layers.Dot1Q{VLANIdentifier: id, Type: et}
}

func ip4(src, dst string, p layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: p, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

func ip6(src, dst string, p layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: p, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
}

func tcp(sp, dp uint16) *layers.TCP {
	return &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Seq: 1, SYN: true, Window: 1024, DataOffset: 5}
}

func udp(sp, dp uint16) *layers.UDP {
	return &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
}

func payload(n int) gopacket.Payload { return make(gopacket.Payload, n) }

func arp(spa, tpa string) *layers.ARP {
	return &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
		SourceHwAddress: macA, SourceProtAddress: net.ParseIP(spa).To4(),
		DstHwAddress: make([]byte, 6), DstProtAddress: net.ParseIP(tpa).To4(),
	}
}

func ethPacket(t testing.TB, ls ...gopacket.SerializableLayer) capture.Packet {
	data := serialize(t, ls...)
	return capture.Packet{LinkType: layers.LinkTypeEthernet, Data: data, CaptureLength: len(data), Length: len(data)}
}

// corpus is a set of untagged Ethernet frames covering every primitive;
// tests refer to them by index.
func corpus(t testing.TB) []capture.Packet {
	t.Helper()
	ipv4 := layers.EthernetTypeIPv4
	ipv6 := layers.EthernetTypeIPv6

	frag := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP)
	frag.FragOffset = 185 // a later fragment: no TCP header here
	firstFrag := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
	firstFrag.Flags = layers.IPv4MoreFragments

	icmp4 := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1}
	icmp6 := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
	sctp := []byte{0x00, 0x50, 0x27, 0x0f, 0, 0, 0, 1, 0, 0, 0, 0} // ports 80 -> 9999

	return []capture.Packet{
		0:  ethPacket(t, ether(ipv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(1234, 80)),
		1:  ethPacket(t, ether(ipv4), ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolTCP), tcp(80, 1234)),
		2:  ethPacket(t, ether(ipv4), ip4("10.0.0.3", "192.168.1.1", layers.IPProtocolUDP), udp(5353, 53), payload(20)),
		3:  ethPacket(t, ether(ipv4), ip4("10.0.0.1", "8.8.8.8", layers.IPProtocolICMPv4), icmp4, payload(8)),
		4:  ethPacket(t, ether(ipv6), ip6("2001:db8::1", "2001:db8::2", layers.IPProtocolTCP), tcp(40000, 443)),
		5:  ethPacket(t, ether(ipv6), ip6("fe80::1", "ff02::1:2", layers.IPProtocolUDP), udp(546, 547), payload(4)),
		6:  ethPacket(t, ether(ipv6), ip6("2001:db8::1", "2001:db8::2", layers.IPProtocolICMPv6), icmp6, payload(8)),
		7:  ethPacket(t, ether(layers.EthernetTypeARP), arp("10.0.0.1", "10.0.0.9")),
		8:  ethPacket(t, ether(ipv4), frag, payload(24)),
		9:  ethPacket(t, ether(ipv4), ip4("10.0.0.5", "10.0.0.6", layers.IPProtocolSCTP), gopacket.Payload(sctp)),
		10: ethPacket(t, ether(ipv4), ip4("172.16.5.4", "10.1.2.3", layers.IPProtocolTCP), tcp(8080, 8443), payload(1000)),
		11: ethPacket(t, ether(ipv4), firstFrag, udp(53, 5353), payload(32)),
	}
}

// vlanCorpus holds tagged frames (and one untagged) for the vlan primitive.
func vlanCorpus(t testing.TB) []capture.Packet {
	t.Helper()
	ipv4 := layers.EthernetTypeIPv4
	return []capture.Packet{
		0: ethPacket(t, ether(layers.EthernetTypeDot1Q), dot1q(100, ipv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(1234, 80)),
		1: ethPacket(t, ether(layers.EthernetTypeDot1Q), dot1q(200, ipv4), ip4("10.0.0.3", "10.0.0.4", layers.IPProtocolUDP), udp(53, 53)),
		2: ethPacket(t, ether(layers.EthernetTypeDot1Q), dot1q(100, layers.EthernetTypeDot1Q), dot1q(200, ipv4), ip4("10.0.0.1", "10.0.0.4", layers.IPProtocolTCP), tcp(1234, 443)),
		3: ethPacket(t, ether(ipv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(1234, 80)),
	}
}

// sll, sll2, null and raw re-frame an Ethernet frame's IP packet in
// another link type, to check that every supported link decodes alike.
func relink(t testing.TB, p capture.Packet, lt layers.LinkType) capture.Packet {
	t.Helper()
	ipPkt := p.Data[14:]
	et := binary.BigEndian.Uint16(p.Data[12:14])
	var hdr []byte
	switch lt {
	case layers.LinkTypeLinuxSLL:
		hdr = make([]byte, 16)
		binary.BigEndian.PutUint16(hdr[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(hdr[4:], 6)
		copy(hdr[6:], macA)
		binary.BigEndian.PutUint16(hdr[14:], et)
	case layers.LinkTypeLinuxSLL2:
		hdr = make([]byte, 20)
		binary.BigEndian.PutUint16(hdr[0:], et)
		binary.BigEndian.PutUint32(hdr[4:], 1) // interface index
		binary.BigEndian.PutUint16(hdr[8:], 1) // ARPHRD_ETHER
		hdr[11] = 6
		copy(hdr[12:], macA)
	case layers.LinkTypeNull:
		hdr = make([]byte, 4)
		fam := uint32(layers.ProtocolFamilyIPv4)
		if et == uint16(layers.EthernetTypeIPv6) {
			fam = uint32(layers.ProtocolFamilyIPv6BSD)
		}
		binary.LittleEndian.PutUint32(hdr, fam)
	case layers.LinkTypeRaw:
	default:
		t.Fatalf("relink: link type %v", lt)
	}
	data := append(hdr, ipPkt...)
	return capture.Packet{Timestamp: p.Timestamp, LinkType: lt, Data: data, CaptureLength: len(data), Length: len(data)}
}

// withTimes numbers packets by timestamp (one second apart) so that a
// packet read back from a tcpdump output file can be identified.
func withTimes(ps []capture.Packet) []capture.Packet {
	base := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range ps {
		ps[i].Timestamp = base.Add(time.Duration(i) * time.Second)
	}
	return ps
}

// rawPayload appends bytes as they are, for hand-made extension headers.
func rawPayload(b []byte) gopacket.Payload { return gopacket.Payload(b) }
