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
// A Decoder is meant for one goroutine; run one per input when decoding in
// parallel.
package decode
