package pktfilter

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

// maxVLANs bounds the tags recorded per frame; deeper stacks are still
// decoded through, only their inner tags cannot be tested.
const maxVLANs = 8

// maxIPv6Ext bounds the IPv6 extension header walk so that a crafted chain
// cannot make matching slow.
const maxIPv6Ext = 16

type l3Kind uint8

const (
	l3None l3Kind = iota
	l3IPv4
	l3IPv6
	l3ARP
)

// headers is what the primitives test, extracted once per frame so that an
// expression with many primitives decodes the frame only once.
type headers struct {
	vlans  [maxVLANs]uint16
	nvlan  int
	l3     l3Kind
	src    netip.Addr // IP or ARP protocol addresses
	dst    netip.Addr
	proto  uint8 // IP protocol (IPv6: after the extension headers)
	ports  bool  // sport and dport are valid
	sport  uint16
	dport  uint16
	length int // on the wire
}

// scratch holds the gopacket layers decoded into, reused across frames
// through the Filter's pool so that matching does not allocate.
type scratch struct {
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	loop  layers.Loopback
	ip4   layers.IPv4
	ip6   layers.IPv6
	arp   layers.ARP
	h     headers
}

// decode fills s.h from a frame; headers it cannot decode stay unset.
func (s *scratch) decode(p capture.Packet) *headers {
	h := &s.h
	*h = headers{length: p.Length}
	if h.length <= 0 {
		h.length = len(p.Data)
	}
	nf := gopacket.NilDecodeFeedback
	var et layers.EthernetType
	var payload []byte
	switch p.LinkType {
	case layers.LinkTypeEthernet:
		if s.eth.DecodeFromBytes(p.Data, nf) != nil {
			return h
		}
		et, payload = s.eth.EthernetType, s.eth.Payload
	case layers.LinkTypeLinuxSLL:
		if s.sll.DecodeFromBytes(p.Data, nf) != nil {
			return h
		}
		et, payload = s.sll.EthernetType, s.sll.Payload
	case layers.LinkTypeLinuxSLL2:
		if s.sll2.DecodeFromBytes(p.Data, nf) != nil {
			return h
		}
		et, payload = s.sll2.ProtocolType, s.sll2.Payload
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if s.loop.DecodeFromBytes(p.Data, nf) != nil {
			return h
		}
		payload = s.loop.Payload
		switch s.loop.Family {
		case layers.ProtocolFamilyIPv4:
			et = layers.EthernetTypeIPv4
		case layers.ProtocolFamilyIPv6BSD, layers.ProtocolFamilyIPv6FreeBSD,
			layers.ProtocolFamilyIPv6Darwin, layers.ProtocolFamilyIPv6Linux:
			et = layers.EthernetTypeIPv6
		}
	case layers.LinkTypeIPv4:
		et, payload = layers.EthernetTypeIPv4, p.Data
	case layers.LinkTypeIPv6:
		et, payload = layers.EthernetTypeIPv6, p.Data
	case layers.LinkTypeRaw, capture.LinkTypeRawDLT12, capture.LinkTypeRawDLT14:
		// Raw IP has no link header: the version nibble says which IP.
		payload = p.Data
		if len(p.Data) > 0 {
			switch p.Data[0] >> 4 {
			case 4:
				et = layers.EthernetTypeIPv4
			case 6:
				et = layers.EthernetTypeIPv6
			}
		}
	default:
		return h
	}
	for isVLANType(et) && s.dot1q.DecodeFromBytes(payload, nf) == nil {
		if h.nvlan < maxVLANs {
			h.vlans[h.nvlan] = s.dot1q.VLANIdentifier
			h.nvlan++
		}
		et, payload = s.dot1q.Type, s.dot1q.Payload
	}
	switch et {
	case layers.EthernetTypeIPv4:
		s.decodeIPv4(payload)
	case layers.EthernetTypeIPv6:
		s.decodeIPv6(payload)
	case layers.EthernetTypeARP:
		if s.arp.DecodeFromBytes(payload, nf) == nil && s.arp.Protocol == layers.EthernetTypeIPv4 && s.arp.ProtAddressSize == 4 {
			h.l3 = l3ARP
			h.src = netip.AddrFrom4([4]byte(s.arp.SourceProtAddress))
			h.dst = netip.AddrFrom4([4]byte(s.arp.DstProtAddress))
		}
	}
	return h
}

