package decode

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

// ErrMalformed is wrapped by every error Decode returns: the frame's headers
// could not be decoded. Such frames are counted and skipped; decoding of the
// following frames is unaffected.
var ErrMalformed = errors.New("malformed packet")

// Decoder decodes link, IP and transport headers into packet.Segments.
// It keeps fragment state across calls and must be used from one goroutine.
type Decoder struct {
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	loop  layers.Loopback
	pppoe pppoe
	ip4   layers.IPv4
	ip6   layers.IPv6
	ext   *ipv6Ext
	frag6 layers.IPv6Fragment
	tcp   layers.TCP
	udp   layers.UDP

	// One parser per first layer; they share the layer structs above.
	ethernet, linuxSLL, linuxSLL2, loopback, rawIPv4, rawIPv6 *gopacket.DecodingLayerParser
	decoded                                                   []gopacket.LayerType

	v4, v6 *reassembler
	stats  Stats
}

// New returns a Decoder; zero Options fields take the defaults.
func New(opts Options) *Decoder {
	opts = opts.withDefaults()
	d := &Decoder{
		ext:     newIPv6Ext(),
		decoded: make([]gopacket.LayerType, 0, 16),
		v4:      newReassembler(opts.MaxFragmentMemory, opts.FragmentTimeout),
		v6:      newReassembler(opts.MaxFragmentMemory, opts.FragmentTimeout),
	}
	d.pppoe.d = d
	all := []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop, &d.pppoe, &d.ip4, &d.ip6, d.ext, &d.frag6, &d.tcp, &d.udp}
	parser := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		var c gopacket.DecodingLayerContainer = gopacket.DecodingLayerSparse(nil)
		for _, l := range all {
			c = c.Put(l)
		}
		p := gopacket.NewDecodingLayerParser(first)
		p.SetDecodingLayerContainer(c)
		// Anything past TCP/UDP, or an unknown protocol, just ends decoding.
		p.IgnoreUnsupported = true
		return p
	}
	d.ethernet = parser(layers.LayerTypeEthernet)
	d.linuxSLL = parser(layers.LayerTypeLinuxSLL)
	d.linuxSLL2 = parser(layers.LayerTypeLinuxSLL2)
	d.loopback = parser(layers.LayerTypeLoopback)
	d.rawIPv4 = parser(layers.LayerTypeIPv4)
	d.rawIPv6 = parser(layers.LayerTypeIPv6)
	return d
}

// Stats returns the counters so far.
func (d *Decoder) Stats() Stats { return d.stats }

// parserFor picks the parser for a frame; raw IP has no link header, so the
// version nibble decides.
func (d *Decoder) parserFor(p capture.Packet) (*gopacket.DecodingLayerParser, error) {
	switch p.LinkType {
	case layers.LinkTypeEthernet:
		return d.ethernet, nil
	case layers.LinkTypeLinuxSLL:
		return d.linuxSLL, nil
	case layers.LinkTypeLinuxSLL2:
		return d.linuxSLL2, nil
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return d.loopback, nil
	case layers.LinkTypeIPv4:
		return d.rawIPv4, nil
	case layers.LinkTypeIPv6:
		return d.rawIPv6, nil
	case layers.LinkTypeRaw, capture.LinkTypeRawDLT12, capture.LinkTypeRawDLT14:
		if len(p.Data) == 0 {
			return nil, errors.New("empty raw IP packet")
		}
		switch p.Data[0] >> 4 {
		case 4:
			return d.rawIPv4, nil
		case 6:
			return d.rawIPv6, nil
		}
		return nil, fmt.Errorf("raw IP packet with IP version %d", p.Data[0]>>4)
	}
	return nil, fmt.Errorf("%w %d (%s)", capture.ErrUnsupportedLinkType, uint32(p.LinkType), capture.LinkTypeName(p.LinkType))
}

