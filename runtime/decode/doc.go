// Package decode turns captured frames into transport segments: it sits
// between runtime/capture (which reads frames from files) and
// runtime/reassembly (which rebuilds TCP streams from segments).
//
// The fast path decodes with gopacket's DecodingLayerParser over
// preallocated layers, so a TCP or UDP packet costs no allocation. IP
// fragments take a slower path through a reassembler that copies fragment
// data, bounded in memory and in (capture) time so that a capture full of
// fragments, or of fragments that never complete, cannot exhaust memory.
//
// Link layers: Ethernet (with any number of 802.1Q/802.1ad tags), Linux
// cooked capture v1 and v2, BSD loopback and raw IP. PPPoE sessions
// (EtherType 0x8864) are unwrapped down to the IPv4 or IPv6 packet their PPP
// frame carries; PPPoE discovery (0x8863) and PPP control protocols count
// as non-IP.
//
// A Decoder is meant for one goroutine; run one per input when decoding in
// parallel.
package decode
