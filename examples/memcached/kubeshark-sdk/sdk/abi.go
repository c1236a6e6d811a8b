package sdk

// ABIVersion is the version of the host/guest interface described in ABI.md.
// A guest advertises it by exporting a function named "kubeshark_abi_v1";
// the host refuses modules that do not.
const ABIVersion = 1

// Export and import names of ABI v1; the host and the guest glue share them.
const (
	ExportABIMarker = "kubeshark_abi_v1"
	ExportInit      = "kubeshark_init"
	ExportDescribe  = "kubeshark_describe"
	ExportProbe     = "kubeshark_probe"
	ExportOpen      = "kubeshark_open"
	ExportFeed      = "kubeshark_feed"
	ExportGap       = "kubeshark_gap"
	ExportClose     = "kubeshark_close"

	ImportModule         = "kubeshark"
	ImportRegisterBuffer = "register_buffer"
	ImportEmit           = "emit"
	ImportInflate        = "inflate"
)

// Formats of the host's inflate import.
const (
	InflateGzip = 1 // RFC 1952, members concatenated
	InflateZlib = 2 // RFC 1950
	InflateRaw  = 3 // RFC 1951
)

// Kinds of payload a guest hands to the host's emit import.
const (
	EmitRecord   = 1
	EmitManifest = 2
	EmitLog      = 3
	EmitSwitch   = 4
)

// Open flags.
const (
	OpenOriented = 1 << 0
	OpenUDP      = 1 << 1
)

// FeedRejected is the consumed value a guest returns from kubeshark_feed when
// the connection cannot be parsed and should not be fed again.
const FeedRejected = 0xFFFFFFFF

// EncodeProbe packs a Probe into the u32 returned by kubeshark_probe.
func EncodeProbe(p Probe) uint32 {
	v := uint32(min(p.Confidence, 100))
	if p.FromServer {
		v |= 1 << 8
	}
	if p.NeedMore {
		v |= 1 << 9
	}
	return v
}

// DecodeProbe is the inverse of EncodeProbe.
func DecodeProbe(v uint32) Probe {
	return Probe{Confidence: uint8(min(v&0xff, 100)), FromServer: v&(1<<8) != 0, NeedMore: v&(1<<9) != 0}
}

// EncodeFeed packs Feed's results into the u64 returned by kubeshark_feed.
func EncodeFeed(consumed, need int) uint64 {
	c := uint64(FeedRejected)
	if consumed >= 0 {
		c = uint64(uint32(consumed))
	}
	return uint64(uint32(max(need, 0)))<<32 | c
}

// DecodeFeed is the inverse of EncodeFeed; consumed is -1 for a rejection.
func DecodeFeed(v uint64) (consumed, need int) {
	c := uint32(v)
	if c == FeedRejected {
		return -1, int(v >> 32)
	}
	return int(c), int(v >> 32)
}
