package dns

import (
	"encoding/hex"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// question is one entry of the question section.
type question struct {
	name  string // without the trailing dot
	typ   uint16
	class uint16
}

// parsed is what a record needs from one DNS message. Sections are parsed
// as far as they are well formed; err says where parsing stopped.
type parsed struct {
	id       uint16
	response bool
	opcode   int
	rcode    int // including the EDNS extension bits
	// Nested field values are sdk.Objects: inside WebAssembly a Go map per
	// flag set, count set and answer cost more than parsing the message.
	flags     sdk.Object
	counts    sdk.Object
	questions []question
	sections  [3][]sdk.Object // answers, authorities, additionals
	edns      sdk.Object
	err       string
}

// parse decodes msg. ok is false when not even the header is there.
func parse(msg []byte) (*parsed, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, false
	}
	m := &parsed{
		id:       h.ID,
		response: h.Response,
		opcode:   int(h.OpCode),
		rcode:    int(h.RCode),
		flags: sdk.Object{
			{Key: "qr", Value: h.Response}, {Key: "aa", Value: h.Authoritative}, {Key: "tc", Value: h.Truncated}, {Key: "rd", Value: h.RecursionDesired},
			{Key: "ra", Value: h.RecursionAvailable}, {Key: "ad", Value: h.AuthenticData}, {Key: "cd", Value: h.CheckingDisabled},
		},
		counts: sdk.Object{
			{Key: "qd", Value: int(be16(msg[4:]))}, {Key: "an", Value: int(be16(msg[6:]))},
			{Key: "ns", Value: int(be16(msg[8:]))}, {Key: "ar", Value: int(be16(msg[10:]))},
		},
	}
	for {
		q, err := p.Question()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			m.err = "malformed question section: " + err.Error()
			return m, true
		}
		if len(m.questions) < maxQuestion {
			m.questions = append(m.questions, question{name: nameText(q.Name), typ: uint16(q.Type), class: uint16(q.Class)})
		}
	}
	sections := [3]struct {
		name string
		next func() (dnsmessage.Resource, error)
	}{
		{"answer", p.Answer}, {"authority", p.Authority}, {"additional", p.Additional},
	}
	for i, s := range sections {
		for {
			r, err := s.next()
			if err == dnsmessage.ErrSectionDone {
				break
			}
			if err != nil {
				m.err = "malformed " + s.name + " section: " + err.Error()
				return m, true
			}
			if opt, ok := r.Body.(*dnsmessage.OPTResource); ok && i == 2 {
				m.edns = ednsFields(&r.Header, opt)
				m.rcode = int(r.Header.ExtendedRCode(h.RCode))
				continue
			}
			if len(m.sections[i]) < maxRecords {
				m.sections[i] = append(m.sections[i], sdk.Object{
					{Key: "name", Value: nameText(r.Header.Name)},
					{Key: "type", Value: typeValue(uint16(r.Header.Type))},
					{Key: "ttl", Value: r.Header.TTL},
					{Key: "data", Value: rdataText(r.Body)},
				})
			}
		}
	}
	return m, true
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

// nameText drops the trailing dot; the root name stays ".".
func nameText(n dnsmessage.Name) string {
	s := n.String()
	if len(s) > 1 {
		s = strings.TrimSuffix(s, ".")
	}
	return s
}

func ednsFields(h *dnsmessage.ResourceHeader, opt *dnsmessage.OPTResource) sdk.Object {
	e := sdk.Object{
		{Key: "udp_size", Value: int(h.Class)},
		{Key: "do", Value: h.DNSSECAllowed()},
		{Key: "version", Value: int(h.TTL >> 16 & 0xff)},
	}
	if ext := int(h.TTL >> 24); ext != 0 {
		e = append(e, sdk.Member{Key: "extended_rcode", Value: ext})
	}
	if len(opt.Options) > 0 {
		opts := make([]sdk.Object, 0, min(len(opt.Options), maxRecords))
		for _, o := range opt.Options[:min(len(opt.Options), maxRecords)] {
			opts = append(opts, sdk.Object{{Key: "code", Value: int(o.Code)}, {Key: "name", Value: optionName(o.Code)}, {Key: "data", Value: clip(hex.EncodeToString(o.Data))}})
		}
		e = append(e, sdk.Member{Key: "options", Value: opts})
	}
	return e
}

