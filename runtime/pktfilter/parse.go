package pktfilter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// primitiveList is quoted when a word is not a primitive, so the user sees
// what the subset offers.
const primitiveList = "host, net, port, portrange, ip, ip6, arp, tcp, udp, sctp, icmp, icmp6, vlan, less, greater"

// quals are the qualifiers of a host/net/port primitive; the last ones are
// remembered so that "port 80 or 443" repeats them (pcap-filter's
// abbreviation rule).
type quals struct {
	p   proto
	d   dir
	typ string // "host", "net", "port" or "portrange"
}

type parser struct {
	toks  []token
	i     int
	last  *quals
	vlans int // vlan primitives seen so far: the next one's depth
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func errAt(t token, format string, args ...any) error {
	return &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf(format, args...)}
}

// parse parses a whole expression.
func parse(expr string) (node, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == tokEOF {
		return trueNode{}, nil
	}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, errAt(t, "expected and, or or end of expression, got %s", t.describe())
	}
	return n, nil
}

// expr: unary { (and|or) unary }, left-associative with equal precedence
// as in pcap-filter(7).
func (p *parser) expr() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tokAnd && t.kind != tokOr {
			return l, nil
		}
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &binNode{or: t.kind == tokOr, l: l, r: r}
	}
}

// unary: not unary | ( expr ) | primitive.
func (p *parser) unary() (node, error) {
	t := p.peek()
	switch t.kind {
	case tokNot:
		p.next()
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &notNode{n: n}, nil
	case tokLParen:
		p.next()
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokRParen {
			return nil, errAt(c, "expected \")\" to close \"(\" at %d, got %s", t.pos, c.describe())
		}
		return n, nil
	case tokWord:
		return p.primitive()
	}
	return nil, errAt(t, "expected a primitive, \"not\" or \"(\", got %s", t.describe())
}

func isType(w string) bool {
	return w == "host" || w == "net" || w == "port" || w == "portrange"
}

func isDir(w string) bool { return w == "src" || w == "dst" }

func (p *parser) primitive() (node, error) {
	start := p.next()
	w := start.text
	switch w {
	case "vlan":
		n := &vlanNode{depth: p.vlans, id: -1}
		p.vlans++
		if t := p.peek(); t.kind == tokWord && isNumber(t.text) {
			p.next()
			id, err := strconv.Atoi(t.text)
			if err != nil || id > 4095 {
				return nil, errAt(t, "VLAN ID %s out of range (0-4095)", t.text)
			}
			n.id = id
		}
		return n, nil
	case "less", "greater":
		t := p.next()
		if t.kind != tokWord || !isNumber(t.text) {
			return nil, errAt(t, "expected a length after %q, got %s", w, t.describe())
		}
		v, err := strconv.Atoi(t.text)
		if err != nil {
			return nil, errAt(t, "length %s out of range", t.text)
		}
		return &lenNode{less: w == "less", n: v}, nil
	}

	var q quals
	kw := start // where a qualifier error points: the protocol if any
	if pr, ok := protoNames[w]; ok {
		nt := p.peek()
		if nt.kind != tokWord || !(isDir(nt.text) || isType(nt.text)) {
			return &protoNode{p: pr}, nil // a bare protocol
		}
		q.p = pr
		start = p.next()
		w = start.text
	}
	if isDir(w) {
		q.d = dirSrc
		if w == "dst" {
			q.d = dirDst
		}
		// "src or dst" and "src and dst" are qualifiers, not operators.
		if op := p.peek(); (op.kind == tokOr || op.kind == tokAnd) && p.peekAt(1).kind == tokWord && isDir(p.peekAt(1).text) && p.peekAt(1).text != w {
			p.next()
			p.next()
			q.d = dirEither
			if op.kind == tokAnd {
				q.d = dirBoth
			}
		}
		if nt := p.peek(); nt.kind == tokWord && isType(nt.text) {
			start = p.next()
			w = start.text
		} else {
			// pcap-filter: a direction without a type means host.
			q.typ = "host"
			return p.value(q, kw)
		}
	}
	if isType(w) {
		q.typ = w
		return p.value(q, kw)
	}
	// A bare value: repeat the previous qualifiers, or take an address as
	// host (a CIDR as net).
	p.i-- // the value is parsed by value
	if p.last != nil {
		n, err := p.value(*p.last, start)
		if se, ok := err.(*SyntaxError); ok {
			se.Msg += fmt.Sprintf(" (a bare value repeats the previous %q)", p.last.typ)
		}
		return n, err
	}
	if _, err := netip.ParseAddr(w); err == nil {
		return p.value(quals{typ: "host"}, start)
	}
	if _, err := netip.ParsePrefix(w); err == nil {
		return p.value(quals{typ: "net"}, start)
	}
	return nil, errAt(start, "unknown primitive %s (supported: %s)", start.describe(), primitiveList)
}

// value parses the operand of a host/net/port/portrange primitive and checks
// it against its qualifiers; kw is the first word of the primitive, where
// an error about the qualifiers points.
func (p *parser) value(q quals, kw token) (node, error) {
	t := p.next()
	var n node
	var err error
	switch q.typ {
	case "host":
		n, err = p.host(q, kw, t)
	case "net":
		n, err = p.network(q, kw, t)
	default:
		n, err = p.port(q, kw, t)
	}
	if err != nil {
		return nil, err
	}
	p.last = &q
	return n, nil
}

// expectWord rejects operators and keywords where a value belongs.
func expectWord(t token, what string) error {
	if t.kind != tokWord || isType(t.text) || isDir(t.text) {
		return errAt(t, "expected %s, got %s", what, t.describe())
	}
	if _, ok := protoNames[t.text]; ok {
		return errAt(t, "expected %s, got %s", what, t.describe())
	}
	return nil
}

