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
	for i := range m.sections {
		for {
			rh, err := sectionHeader(&p, i)
			if err == dnsmessage.ErrSectionDone {
				break
			}
			if err != nil {
				m.err = "malformed " + sectionNames[i] + " section: " + err.Error()
				return m, true
			}
			if rh.Type == dnsmessage.TypeOPT && i == 2 {
				opt, err := p.OPTResource()
				if err != nil {
					m.err = bodyError(i, "OPT", err)
					return m, true
				}
				m.edns = ednsFields(&rh, &opt)
				m.rcode = int(rh.ExtendedRCode(h.RCode))
				continue
			}
			// Past the cap a body is still read, so that a malformed one
			// is reported wherever it is.
			data, err := rdataText(&p, rh.Type)
			if err != nil {
				m.err = bodyError(i, bodyTypeName(rh.Type), err)
				return m, true
			}
			if len(m.sections[i]) < maxRecords {
				m.sections[i] = append(m.sections[i], sdk.Object{
					{Key: "name", Value: nameText(rh.Name)},
					{Key: "type", Value: typeValue(uint16(rh.Type))},
					{Key: "ttl", Value: rh.TTL},
					{Key: "data", Value: data},
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

var (
	sectionNames = [3]string{"answer", "authority", "additional"}
	// parserSectionNames are the same as dnsmessage's errors spell them.
	parserSectionNames = [3]string{"Answer", "Authority", "Additional"}
)

// sectionHeader reads the next resource header of section i (answers,
// authorities, additionals). Reading the header and then the body with the
// typed methods, instead of Parser.Answer, keeps the body out of an
// interface: a guest pays for every allocation.
func sectionHeader(p *dnsmessage.Parser, i int) (dnsmessage.ResourceHeader, error) {
	switch i {
	case 0:
		return p.AnswerHeader()
	case 1:
		return p.AuthorityHeader()
	}
	return p.AdditionalHeader()
}

// bodyError words a bad record body as dnsmessage's Parser.Answer does
// ("unpacking Answer: A record: ..."), so the reason a record carries does
// not depend on which of its methods read the body.
func bodyError(i int, typ string, err error) string {
	return "malformed " + sectionNames[i] + " section: unpacking " + parserSectionNames[i] + ": " + typ + " record: " + err.Error()
}

// bodyTypeName is the name dnsmessage's own errors give a record type.
func bodyTypeName(t dnsmessage.Type) string {
	switch t {
	case dnsmessage.TypeA, dnsmessage.TypeNS, dnsmessage.TypeCNAME, dnsmessage.TypeSOA, dnsmessage.TypePTR,
		dnsmessage.TypeMX, dnsmessage.TypeTXT, dnsmessage.TypeAAAA, dnsmessage.TypeSRV, dnsmessage.TypeSVCB,
		dnsmessage.TypeHTTPS, dnsmessage.TypeOPT:
		return strings.TrimPrefix(t.String(), "Type")
	}
	return "Unknown"
}

// rdataText reads the current resource's body and renders it the way zone
// files do, bounded.
func rdataText(p *dnsmessage.Parser, t dnsmessage.Type) (string, error) {
	var s string
	switch t {
	case dnsmessage.TypeA:
		r, err := p.AResource()
		if err != nil {
			return "", err
		}
		s = netip.AddrFrom4(r.A).String()
	case dnsmessage.TypeAAAA:
		r, err := p.AAAAResource()
		if err != nil {
			return "", err
		}
		s = netip.AddrFrom16(r.AAAA).String()
	case dnsmessage.TypeCNAME:
		r, err := p.CNAMEResource()
		if err != nil {
			return "", err
		}
		s = nameText(r.CNAME)
	case dnsmessage.TypeNS:
		r, err := p.NSResource()
		if err != nil {
			return "", err
		}
		s = nameText(r.NS)
	case dnsmessage.TypePTR:
		r, err := p.PTRResource()
		if err != nil {
			return "", err
		}
		s = nameText(r.PTR)
	case dnsmessage.TypeMX:
		r, err := p.MXResource()
		if err != nil {
			return "", err
		}
		s = strconv.Itoa(int(r.Pref)) + " " + nameText(r.MX)
	case dnsmessage.TypeSRV:
		r, err := p.SRVResource()
		if err != nil {
			return "", err
		}
		s = strconv.Itoa(int(r.Priority)) + " " + strconv.Itoa(int(r.Weight)) + " " + strconv.Itoa(int(r.Port)) + " " + nameText(r.Target)
	case dnsmessage.TypeSOA:
		r, err := p.SOAResource()
		if err != nil {
			return "", err
		}
		s = nameText(r.NS) + " " + nameText(r.MBox) + " " + strconv.FormatUint(uint64(r.Serial), 10) + " " +
			strconv.FormatUint(uint64(r.Refresh), 10) + " " + strconv.FormatUint(uint64(r.Retry), 10) + " " +
			strconv.FormatUint(uint64(r.Expire), 10) + " " + strconv.FormatUint(uint64(r.MinTTL), 10)
	case dnsmessage.TypeTXT:
		r, err := p.TXTResource()
		if err != nil {
			return "", err
		}
		parts := make([]string, 0, len(r.TXT))
		for _, t := range r.TXT {
			parts = append(parts, strconv.Quote(t))
		}
		s = strings.Join(parts, " ")
	case dnsmessage.TypeHTTPS:
		r, err := p.HTTPSResource()
		if err != nil {
			return "", err
		}
		s = svcbText(&r.SVCBResource)
	case dnsmessage.TypeSVCB:
		r, err := p.SVCBResource()
		if err != nil {
			return "", err
		}
		s = svcbText(&r)
	case dnsmessage.TypeOPT:
		// Outside the additional section an OPT is checked but has no text.
		_, err := p.OPTResource()
		return "", err
	default:
		r, err := p.UnknownResource()
		if err != nil {
			return "", err
		}
		// RFC 3597's generic form.
		s = `\# ` + strconv.Itoa(len(r.Data)) + " " + hex.EncodeToString(r.Data[:min(len(r.Data), maxRDText/2)])
	}
	return clip(s), nil
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
