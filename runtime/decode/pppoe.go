package decode

import (
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// PPP protocol numbers carried in PPPoE sessions (RFC 1661, RFC 5072).
const (
	pppIPv4 = 0x0021
	pppIPv6 = 0x0057
)

// pppoe decodes a PPPoE header (RFC 2516) and, in the session stage, the
// PPP protocol field that follows it, handing IPv4 and IPv6 on. gopacket's
// layers.PPPoE and layers.PPP are not DecodingLayers, hence this layer.
//
// Ethernet (and VLAN, SLL, SLL2) give both PPPoE EtherTypes the one layer
// type LayerTypePPPoE, so the layer looks back at the EtherType that led to
// it: discovery packets (0x8863) carry tags, not PPP, and end decoding there,
// which the Decoder counts as non-IP. So do PPP control protocols (LCP,
// IPCP, ...) and anything else that is not IP.
type pppoe struct {
	layers.BaseLayer
	d    *Decoder
	next gopacket.LayerType
}

var (
	errPPPoETooShort = errors.New("PPPoE header too short")
	errPPPTooShort   = errors.New("PPP protocol field missing")
)

func (p *pppoe) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	p.next = gopacket.LayerTypeZero
	if len(data) < 6 {
		df.SetTruncated()
		return errPPPoETooShort
	}
	// The Length field bounds the PPP frame, which drops Ethernet padding; a
	// frame cut by the snap length keeps what was captured.
	end := 6 + (int(data[4])<<8 | int(data[5]))
	if end > len(data) {
		df.SetTruncated()
		end = len(data)
	}
	if p.d.etherType() != layers.EthernetTypePPPoESession {
		p.Contents, p.Payload = data[:6], data[6:end]
		return nil
	}
	ppp := data[6:end]
	if len(ppp) == 0 {
		// A session packet without a PPP frame: nothing to hand on.
		p.Contents, p.Payload = data[:6], nil
		return nil
	}
	// The protocol field is two bytes, or one with protocol field
	// compression (RFC 1661 section 6.5): the low bit of its last byte is
	// set, and that of the first byte of a two-byte field is clear.
	n := 2
	if ppp[0]&1 != 0 {
		n = 1
	}
	if len(ppp) < n {
		df.SetTruncated()
		return errPPPTooShort
	}
	proto := uint16(ppp[0])
	if n == 2 {
		proto = proto<<8 | uint16(ppp[1])
	}
	switch proto {
	case pppIPv4:
		p.next = layers.LayerTypeIPv4
	case pppIPv6:
		p.next = layers.LayerTypeIPv6
	}
	p.Contents, p.Payload = data[:6+n], ppp[n:]
	return nil
}

func (p *pppoe) CanDecode() gopacket.LayerClass    { return layers.LayerTypePPPoE }
func (p *pppoe) NextLayerType() gopacket.LayerType { return p.next }
func (p *pppoe) LayerType() gopacket.LayerType     { return layers.LayerTypePPPoE }

// etherType is the EtherType of the layer just decoded, the one that named
// the layer being decoded now. The parser appends each layer to d.decoded
// once it is decoded, so the last entry is the previous layer.
func (d *Decoder) etherType() layers.EthernetType {
	if len(d.decoded) == 0 {
		return 0
	}
	switch d.decoded[len(d.decoded)-1] {
	case layers.LayerTypeEthernet:
		return d.eth.EthernetType
	case layers.LayerTypeDot1Q:
		return d.dot1q.Type
	case layers.LayerTypeLinuxSLL:
		return d.sll.EthernetType
	case layers.LayerTypeLinuxSLL2:
		return d.sll2.ProtocolType
	}
	return 0
}
