package storage

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Filter is a parsed filter expression: terms combined with AND. The zero
// Filter matches every record.
type Filter struct {
	src   string
	terms []term
}

// String returns the expression the filter was parsed from.
func (f Filter) String() string { return f.src }

// Empty reports whether the filter matches every record.
func (f Filter) Empty() bool { return len(f.terms) == 0 }

// FilterError describes a term that does not parse. It matches ErrBadFilter
// under errors.Is; the fields let a UI point at the term.
type FilterError struct {
	Term   int    // 1-based position of the term
	Text   string // the term as written
	Reason string // what is wrong with it
}

// Error renders e.g. `filter: term 2 "status>>5": unknown operator`.
func (e *FilterError) Error() string {
	return fmt.Sprintf("filter: term %d %q: %s", e.Term, e.Text, e.Reason)
}

// Unwrap makes errors.Is(err, ErrBadFilter) hold.
func (e *FilterError) Unwrap() error { return ErrBadFilter }

type field int

const (
	fProtocol field = iota
	fMethod
	fPath
	fStatus
	fFailed
	fSrc
	fDst
	fStream
	fSummary
	fElapsed
)

// fieldNames is the order shown in "unknown field" messages.
var fieldNames = []string{"protocol", "method", "path", "status", "failed", "src", "dst", "stream", "summary", "elapsed_ms"}

type operator int

const (
	opEq operator = iota
	opNe
	opGt
	opGe
	opLt
	opLe
	opLike
)

// operators is ordered so two-character operators match before their
// one-character prefixes.
var operators = []struct {
	text string
	op   operator
}{{">=", opGe}, {"<=", opLe}, {"!=", opNe}, {"=", opEq}, {">", opGt}, {"<", opLt}, {"~", opLike}}

type term struct {
	field field
	op    operator
	str   string  // string fields; lower-cased for ~
	num   float64 // status, elapsed_ms
	bool  bool    // failed
	ip    string  // src, dst: canonical ip
	port  uint16  // src, dst, when hasPort
	has   bool    // src, dst: a port was given
}

// ParseFilter parses a filter expression in the original small syntax, kept
// for callers that hold such expressions; the CLI and MCP take KFL
// (package storage/kfl) through Query.Match instead. The syntax: space-separated terms, all of
// which must hold, each `field OP value`. OP is one of = != > >= < <= ~
// (~ is a case-insensitive substring match). Fields are protocol, method,
// path, status, failed, src, dst (an ip or ip:port), stream, summary and
// elapsed_ms. Values may be double-quoted to contain spaces. Errors wrap
// ErrBadFilter and name the term at fault.
func ParseFilter(s string) (Filter, error) {
	f := Filter{src: strings.TrimSpace(s)}
	toks, err := tokenize(s)
	if err != nil {
		return Filter{}, err
	}
	for i, tok := range toks {
		t, err := parseTerm(tok)
		if err != nil {
			return Filter{}, &FilterError{Term: i + 1, Text: tok, Reason: err.Error()}
		}
		f.terms = append(f.terms, t)
	}
	return f, nil
}