func (p *parser) host(q quals, kw, t token) (node, error) {
	const what = "an IP address"
	if err := expectWord(t, what); err != nil {
		return nil, err
	}
	switch q.p {
	case protoNone, protoIP, protoIP6, protoARP:
	default:
		return nil, errAt(kw, "%q cannot qualify host (only ip, ip6 or arp)", q.p.String())
	}
	addr, err := netip.ParseAddr(t.text)
	if err != nil || addr.Zone() != "" {
		if _, perr := netip.ParsePrefix(t.text); perr == nil {
			return nil, errAt(t, "expected %s, got %s (use net for a network)", what, t.describe())
		}
		return nil, errAt(t, "expected %s, got %s (host names are not resolved)", what, t.describe())
	}
	if err := checkFamily(q.p, addr.Is4(), t); err != nil {
		return nil, err
	}
	return &hostNode{p: q.p, d: q.d, addr: addr}, nil
}

func checkFamily(p proto, is4 bool, t token) error {
	if is4 && p == protoIP6 {
		return errAt(t, "IPv4 address %s qualified by ip6", t.describe())
	}
	if !is4 && (p == protoIP || p == protoARP) {
		return errAt(t, "IPv6 address %s qualified by %s", t.describe(), p)
	}
	return nil
}

func (p *parser) network(q quals, kw, t token) (node, error) {
	const what = "a network (CIDR, partial address such as 10.1, or address mask MASK)"
	if err := expectWord(t, what); err != nil {
		return nil, err
	}
	switch q.p {
	case protoNone, protoIP, protoIP6, protoARP:
	default:
		return nil, errAt(kw, "%q cannot qualify net (only ip, ip6 or arp)", q.p.String())
	}
	pfx, err := parseNet(t.text)
	if err != nil {
		return nil, errAt(t, "expected %s, got %s", what, t.describe())
	}
	if m := p.peek(); m.kind == tokWord && m.text == "mask" {
		p.next()
		mt := p.next()
		if strings.Contains(t.text, "/") {
			return nil, errAt(m, "mask after a CIDR network")
		}
		mask, err := netip.ParseAddr(mt.text)
		if mt.kind != tokWord || err != nil || !mask.Is4() || !pfx.Addr().Is4() {
			return nil, errAt(mt, "expected an IPv4 netmask, got %s", mt.describe())
		}
		bits, ok := maskBits(mask)
		if !ok {
			return nil, errAt(mt, "netmask %s is not contiguous", mt.describe())
		}
		pfx = netip.PrefixFrom(pfx.Addr(), bits)
	}
	if pfx.Masked() != pfx {
		return nil, errAt(t, "non-network bits set in %s", t.describe())
	}
	if err := checkFamily(q.p, pfx.Addr().Is4(), t); err != nil {
		return nil, err
	}
	return &netNode{p: q.p, d: q.d, net: pfx}, nil
}

// parseNet accepts a CIDR, a full address (a host-sized network) or, like
// libpcap, one to three IPv4 octets meaning a /8, /16 or /24.
func parseNet(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("zoned address %q", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	parts := strings.Split(s, ".")
	if len(parts) > 3 {
		return netip.Prefix{}, fmt.Errorf("not a network: %q", s)
	}
	var b [4]byte
	for i, part := range parts {
		v, err := strconv.ParseUint(part, 10, 8)
		if err != nil || !isNumber(part) {
			return netip.Prefix{}, fmt.Errorf("not a network: %q", s)
		}
		b[i] = byte(v)
	}
	return netip.PrefixFrom(netip.AddrFrom4(b), 8*len(parts)), nil
}

// maskBits converts a dotted netmask to a prefix length.
func maskBits(mask netip.Addr) (int, bool) {
	b := mask.As4()
	m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	bits := 0
	for m&0x80000000 != 0 {
		bits++
		m <<= 1
	}
	return bits, m == 0
}

func (p *parser) port(q quals, kw, t token) (node, error) {
	what := "a port number"
	if q.typ == "portrange" {
		what = "a port range (A-B)"
	}
	if err := expectWord(t, what); err != nil {
		return nil, err
	}
	switch q.p {
	case protoNone, protoTCP, protoUDP, protoSCTP:
	default:
		return nil, errAt(kw, "%q cannot qualify %s (only tcp, udp or sctp)", q.p.String(), q.typ)
	}
	if q.typ == "port" {
		v, err := parsePort(t, what)
		if err != nil {
			return nil, err
		}
		return &portNode{p: q.p, d: q.d, lo: v, hi: v}, nil
	}
	a, b, ok := strings.Cut(t.text, "-")
	if !ok {
		return nil, errAt(t, "expected %s, got %s", what, t.describe())
	}
	lo, err := parsePort(token{kind: tokWord, text: a, pos: t.pos}, what)
	if err != nil {
		return nil, err
	}
	hi, err := parsePort(token{kind: tokWord, text: b, pos: t.pos + len(a) + 1}, what)
	if err != nil {
		return nil, err
	}
	if lo > hi { // libpcap swaps a reversed range too
		lo, hi = hi, lo
	}
	return &portNode{p: q.p, d: q.d, lo: lo, hi: hi}, nil
}

func parsePort(t token, what string) (uint16, error) {
	if !isNumber(t.text) {
		return 0, errAt(t, "expected %s, got %s", what, t.describe())
	}
	v, err := strconv.ParseUint(t.text, 10, 16)
	if err != nil {
		return 0, errAt(t, "port number %s out of range (0-65535)", t.text)
	}
	return uint16(v), nil
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
