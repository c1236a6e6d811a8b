package decode

// Stats counts what the decoder has seen, so a user can tell why a capture
// produced fewer segments than it has packets.
type Stats struct {
	// Packets and Bytes count every frame given to Decode (captured bytes).
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// NonIP counts frames without an IPv4 or IPv6 header (ARP, LLDP, ...).
	NonIP uint64 `json:"non_ip"`
	// NonTransport counts IP packets that carry neither TCP nor UDP
	// (ICMP, IGMP, ESP, ...), including reassembled ones.
	NonTransport uint64 `json:"non_transport"`
	// Malformed counts frames whose headers could not be decoded; each was
	// reported by an error from Decode.
	Malformed uint64 `json:"malformed"`
	// Truncated counts segments whose payload was cut short by the capture's
	// snap length; they are still returned.
	Truncated uint64 `json:"truncated"`
	// IPv4Fragments and IPv6Fragments count fragments seen.
	IPv4Fragments uint64 `json:"ipv4_fragments"`
	IPv6Fragments uint64 `json:"ipv6_fragments"`
	// Reassembled counts datagrams rebuilt from fragments.
	Reassembled uint64 `json:"reassembled"`
	// FragmentsDropped counts fragments discarded: timed out, evicted to stay
	// within the memory bound, overlapping inconsistently, duplicated, cut by
	// the snap length, or otherwise invalid.
	FragmentsDropped uint64 `json:"fragments_dropped"`
}
