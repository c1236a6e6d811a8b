package analysis

import (
	"net/url"
	"regexp"
	"strings"
)

// MaxTemplateLen caps a templated path or statement, in bytes; longer ones
// are cut and end in "…". Long SQL differs mostly in its tail (the column
// lists and predicates), but the head names the statement well enough to
// group it, and unbounded keys would make grouping unbounded.
const MaxTemplateLen = 200

// Placeholders Template puts in place of identifiers.
const (
	PlaceholderID    = "{id}"    // a decimal number, or a code that is mostly digits (INV-20240001)
	PlaceholderUUID  = "{uuid}"  // 8-4-4-4-12 hex
	PlaceholderHash  = "{hash}"  // 8+ hex digits with at least one digit: object ids, digests, commit SHAs
	PlaceholderToken = "{token}" // 16+ characters of base64/base64url with letters and digits, random-looking
	PlaceholderEmail = "{email}" // an email address
	PlaceholderDate  = "{date}"  // YYYY-MM-DD
)

// Template turns a record's Path into the form endpoints are grouped by,
// depending on the protocol:
//
//   - HTTP family (http, http2, grpc, websocket, and any path starting with
//     "/" from an unknown protocol): the query string and fragment are
//     dropped, an absolute URL loses its scheme and host, matrix parameters
//     (;jsessionid=...) go, and each segment that looks like an identifier
//     becomes a placeholder ({id}, {uuid}, {hash}, {token}, {email},
//     {date}); an identifier with a file extension keeps it ({id}.json).
//     /api/orders/12345?x=1 becomes /api/orders/{id}.
//   - SQL (postgres, mysql): comments are dropped, whitespace collapsed,
//     string and number literals become ? (in MySQL double-quoted text is a
//     string too; in PostgreSQL it is an identifier and stays), and lists
//     of them collapse, so IN (1, 2, 3) and VALUES (1,'a'),(2,'b') read
//     IN (?) and VALUES (?). Bind parameters ($1, ?) stay.
//   - Redis keys and MQTT topics: segments between ':' and '/' are
//     templated as HTTP segments are (user:1234:profile → user:{id}:profile),
//     since keys and topics carry ids the same way paths do.
//   - Anything else (DNS names, Kafka topics, TLS server names, ...) is kept
//     as is: there the name itself is what people ask about.
//
// Every result is cut to MaxTemplateLen bytes.
func Template(protocol, path string) string {
	switch strings.ToLower(protocol) {
	case "http", "http2", "grpc", "websocket":
		return templateHTTP(path)
	case "postgres", "postgresql":
		return normalizeSQL(path, false)
	case "mysql":
		return normalizeSQL(path, true)
	case "redis":
		return clip(templateSegments(path, ":/"), MaxTemplateLen)
	case "mqtt":
		return clip(templateSegments(path, "/"), MaxTemplateLen)
	case "":
		if strings.HasPrefix(path, "/") {
			return templateHTTP(path)
		}
	}
	return clip(path, MaxTemplateLen)
}

func templateHTTP(p string) string {
	// Absolute form, as sent to proxies: http://host:port/path.
	if i := strings.Index(p, "://"); i > 0 && i < 10 && !strings.ContainsAny(p[:i], "/?#") {
		rest := p[i+3:]
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			p = rest[j:]
		} else {
			p = "/"
		}
	}
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if p == "" {
		return "/"
	}
	return clip(templateSegments(p, "/"), MaxTemplateLen)
}

// templateSegments templates each run between separator bytes, keeping the
// separators where they were.
func templateSegments(p, seps string) string {
	var b strings.Builder
	start, changed := 0, false
	for i := 0; i <= len(p); i++ {
		if i < len(p) && strings.IndexByte(seps, p[i]) < 0 {
			continue
		}
		seg := p[start:i]
		t := segment(seg)
		if t != seg && !changed {
			changed = true
			b.Grow(len(p))
			b.WriteString(p[:start])
		}
		if changed {
			b.WriteString(t)
			if i < len(p) {
				b.WriteByte(p[i])
			}
		}
		start = i + 1
	}
	if !changed {
		return p
	}
	return b.String()
}

// segment templates one path segment.
func segment(s string) string {
	if s == "" {
		return s
	}
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	// An identifier with a file extension keeps the extension; tried
	// first because "12345.json" is also mostly digits.
	if i := strings.LastIndexByte(s, '.'); i > 0 && len(s)-i <= 6 && isLetters(s[i+1:]) {
		if ph := classify(s[:i]); ph != "" && ph != PlaceholderEmail {
			return ph + s[i:]
		}
	}
	if ph := classify(s); ph != "" {
		return ph
	}
	return s
}

