package decode

import (
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ipv6Ext skips the IPv6 extension headers that do not change how the rest
// of the packet is read: hop-by-hop (when not first, which IPv6 itself
// handles), routing and destination options. gopacket's IPv6ExtensionSkipper
// would also claim the fragment header, which must go to layers.IPv6Fragment
// so that fragments are reassembled rather than skipped.
type ipv6Ext struct {
	layers.BaseLayer
	next  layers.IPProtocol
	class gopacket.LayerClass
}

func newIPv6Ext() *ipv6Ext {
	return &ipv6Ext{class: gopacket.NewLayerClass([]gopacket.LayerType{
		layers.LayerTypeIPv6HopByHop,
		layers.LayerTypeIPv6Routing,
		layers.LayerTypeIPv6Destination,
	})}
}

var errExtTooShort = errors.New("IPv6 extension header longer than the packet")

// skipIPv6Ext is the header walk shared with reassembled IPv6 payloads,
// which may start with destination options.
func skipIPv6Ext(data []byte) (next layers.IPProtocol, rest []byte, err error) {
	if len(data) < 2 {
		return 0, nil, errExtTooShort
	}
	n := (int(data[1]) + 1) * 8
	if len(data) < n {
		return 0, nil, errExtTooShort
	}
	return layers.IPProtocol(data[0]), data[n:], nil
}

func isSkippableExt(p layers.IPProtocol) bool {
	return p == layers.IPProtocolIPv6HopByHop || p == layers.IPProtocolIPv6Routing || p == layers.IPProtocolIPv6Destination
}

func (e *ipv6Ext) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	next, rest, err := skipIPv6Ext(data)
	if err != nil {
		df.SetTruncated()
		return err
	}
	e.next = next
	e.Contents, e.Payload = data[:len(data)-len(rest)], rest
	return nil
}

func (e *ipv6Ext) CanDecode() gopacket.LayerClass    { return e.class }
func (e *ipv6Ext) NextLayerType() gopacket.LayerType { return e.next.LayerType() }
func (e *ipv6Ext) LayerType() gopacket.LayerType     { return layers.LayerTypeIPv6Destination }