// Decode decodes one frame into out. It returns ok=false with a nil error
// for frames that carry no TCP or UDP (ARP, ICMP, ...) and for fragments of
// a datagram that is not complete yet. An error (wrapping ErrMalformed)
// means the frame was malformed; it is counted, and the caller should go on
// with the next frame. out.Payload aliases p.Data or the decoder's
// reassembly buffer and is valid until the next call.
func (d *Decoder) Decode(p capture.Packet, out *packet.Segment) (ok bool, err error) {
	d.stats.Packets++
	d.stats.Bytes += uint64(len(p.Data))
	// Time out incomplete datagrams even when no more fragments arrive.
	if len(d.v4.pending) > 0 {
		d.stats.FragmentsDropped += uint64(d.v4.expire(p.Timestamp))
	}
	if len(d.v6.pending) > 0 {
		d.stats.FragmentsDropped += uint64(d.v6.expire(p.Timestamp))
	}

	parser, err := d.parserFor(p)
	if err != nil {
		return d.malformed(p, err)
	}
	if err := parser.DecodeLayers(p.Data, &d.decoded); err != nil {
		return d.malformed(p, err)
	}

	// The last network layer wins, so that with IP-in-IP the inner
	// addresses go with the inner transport header.
	var network, last gopacket.LayerType
	for _, t := range d.decoded {
		if t == layers.LayerTypeIPv4 || t == layers.LayerTypeIPv6 {
			network = t
		}
		last = t
	}
	if network == 0 {
		d.stats.NonIP++
		return false, nil
	}
	switch last {
	case layers.LayerTypeTCP, layers.LayerTypeUDP:
		if parser.Truncated {
			d.stats.Truncated++
		}
		src, dst := d.addrs(network)
		return d.transport(p, out, last, src, dst)
	case layers.LayerTypeIPv4:
		if d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
			return d.fragment4(p, out, parser.Truncated)
		}
	case layers.LayerTypeIPv6Fragment:
		if d.frag6.FragmentOffset != 0 || d.frag6.MoreFragments {
			return d.fragment6(p, out, parser.Truncated)
		}
	}
	d.stats.NonTransport++
	return false, nil
}

func (d *Decoder) malformed(p capture.Packet, err error) (bool, error) {
	d.stats.Malformed++
	return false, fmt.Errorf("packet at byte %d: %w: %w", p.Offset, ErrMalformed, err)
}

func (d *Decoder) addrs(network gopacket.LayerType) (src, dst netip.Addr) {
	if network == layers.LayerTypeIPv4 {
		return netip.AddrFrom4([4]byte(d.ip4.SrcIP)), netip.AddrFrom4([4]byte(d.ip4.DstIP))
	}
	return netip.AddrFrom16([16]byte(d.ip6.SrcIP)), netip.AddrFrom16([16]byte(d.ip6.DstIP))
}

// transport fills out from the already decoded TCP or UDP layer.
func (d *Decoder) transport(p capture.Packet, out *packet.Segment, t gopacket.LayerType, src, dst netip.Addr) (bool, error) {
	out.Timestamp = p.Timestamp
	out.WireLen = wireLen(p)
	if t == layers.LayerTypeTCP {
		out.Transport = packet.TCP
		out.Src = netip.AddrPortFrom(src, uint16(d.tcp.SrcPort))
		out.Dst = netip.AddrPortFrom(dst, uint16(d.tcp.DstPort))
		// The flags byte is taken raw: it is the wire encoding packet uses.
		out.Flags = d.tcp.Contents[13]
		out.Seq, out.Ack, out.Window = d.tcp.Seq, d.tcp.Ack, d.tcp.Window
		out.WindowScale, out.HasWindowScale = 0, false
		if d.tcp.SYN {
			out.WindowScale, out.HasWindowScale = windowScale(d.tcp.Options)
		}
		out.Payload = d.tcp.Payload
		return true, nil
	}
	out.Transport = packet.UDP
	out.Src = netip.AddrPortFrom(src, uint16(d.udp.SrcPort))
	out.Dst = netip.AddrPortFrom(dst, uint16(d.udp.DstPort))
	out.Flags, out.Seq, out.Ack, out.Window = 0, 0, 0, 0
	out.WindowScale, out.HasWindowScale = 0, false
	out.Payload = d.udp.Payload
	return true, nil
}