// classify names the placeholder for an identifier-like segment, "" for a
// word.
func classify(s string) string {
	if strings.IndexByte(s, '%') >= 0 {
		if d, err := url.PathUnescape(s); err == nil {
			s = d
		}
	}
	digits, hex := 0, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			hex = false
		}
	}
	switch {
	case digits == len(s):
		return PlaceholderID
	case isUUID(s):
		return PlaceholderUUID
	case isEmail(s):
		return PlaceholderEmail
	case isDate(s):
		return PlaceholderDate
	case hex && len(s) >= 8 && digits > 0:
		return PlaceholderHash
	case isToken(s):
		return PlaceholderToken
	case digits >= 4 && 2*digits >= len(s):
		return PlaceholderID
	}
	return ""
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !isHexDigit(c) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || strings.IndexByte(s[at+1:], '@') >= 0 {
		return false
	}
	dom := s[at+1:]
	dot := strings.LastIndexByte(dom, '.')
	return dot > 0 && dot < len(dom)-2 && isLetters(dom[dot+1:])
}

func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i != 4 && i != 7 && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

// isToken spots a random-looking credential or opaque id: 16+ bytes of
// the base64/base64url alphabet with an unbroken alphanumeric run of 16 or
// more, a digit, and frequent changes between lower case, upper case and
// digits (at least 3 per 10 bytes). Words and slugs fail the last test:
// how-to-use-k8s-in-2024 has short runs, OrderServiceImpl2 changes case
// once per word, while base64 changes class about every other byte.
func isToken(s string) bool {
	if len(s) < 16 {
		return false
	}
	run, longest, digits, changes := 0, 0, 0, 0
	var prev byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		var cls byte
		switch {
		case c >= '0' && c <= '9':
			cls = 'd'
			digits++
		case c >= 'a' && c <= 'z':
			cls = 'l'
		case c >= 'A' && c <= 'Z':
			cls = 'u'
		case c == '-' || c == '_' || c == '+' || c == '=' || c == '.' || c == '~':
			run, prev = 0, 0
			continue
		default:
			return false
		}
		if prev != 0 && cls != prev {
			changes++
		}
		prev = cls
		run++
		longest = max(longest, run)
	}
	return longest >= 16 && digits > 0 && 10*changes >= 3*len(s)
}

func isLetters(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

var (
	sqlList   = regexp.MustCompile(`\(\s*\?(?:\s*,\s*\?)+\s*\)`)
	sqlTuples = regexp.MustCompile(`\(\?\)(?:\s*,\s*\(\?\))+`)
)

// normalizeSQL replaces literals with ? and collapses whitespace; see
// Template. dqString says whether "..." is a string (MySQL) rather than an
// identifier (PostgreSQL).
func normalizeSQL(s string, dqString bool) string {
	var b strings.Builder
	b.Grow(min(len(s), 4*MaxTemplateLen))
	space := false
	var last byte // last byte written, for telling a sign from a minus
	emit := func(t string) {
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteString(t)
		last = t[len(t)-1]
	}
	for i := 0; i < len(s); {
		// Past four times the cap the rest would be cut anyway.
		if b.Len() > 4*MaxTemplateLen {
			break
		}
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			space = true
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			space = true
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			if j := strings.Index(s[i+2:], "*/"); j >= 0 {
				i += j + 4
			} else {
				i = len(s)
			}
			space = true
		case c == '\'' || c == '"' && dqString:
			i = skipQuoted(s, i)
			emit("?")
		case c == '$' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			emit(s[i:j])
			i = j
		case isDigitByte(c),
			c == '-' && i+1 < len(s) && isDigitByte(s[i+1]) && (b.Len() == 0 || strings.IndexByte("=<>(,+-*/", last) >= 0):
			// A digit never follows an identifier byte here: identifier
			// runs, digits included, are consumed whole below.
			j := i + 1
			for j < len(s) && (isIdentByte(s[j]) || s[j] == '.') {
				j++
			}
			emit("?")
			i = j
		case c == '"' || c == '`':
			// A quoted identifier: copied whole, so a digit inside is kept.
			j := skipQuoted(s, i)
			emit(s[i:j])
			i = j
		default:
			j := i + 1
			for j < len(s) && isIdentByte(c) && isIdentByte(s[j]) {
				j++
			}
			emit(s[i:j])
			i = j
		}
	}
	out := b.String()
	if strings.Contains(out, "?") {
		out = sqlList.ReplaceAllString(out, "(?)")
		out = sqlTuples.ReplaceAllString(out, "(?)")
	}
	return clip(out, MaxTemplateLen)
}

