// Package pktfilter compiles tcpdump-style filter expressions (a practical
// subset of pcap-filter(7)) into matchers over raw captured frames. It sits
// beside runtime/decode rather than in the pipeline's data flow: callers
// such as runtime/packetlog's Export, or a capture-time pre-filter, apply a
// Filter to capture.Packets before (or instead of) reassembly.
//
// Supported primitives:
//
//	[ip|ip6|arp] [src|dst|src or dst|src and dst] host ADDR   (IPv4 or IPv6)
//	[ip|ip6|arp] [src|dst|...] net CIDR | net A[.B[.C]] | net ADDR mask MASK
//	[tcp|udp|sctp] [src|dst|...] port N
//	[tcp|udp|sctp] [src|dst|...] portrange A-B
//	ip, ip6, arp, tcp, udp, sctp, icmp, icmp6
//	vlan [ID], less N, greater N
//
// combined with and (&&), or (||), not (!) and parentheses. As in
// pcap-filter, not binds tightest while and and or have EQUAL precedence and
// associate left to right: "a or b and c" means "(a or b) and c". Also as in
// pcap-filter, a bare value after and/or repeats the previous qualifiers:
// "host 10.0.0.1 or 10.0.0.2" and "tcp port 80 or 443" do what they say,
// and a bare address as the first primitive means host (or net for a CIDR).
// Port names ("http") and host names are refused: resolving them would make
// a filter's meaning depend on the machine that runs it.
//
// Deliberate differences from libpcap, which compiles to BPF with fixed
// header offsets:
//   - VLAN tags are always decoded through, so "host 10.0.0.1" also matches
//     a tagged frame (libpcap needs "vlan and host ..."), and "vlan and host
//     10.0.0.1" also matches a double-tagged one (libpcap would read IP right
//     after the first tag). The vlan primitive itself keeps libpcap's
//     meaning: the n-th vlan of the expression, counted left to right, tests
//     the n-th tag from the outside, so "vlan 100 and vlan 200" selects QinQ
//     100/200 and, as in libpcap, "vlan 100 or vlan 200" tests the SECOND
//     tag for 200 (a frame tagged only 200 does not match).
//   - IPv6 extension headers (hop-by-hop, routing, destination options,
//     fragment, AH) are walked to find the transport protocol and ports;
//     libpcap looks at most through one fragment header.
//   - RARP, PPPoE sessions, MPLS and tunnels are not looked into: only the
//     outermost IP header counts, as in libpcap without pppoes/mpls/geneve.
//
// Link types are those runtime/capture accepts: Ethernet (with 802.1Q and
// 802.1ad tags), Linux cooked capture v1 and v2, BSD null/loopback and raw
// IPv4/IPv6. Frames that cannot be decoded simply fail the primitives that
// need the missing headers.
package pktfilter