func optionName(c uint16) string {
	switch c {
	case 3:
		return "NSID"
	case 5:
		return "DAU"
	case 6:
		return "DHU"
	case 7:
		return "N3U"
	case 8:
		return "ECS"
	case 9:
		return "EXPIRE"
	case 10:
		return "COOKIE"
	case 11:
		return "TCP-KEEPALIVE"
	case 12:
		return "PADDING"
	case 13:
		return "CHAIN"
	case 14:
		return "KEY-TAG"
	case 15:
		return "EDE"
	}
	return "OPTION" + strconv.Itoa(int(c))
}

// rdataText renders record data the way zone files do, bounded.
func rdataText(b dnsmessage.ResourceBody) string {
	var s string
	switch r := b.(type) {
	case *dnsmessage.AResource:
		s = netip.AddrFrom4(r.A).String()
	case *dnsmessage.AAAAResource:
		s = netip.AddrFrom16(r.AAAA).String()
	case *dnsmessage.CNAMEResource:
		s = nameText(r.CNAME)
	case *dnsmessage.NSResource:
		s = nameText(r.NS)
	case *dnsmessage.PTRResource:
		s = nameText(r.PTR)
	case *dnsmessage.MXResource:
		s = strconv.Itoa(int(r.Pref)) + " " + nameText(r.MX)
	case *dnsmessage.SRVResource:
		s = strconv.Itoa(int(r.Priority)) + " " + strconv.Itoa(int(r.Weight)) + " " + strconv.Itoa(int(r.Port)) + " " + nameText(r.Target)
	case *dnsmessage.SOAResource:
		s = nameText(r.NS) + " " + nameText(r.MBox) + " " + strconv.FormatUint(uint64(r.Serial), 10) + " " +
			strconv.FormatUint(uint64(r.Refresh), 10) + " " + strconv.FormatUint(uint64(r.Retry), 10) + " " +
			strconv.FormatUint(uint64(r.Expire), 10) + " " + strconv.FormatUint(uint64(r.MinTTL), 10)
	case *dnsmessage.TXTResource:
		parts := make([]string, 0, len(r.TXT))
		for _, t := range r.TXT {
			parts = append(parts, strconv.Quote(t))
		}
		s = strings.Join(parts, " ")
	case *dnsmessage.HTTPSResource:
		s = svcbText(&r.SVCBResource)
	case *dnsmessage.SVCBResource:
		s = svcbText(r)
	case *dnsmessage.UnknownResource:
		// RFC 3597's generic form.
		s = `\# ` + strconv.Itoa(len(r.Data)) + " " + hex.EncodeToString(r.Data[:min(len(r.Data), maxRDText/2)])
	}
	return clip(s)
}

func svcbText(r *dnsmessage.SVCBResource) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(r.Priority)))
	b.WriteByte(' ')
	b.WriteString(r.Target.String())
	for _, p := range r.Params {
		b.WriteByte(' ')
		b.WriteString(p.Key.String())
		if p.Key == dnsmessage.SVCParamALPN {
			b.WriteByte('=')
			b.WriteString(strings.Join(alpnList(p.Value), ","))
		}
	}
	return b.String()
}

// alpnList splits SVCB's alpn value: length-prefixed protocol ids.
func alpnList(v []byte) []string {
	var out []string
	for len(v) > 0 {
		n := int(v[0])
		if 1+n > len(v) {
			break
		}
		out = append(out, string(v[1:1+n]))
		v = v[1+n:]
	}
	return out
}

func clip(s string) string {
	if len(s) > maxRDText {
		return s[:maxRDText] + "…"
	}
	return s
}