func (d *Decoder) fragment4(p capture.Packet, out *packet.Segment, truncated bool) (bool, error) {
	d.stats.IPv4Fragments++
	src, dst := d.addrs(layers.LayerTypeIPv4)
	// A fragment cut by the snap length would leave a hole: drop it.
	if truncated || len(d.ip4.Payload) < int(d.ip4.Length)-int(d.ip4.IHL)*4 {
		d.stats.FragmentsDropped++
		return false, nil
	}
	k := fragKey{src: src, dst: dst, id: uint32(d.ip4.Id), proto: uint8(d.ip4.Protocol)}
	more := d.ip4.Flags&layers.IPv4MoreFragments != 0
	data, proto, wire, dropped := d.v4.add(k, p.Timestamp, int(d.ip4.FragOffset)*8, more, uint8(d.ip4.Protocol), d.ip4.Payload, wireLen(p))
	d.stats.FragmentsDropped += uint64(dropped)
	if data == nil {
		return false, nil
	}
	d.stats.Reassembled++
	return d.reassembled(p, out, layers.IPProtocol(proto), data, src, dst, wire)
}

func (d *Decoder) fragment6(p capture.Packet, out *packet.Segment, truncated bool) (bool, error) {
	d.stats.IPv6Fragments++
	src, dst := d.addrs(layers.LayerTypeIPv6)
	if truncated {
		d.stats.FragmentsDropped++
		return false, nil
	}
	k := fragKey{src: src, dst: dst, id: d.frag6.Identification}
	data, proto, wire, dropped := d.v6.add(k, p.Timestamp, int(d.frag6.FragmentOffset)*8, d.frag6.MoreFragments, uint8(d.frag6.NextHeader), d.frag6.Payload, wireLen(p))
	d.stats.FragmentsDropped += uint64(dropped)
	if data == nil {
		return false, nil
	}
	d.stats.Reassembled++
	next := layers.IPProtocol(proto)
	for isSkippableExt(next) {
		var err error
		if next, data, err = skipIPv6Ext(data); err != nil {
			return d.malformed(p, fmt.Errorf("reassembled IPv6 datagram: %w", err))
		}
	}
	return d.reassembled(p, out, next, data, src, dst, wire)
}

// reassembled decodes the transport header of a rebuilt datagram, which
// no longer has a frame around it for the DecodingLayerParser.
func (d *Decoder) reassembled(p capture.Packet, out *packet.Segment, proto layers.IPProtocol, data []byte, src, dst netip.Addr, wire int) (bool, error) {
	var t gopacket.LayerType
	var err error
	switch proto {
	case layers.IPProtocolTCP:
		t, err = layers.LayerTypeTCP, d.tcp.DecodeFromBytes(data, gopacket.NilDecodeFeedback)
	case layers.IPProtocolUDP:
		t, err = layers.LayerTypeUDP, d.udp.DecodeFromBytes(data, gopacket.NilDecodeFeedback)
	default:
		d.stats.NonTransport++
		return false, nil
	}
	if err != nil {
		return d.malformed(p, fmt.Errorf("reassembled datagram: %w", err))
	}
	ok, err := d.transport(p, out, t, src, dst)
	// The datagram took all its fragments' frames on the wire.
	out.WireLen = wire
	return ok, err
}

// wireLen is the frame's length on the wire; some writers leave it zero.
func wireLen(p capture.Packet) int {
	if p.Length > 0 {
		return p.Length
	}
	return len(p.Data)
}

// Flush drops incomplete datagrams (at the end of a capture) and returns
// how many fragments they held, which are also counted in Stats.
func (d *Decoder) Flush() int {
	n := 0
	for _, r := range []*reassembler{d.v4, d.v6} {
		for k, dg := range r.pending {
			n += r.remove(k, dg)
		}
		r.queue, r.head = r.queue[:0], 0
	}
	d.stats.FragmentsDropped += uint64(n)
	return n
}

// windowScale finds the window scale option among a SYN's options. RFC 7323
// caps the shift at 14 and says a larger one is to be read as 14.
func windowScale(opts []layers.TCPOption) (uint8, bool) {
	for _, o := range opts {
		if o.OptionType == layers.TCPOptionKindWindowScale && len(o.OptionData) == 1 {
			return min(o.OptionData[0], 14), true
		}
	}
	return 0, false
}
