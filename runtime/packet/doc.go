// Package packet holds the decoded transport-layer segment that flows from
// the link/IP decoder (runtime/decode) to the reassembler
// (runtime/reassembly). It has no behaviour of its own so that both ends can
// depend on it without depending on each other.
package packet
