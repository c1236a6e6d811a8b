package packet

import (
	"net/netip"
	"time"
)

// Transport is the L4 protocol of a segment.
type Transport uint8

const (
	TCP Transport = 6
	UDP Transport = 17
)

// String returns "tcp" or "udp".
func (t Transport) String() string {
	switch t {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "unknown"
}

// TCP flag bits, as in the TCP header.
const (
	FlagFIN uint8 = 0x01
	FlagSYN uint8 = 0x02
	FlagRST uint8 = 0x04
	FlagPSH uint8 = 0x08
	FlagACK uint8 = 0x10
	FlagURG uint8 = 0x20
	FlagECE uint8 = 0x40
	FlagCWR uint8 = 0x80
)

// Segment is one TCP segment or UDP datagram after link and IP decoding
// (including IP fragment reassembly).
type Segment struct {
	Timestamp time.Time
	Transport Transport
	Src, Dst  netip.AddrPort
	// TCP only.
	Flags  uint8
	Seq    uint32
	Ack    uint32
	Window uint16
	// WindowScale is the shift count of a window scale option (RFC 7323),
	// capped at 14; HasWindowScale says the segment carried one. Only SYN
	// segments may, and flow analysis needs it to turn later Window values
	// into bytes.
	WindowScale    uint8
	HasWindowScale bool
	// Payload aliases the decoder's buffer; it is valid only until the next
	// packet is decoded, so keep a copy if it must live longer.
	Payload []byte
	// WireLen is the original length of the frame on the wire.
	WireLen int
}

// Has reports whether all of the given TCP flags are set.
func (s *Segment) Has(flags uint8) bool { return s.Flags&flags == flags }
