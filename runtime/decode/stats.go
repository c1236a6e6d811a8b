package decode

// Stats counts what the decoder has seen, so a user can tell why a capture
// produced fewer segments than it has packets.
type Stats struct {
	// Packets and Bytes count every frame given to Decode (captured bytes).
	Packets, Bytes uint64
	// NonIP counts frames without an IPv4 or IPv6 header (ARP, LLDP, ...).
	NonIP uint64
	// NonTransport counts IP packets that carry neither TCP nor UDP
	// (ICMP, IGMP, ESP, ...), including reassembled ones.
	NonTransport uint64
	// Malformed counts frames whose headers could not be decoded; each was
	// reported by an error from Decode.
	Malformed uint64
	// Truncated counts segments whose payload was cut short by the capture's
	// snap length; they are still returned.
	Truncated uint64
	// IPv4Fragments and IPv6Fragments count fragments seen.
	IPv4Fragments, IPv6Fragments uint64
	// Reassembled counts datagrams rebuilt from fragments.
	Reassembled uint64
	// FragmentsDropped counts fragments discarded: timed out, evicted to stay
	// within the memory bound, overlapping inconsistently, duplicated, cut by
	// the snap length, or otherwise invalid.
	FragmentsDropped uint64
}
