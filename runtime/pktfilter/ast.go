package pktfilter

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket/layers"
)

// node is one compiled (sub)expression.
type node interface {
	match(h *headers) bool
	format(b *strings.Builder)
}

// proto is a protocol keyword, used both as a primitive ("tcp") and as a
// qualifier ("tcp port 80", "ip host 10.0.0.1").
type proto uint8

const (
	protoNone proto = iota
	protoIP
	protoIP6
	protoARP
	protoTCP
	protoUDP
	protoSCTP
	protoICMP
	protoICMP6
)

var protoNames = map[string]proto{
	"ip": protoIP, "ip6": protoIP6, "arp": protoARP,
	"tcp": protoTCP, "udp": protoUDP, "sctp": protoSCTP,
	"icmp": protoICMP, "icmp6": protoICMP6,
}

var protoStrings = [...]string{
	protoIP: "ip", protoIP6: "ip6", protoARP: "arp",
	protoTCP: "tcp", protoUDP: "udp", protoSCTP: "sctp",
	protoICMP: "icmp", protoICMP6: "icmp6",
}

func (p proto) String() string { return protoStrings[p] }

// ipProto is the IP protocol number a transport keyword stands for.
func (p proto) ipProto() uint8 {
	switch p {
	case protoTCP:
		return uint8(layers.IPProtocolTCP)
	case protoUDP:
		return uint8(layers.IPProtocolUDP)
	case protoSCTP:
		return uint8(layers.IPProtocolSCTP)
	case protoICMP:
		return uint8(layers.IPProtocolICMPv4)
	case protoICMP6:
		return uint8(layers.IPProtocolICMPv6)
	}
	return 0
}

// dir is a direction qualifier.
type dir uint8

const (
	dirEither dir = iota // none given, or "src or dst"
	dirSrc
	dirDst
	dirBoth // "src and dst"
)

func (d dir) String() string {
	switch d {
	case dirSrc:
		return "src"
	case dirDst:
		return "dst"
	case dirBoth:
		return "src and dst"
	}
	return ""
}

// test combines the outcome for the source and for the destination.
func (d dir) test(src, dst bool) bool {
	switch d {
	case dirSrc:
		return src
	case dirDst:
		return dst
	case dirBoth:
		return src && dst
	}
	return src || dst
}

type trueNode struct{}

func (trueNode) match(*headers) bool       { return true }
func (trueNode) format(b *strings.Builder) {}

type binNode struct {
	or   bool
	l, r node
}

func (n *binNode) match(h *headers) bool {
	if n.or {
		return n.l.match(h) || n.r.match(h)
	}
	return n.l.match(h) && n.r.match(h)
}

func (n *binNode) format(b *strings.Builder) {
	n.operand(b, n.l)
	if n.or {
		b.WriteString(" or ")
	} else {
		b.WriteString(" and ")
	}
	n.operand(b, n.r)
}

// operand parenthesises a nested operator so the printed form shows the
// grouping a reader might otherwise get wrong (and/or have equal
// precedence); a left-leaning chain of one operator prints flat.
func (n *binNode) operand(b *strings.Builder, c node) {
	if cb, ok := c.(*binNode); ok && (cb.or != n.or || c == n.r) {
		b.WriteByte('(')
		c.format(b)
		b.WriteByte(')')
		return
	}
	c.format(b)
}

type notNode struct{ n node }

func (n *notNode) match(h *headers) bool { return !n.n.match(h) }

func (n *notNode) format(b *strings.Builder) {
	b.WriteString("not ")
	if _, ok := n.n.(*binNode); ok {
		b.WriteByte('(')
		n.n.format(b)
		b.WriteByte(')')
		return
	}
	n.n.format(b)
}

type protoNode struct{ p proto }

