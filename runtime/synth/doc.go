// Package synth writes captures of TCP conversations and UDP datagrams. It
// stands outside the decode flow (capture → decode → reassembly →
// dissectors → storage) and feeds its start: tests, the README demo and the
// benchmarks use it to produce realistic pcap files, either from payloads
// given directly (Writer, Conn) or from real traffic recorded through a
// loopback relay (Relay, HTTPSample, and Cascade: a three-tier service
// chain whose payments tier starts failing partway, with every service at
// its own address and a virtual clock for a reproducible time line).
//
// Incident writes the incident library (a failing dependency behind a
// reverse proxy, a slow query service, a retry storm, DNS NXDOMAIN, gRPC
// UNAVAILABLE over h2c, Redis latency, a card-number leak, an admin
// endpoint called without credentials) with a GroundTruth for each: what
// an investigation must name, from when, and the call that shows it.
//
// Frames are Ethernet/IPv4 or IPv6/TCP or UDP with correct checksums, MSS
// sized segments, consistent sequence numbers and peer ACKs, so tools such
// as tshark read them as ordinary traffic.
package synth