// tokenize splits on spaces outside double quotes; a backslash inside
// quotes escapes the next character.
func tokenize(s string) ([]string, error) {
	var toks []string
	start, inQuote := -1, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && (c == ' ' || c == '\t' || c == '\n'):
			if start >= 0 {
				toks = append(toks, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if inQuote {
		return nil, &FilterError{Term: len(toks) + 1, Text: s[start:], Reason: "unterminated quote"}
	}
	if start >= 0 {
		toks = append(toks, s[start:])
	}
	return toks, nil
}

func parseTerm(tok string) (term, error) {
	var t term
	n := 0
	for n < len(tok) && (tok[n] >= 'a' && tok[n] <= 'z' || tok[n] >= 'A' && tok[n] <= 'Z' || tok[n] == '_') {
		n++
	}
	name := strings.ToLower(tok[:n])
	rest := tok[n:]
	if name == "" {
		return t, errors.New("missing field name")
	}
	found := false
	for i, fn := range fieldNames {
		if fn == name {
			t.field, found = field(i), true
		}
	}
	if !found {
		return t, fmt.Errorf("unknown field %q (want one of %s)", name, strings.Join(fieldNames, ", "))
	}
	opText := ""
	for _, o := range operators {
		if strings.HasPrefix(rest, o.text) {
			t.op, opText = o.op, o.text
			break
		}
	}
	if opText == "" {
		if rest == "" {
			return t, errors.New("missing operator (want one of = != > >= < <= ~)")
		}
		return t, errors.New("unknown operator")
	}
	raw := rest[len(opText):]
	if raw != "" && strings.ContainsRune("=!<>~", rune(raw[0])) {
		return t, errors.New("unknown operator")
	}
	val := raw
	if strings.HasPrefix(raw, `"`) {
		v, err := strconv.Unquote(raw)
		if err != nil {
			return t, fmt.Errorf("bad quoted value %s", raw)
		}
		val = v
	} else if raw == "" {
		return t, errors.New("missing value (use \"\" for an empty one)")
	}
	return t, t.setValue(opText, val)
}

func (t *term) setValue(opText, val string) error {
	ordering := t.op == opGt || t.op == opGe || t.op == opLt || t.op == opLe
	switch t.field {
	case fStatus, fElapsed:
		if t.op == opLike {
			return fmt.Errorf("operator ~ does not apply to %s (a number)", fieldNames[t.field])
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return fmt.Errorf("%s wants a number, got %q", fieldNames[t.field], val)
		}
		if t.field == fStatus && v != float64(int64(v)) {
			return fmt.Errorf("status wants an integer, got %q", val)
		}
		t.num = v
	case fFailed:
		if t.op != opEq && t.op != opNe {
			return fmt.Errorf("operator %s does not apply to failed (use = or !=)", opText)
		}
		v, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("failed wants true or false, got %q", val)
		}
		t.bool = v
	case fSrc, fDst:
		if ordering {
			return fmt.Errorf("operator %s does not apply to %s (use =, != or ~)", opText, fieldNames[t.field])
		}
		if t.op == opLike {
			t.str = strings.ToLower(val)
			return nil
		}
		return t.setEndpoint(val)
	default:
		if ordering {
			return fmt.Errorf("operator %s does not apply to %s (use =, != or ~)", opText, fieldNames[t.field])
		}
		t.str = val
		if t.op == opLike {
			t.str = strings.ToLower(val)
		}
	}
	return nil
}

// setEndpoint accepts 10.0.0.1, 10.0.0.1:80, ::1 and [::1]:80.
func (t *term) setEndpoint(val string) error {
	if a, err := netip.ParseAddr(strings.Trim(val, "[]")); err == nil {
		t.ip = a.String()
		return nil
	}
	host, port, err := net.SplitHostPort(val)
	if err == nil {
		a, aerr := netip.ParseAddr(host)
		p, perr := strconv.ParseUint(port, 10, 16)
		if aerr == nil && perr == nil {
			t.ip, t.port, t.has = a.String(), uint16(p), true
			return nil
		}
	}
	return fmt.Errorf("%s wants an ip or ip:port, got %q", fieldNames[t.field], val)
}

// Match reports whether rec satisfies every term.
func (f Filter) Match(rec *sdk.Record) bool {
	for i := range f.terms {
		if !f.terms[i].match(rec) {
			return false
		}
	}
	return true
}

func (t *term) match(r *sdk.Record) bool {
	switch t.field {
	case fProtocol:
		return t.matchString(r.Protocol, true)
	case fMethod:
		return t.matchString(r.Method, true)
	case fPath:
		return t.matchString(r.Path, false)
	case fStream:
		return t.matchString(r.Stream, false)
	case fSummary:
		return t.matchString(r.Summary, false)
	case fStatus:
		return t.matchNum(float64(r.Status))
	case fElapsed:
		// A record without a response has no elapsed time; no comparison
		// holds for it, != included.
		if r.ElapsedMs == nil {
			return false
		}
		return t.matchNum(*r.ElapsedMs)
	case fFailed:
		return (r.Failed == t.bool) == (t.op == opEq)
	case fSrc:
		return t.matchEndpoint(&r.Src)
	case fDst:
		return t.matchEndpoint(&r.Dst)
	}
	return false
}

// matchString compares exactly, except that protocol and method names
// compare without regard to case; ~ is always case-insensitive.
func (t *term) matchString(v string, fold bool) bool {
	switch t.op {
	case opEq, opNe:
		eq := v == t.str || fold && strings.EqualFold(v, t.str)
		return eq == (t.op == opEq)
	case opLike:
		return containsFold(v, t.str)
	}
	return false
}

// containsFold reports whether needle (already lower-case) occurs in s,
// ignoring case, without allocating for ASCII s.
func containsFold(s, needle string) bool {
	if needle == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return strings.Contains(strings.ToLower(s), needle)
		}
	}
	n := len(needle)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != needle[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

func (t *term) matchNum(v float64) bool {
	switch t.op {
	case opEq:
		return v == t.num
	case opNe:
		return v != t.num
	case opGt:
		return v > t.num
	case opGe:
		return v >= t.num
	case opLt:
		return v < t.num
	case opLe:
		return v <= t.num
	}
	return false
}

func (t *term) matchEndpoint(e *sdk.Endpoint) bool {
	if t.op == opLike {
		return containsFold(e.String(), t.str)
	}
	eq := (e.IP == t.ip || canonIP(e.IP) == t.ip) && (!t.has || e.Port == t.port)
	return eq == (t.op == opEq)
}

// Matcher is a compiled filter that storage evaluates on each record a
// query visits, after Filter. Package storage/kfl provides one (KFL, a CEL
// language); storage itself knows nothing of its syntax. IndexTerms lets the
// query walk one secondary index instead of every record, so every term it
// returns must hold for every record Match accepts.
type Matcher interface {
	// Match reports whether the record is selected. An error (a missing
	// map key, a bad regular expression) leaves the record out.
	Match(rec *sdk.Record) (bool, error)
	// IndexTerms lists equalities implied by the whole expression.
	IndexTerms() []IndexTerm
	// Reads says which parts of the record Match looks at, so a query
	// decodes (and reads bodies for) only the records that need it.
	Reads() RecordParts
	// String returns the expression as written.
	String() string
}

// RecordParts is a set of the parts of a stored record a Matcher reads. The
// head (protocol, method, path, status, endpoints, times, ...) is always
// available.
type RecordParts uint8

const (
	// ReadsMessages: request/response headers, sizes and Fields.
	ReadsMessages RecordParts = 1 << iota
	// ReadsBodies: request/response Body (stored apart; reading them costs
	// one more lookup per record).
	ReadsBodies
)

// IndexKind names a secondary index a query can walk.
type IndexKind uint8

const (
	IndexProtocol  IndexKind = iota + 1 // Str: protocol name (compared lower-cased)
	IndexStatus                         // Num: status
	IndexFailed                         // failed records (no value)
	IndexSrcIP                          // Str: source ip
	IndexDstIP                          // Str: destination ip
	IndexDstIPPort                      // Str: destination ip, Num: destination port
)

// IndexTerm is one equality a Matcher guarantees of all its matches.
type IndexTerm struct {
	Kind IndexKind
	Str  string
	Num  int
}

// String renders the term for messages and tests, e.g. `status=500`.
func (t IndexTerm) String() string {
	switch t.Kind {
	case IndexProtocol:
		return "protocol=" + t.Str
	case IndexStatus:
		return "status=" + strconv.Itoa(t.Num)
	case IndexFailed:
		return "failed"
	case IndexSrcIP:
		return "src.ip=" + t.Str
	case IndexDstIP:
		return "dst.ip=" + t.Str
	case IndexDstIPPort:
		return "dst=" + sdk.Endpoint{IP: t.Str, Port: uint16(t.Num)}.String()
	}
	return "?"
}