// skipQuoted returns the index after the quoted text starting at s[i],
// honouring doubled quotes and backslash escapes.
func skipQuoted(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }

func isIdentByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

// templater memoises Template for one scan: most records repeat a few
// thousand distinct paths, and the memo turns the per-record cost into a
// map lookup. It stops growing at a cap rather than evicting, which keeps
// it bounded and still serves the paths seen first (the frequent ones, in
// practice).
type templater struct {
	memo map[[2]string]string
}

const templateMemoCap = 50000

func newTemplater() *templater { return &templater{memo: make(map[[2]string]string, 256)} }

func (t *templater) get(protocol, path string) string {
	k := [2]string{protocol, path}
	if v, ok := t.memo[k]; ok {
		return v
	}
	v := Template(protocol, path)
	if len(t.memo) < templateMemoCap {
		t.memo[k] = v
	}
	return v
}

// PlaceholderParam is the placeholder learned templates put where the
// traffic shows a parameter: many distinct values under the same prefix
// of the same server's paths (/users/alice, /users/bob, ... →
// /users/{param}).
const PlaceholderParam = "{param}"

// Thresholds of LearnTemplates: the distinct values a position needs
// under one prefix to be a parameter, and fewer when most of them are
// shaped like identifiers (idShaped).
const (
	learnMinValues   = 8
	learnMinIDValues = 4
)

// LearnTemplates groups one server's paths (already through Template) into
// templates by what varies across them: walking the paths as a tree of
// segments, the children of a node become one {param} child when they are
// many (learnMinValues), or when at least learnMinIDValues of them and
// half of them look like identifiers (idShaped); their subtrees merge and the walk
// goes on below, so /repos/{param}/{param}/issues comes out of owner and
// repository names alike. Placeholders Template already put ({id},
// {uuid}, ...) stay as they are, and so do small vocabularies of words
// (the resource types of /api/v1/namespaces/default/pods and
// .../services). It returns each input path's template.
func LearnTemplates(paths []string) map[string]string {
	segs := make([][]string, len(paths))
	idx := make([]int, len(paths))
	for i, p := range paths {
		segs[i] = strings.Split(p, "/")
		idx[i] = i
	}
	learnAt(segs, idx, 0)
	out := make(map[string]string, len(paths))
	for i, p := range paths {
		out[p] = clip(strings.Join(segs[i], "/"), MaxTemplateLen)
	}
	return out
}

// learnAt decides position depth for the paths idx, which share their
// segments before depth, then recurses into each resulting child.
func learnAt(segs [][]string, idx []int, depth int) {
	children := map[string][]int{}
	var order []string
	for _, i := range idx {
		if len(segs[i]) <= depth {
			continue
		}
		s := segs[i][depth]
		if _, ok := children[s]; !ok {
			order = append(order, s)
		}
		children[s] = append(children[s], i)
	}
	var words []string
	for _, s := range order {
		if s != "" && !isPlaceholder(s) {
			words = append(words, s)
		}
	}
	if depth > 0 && parameterLike(words) {
		var merged []int
		for _, w := range words {
			for _, i := range children[w] {
				segs[i][depth] = PlaceholderParam
			}
			merged = append(merged, children[w]...)
			delete(children, w)
		}
		children[PlaceholderParam] = append(children[PlaceholderParam], merged...)
		order = append(order, PlaceholderParam)
	}
	for _, s := range order {
		if c := children[s]; len(c) > 0 {
			learnAt(segs, c, depth+1)
			delete(children, s) // each child once
		}
	}
}

func isPlaceholder(s string) bool {
	return strings.HasPrefix(s, "{") && strings.Contains(s, "}")
}

// parameterLike says whether the distinct values at one position under
// one prefix are a parameter's values rather than route words.
func parameterLike(values []string) bool {
	if len(values) >= learnMinValues {
		return true
	}
	if len(values) < learnMinIDValues {
		return false
	}
	ids := 0
	for _, v := range values {
		if idShaped(v) {
			ids++
		}
	}
	return 2*ids >= len(values)
}

// idShaped reports a value that reads as an identifier rather than a
// word: two digits or more (c-7f3a, report-2024.pdf, web-7d4b9c-x2k4p), a
// digit beside a '-' or '_' (user_7), or a long string. One digit alone is
// a word's (v1, k8s in networking.k8s.io).
func idShaped(s string) bool {
	if len(s) >= 24 {
		return true
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			digits++
		}
	}
	return digits >= 2 || digits == 1 && strings.ContainsAny(s, "-_")
}
