package capture

import (
	"fmt"

	"github.com/gopacket/gopacket/layers"
)

// Link types that appear in capture files but have no named constant in
// gopacket: DLT_RAW is 12 on most systems and 14 on OpenBSD, and some
// writers store the DLT value instead of LINKTYPE_RAW (101).
const (
	LinkTypeRawDLT12 layers.LinkType = 12
	LinkTypeRawDLT14 layers.LinkType = 14
)

// Supported reports whether frames of link type lt can be decoded by
// runtime/decode. It is the single list both packages agree on.
func Supported(lt layers.LinkType) bool {
	switch lt {
	case layers.LinkTypeEthernet,
		layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
		layers.LinkTypeRaw, LinkTypeRawDLT12, LinkTypeRawDLT14,
		layers.LinkTypeIPv4, layers.LinkTypeIPv6,
		layers.LinkTypeNull, layers.LinkTypeLoop:
		return true
	}
	return false
}

// LinkTypeName names a link type for error messages; gopacket's String
// falls back to a bare number for types it does not know.
func LinkTypeName(lt layers.LinkType) string {
	switch lt {
	case LinkTypeRawDLT12, LinkTypeRawDLT14:
		return "Raw"
	}
	return lt.String()
}

// unsupportedLinkType builds the error for a file whose frames cannot be
// decoded, naming both the number (what tcpdump -D prints) and the name.
func unsupportedLinkType(path string, lt layers.LinkType) error {
	return fmt.Errorf("%s: %w %d (%s)", path, ErrUnsupportedLinkType, uint32(lt), LinkTypeName(lt))
}