func (n *protoNode) match(h *headers) bool {
	switch n.p {
	case protoIP:
		return h.l3 == l3IPv4
	case protoIP6:
		return h.l3 == l3IPv6
	case protoARP:
		return h.l3 == l3ARP
	case protoICMP:
		return h.l3 == l3IPv4 && h.proto == n.p.ipProto()
	case protoICMP6:
		return h.l3 == l3IPv6 && h.proto == n.p.ipProto()
	}
	return (h.l3 == l3IPv4 || h.l3 == l3IPv6) && h.proto == n.p.ipProto()
}

func (n *protoNode) format(b *strings.Builder) { b.WriteString(n.p.String()) }

// addrLayer reports whether a host or net primitive with qualifier p
// applies to a frame's network layer; an IPv4 address without qualifier
// also matches ARP, as in libpcap.
func addrLayer(p proto, is4 bool, l3 l3Kind) bool {
	if !is4 {
		return l3 == l3IPv6
	}
	switch p {
	case protoIP:
		return l3 == l3IPv4
	case protoARP:
		return l3 == l3ARP
	}
	return l3 == l3IPv4 || l3 == l3ARP
}

func formatQuals(b *strings.Builder, p proto, d dir) {
	if p != protoNone {
		b.WriteString(p.String())
		b.WriteByte(' ')
	}
	if d != dirEither {
		b.WriteString(d.String())
		b.WriteByte(' ')
	}
}

type hostNode struct {
	p    proto
	d    dir
	addr netip.Addr
}

func (n *hostNode) match(h *headers) bool {
	return addrLayer(n.p, n.addr.Is4(), h.l3) && n.d.test(h.src == n.addr, h.dst == n.addr)
}

func (n *hostNode) format(b *strings.Builder) {
	formatQuals(b, n.p, n.d)
	b.WriteString("host ")
	b.WriteString(n.addr.String())
}

type netNode struct {
	p   proto
	d   dir
	net netip.Prefix
}

func (n *netNode) match(h *headers) bool {
	return addrLayer(n.p, n.net.Addr().Is4(), h.l3) && n.d.test(n.net.Contains(h.src), n.net.Contains(h.dst))
}

func (n *netNode) format(b *strings.Builder) {
	formatQuals(b, n.p, n.d)
	b.WriteString("net ")
	b.WriteString(n.net.String())
}

type portNode struct {
	p      proto // protoNone, protoTCP, protoUDP or protoSCTP
	d      dir
	lo, hi uint16
}

func (n *portNode) match(h *headers) bool {
	if !h.ports {
		return false
	}
	if n.p != protoNone && h.proto != n.p.ipProto() {
		return false
	}
	return n.d.test(n.lo <= h.sport && h.sport <= n.hi, n.lo <= h.dport && h.dport <= n.hi)
}

func (n *portNode) format(b *strings.Builder) {
	formatQuals(b, n.p, n.d)
	if n.lo == n.hi {
		b.WriteString("port ")
		b.WriteString(strconv.Itoa(int(n.lo)))
		return
	}
	b.WriteString("portrange ")
	b.WriteString(strconv.Itoa(int(n.lo)))
	b.WriteByte('-')
	b.WriteString(strconv.Itoa(int(n.hi)))
}

// vlanNode tests the depth-th tag from the outside (see the package doc).
type vlanNode struct {
	depth int
	id    int // -1: any
}

func (n *vlanNode) match(h *headers) bool {
	if n.depth >= h.nvlan {
		return false
	}
	return n.id < 0 || int(h.vlans[n.depth]) == n.id
}

func (n *vlanNode) format(b *strings.Builder) {
	b.WriteString("vlan")
	if n.id >= 0 {
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(n.id))
	}
}

// lenNode is less (length <= n) or greater (length >= n), on the wire
// length as libpcap's len.
type lenNode struct {
	less bool
	n    int
}

func (n *lenNode) match(h *headers) bool {
	if n.less {
		return h.length <= n.n
	}
	return h.length >= n.n
}

func (n *lenNode) format(b *strings.Builder) {
	if n.less {
		b.WriteString("less ")
	} else {
		b.WriteString("greater ")
	}
	b.WriteString(strconv.Itoa(n.n))
}
