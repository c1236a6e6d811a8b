package templates

import (
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
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

// clip cuts s to n bytes on a rune boundary, ending it in "…" when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