func (s *scratch) decodeIPv4(data []byte) {
	if s.ip4.DecodeFromBytes(data, gopacket.NilDecodeFeedback) != nil || len(s.ip4.SrcIP) != 4 {
		return
	}
	h := &s.h
	h.l3 = l3IPv4
	h.src = netip.AddrFrom4([4]byte(s.ip4.SrcIP))
	h.dst = netip.AddrFrom4([4]byte(s.ip4.DstIP))
	h.proto = uint8(s.ip4.Protocol)
	// Only the first fragment carries the transport header, as libpcap
	// assumes too.
	if s.ip4.FragOffset == 0 {
		h.setPorts(s.ip4.Payload)
	}
}

func (s *scratch) decodeIPv6(data []byte) {
	if s.ip6.DecodeFromBytes(data, gopacket.NilDecodeFeedback) != nil || len(s.ip6.SrcIP) != 16 {
		return
	}
	h := &s.h
	h.l3 = l3IPv6
	h.src = netip.AddrFrom16([16]byte(s.ip6.SrcIP))
	h.dst = netip.AddrFrom16([16]byte(s.ip6.DstIP))
	// gopacket consumes a leading hop-by-hop header itself (for jumbograms);
	// its Payload then starts after it.
	next := s.ip6.NextHeader
	if s.ip6.HopByHop != nil {
		next = s.ip6.HopByHop.NextHeader
	}
	rest := s.ip6.Payload
	for range maxIPv6Ext {
		var n int
		switch next {
		case layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Routing, layers.IPProtocolIPv6Destination:
			if len(rest) < 2 {
				h.proto = uint8(next)
				return
			}
			n = (int(rest[1]) + 1) * 8
		case layers.IPProtocolAH:
			if len(rest) < 2 {
				h.proto = uint8(next)
				return
			}
			n = (int(rest[1]) + 2) * 4
		case layers.IPProtocolIPv6Fragment:
			if len(rest) < 8 {
				h.proto = uint8(next)
				return
			}
			if binary.BigEndian.Uint16(rest[2:4])>>3 != 0 {
				// A later fragment: the protocol is known, the ports are not.
				h.proto = rest[0]
				return
			}
			n = 8
		default:
			h.proto = uint8(next)
			h.setPorts(rest)
			return
		}
		if len(rest) < n {
			h.proto = uint8(next)
			return
		}
		next, rest = layers.IPProtocol(rest[0]), rest[n:]
	}
	h.proto = uint8(next)
}

// setPorts reads the ports of TCP, UDP and SCTP, which all start with the
// source and destination port, so a header cut short after them (by a snap
// length) still yields them.
func (h *headers) setPorts(l4 []byte) {
	switch layers.IPProtocol(h.proto) {
	case layers.IPProtocolTCP, layers.IPProtocolUDP, layers.IPProtocolSCTP:
		if len(l4) >= 4 {
			h.ports = true
			h.sport = binary.BigEndian.Uint16(l4[0:2])
			h.dport = binary.BigEndian.Uint16(l4[2:4])
		}
	}
}

// isVLANType reports the EtherTypes of VLAN tags: 802.1Q, 802.1ad and the
// pre-standard 0x9100 that libpcap's vlan primitive also accepts.
func isVLANType(et layers.EthernetType) bool {
	return et == layers.EthernetTypeDot1Q || et == layers.EthernetTypeQinQ || et == 0x9100
}
