package kfl

import (
	"regexp"
	"strings"
	"unicode"
)

// Common mistakes get a message that names them and the filter as KFL
// would write it, instead of the parser's raw complaint: a single '='
// (SQL, Wireshark's "eq" habits), and/or/not, Wireshark's "x contains y"
// and protocol-qualified fields (http.request.method), an unquoted string,
// Kubeshark's request.path for path, and a filter that stops after '&&'.
// A rewrite is only offered when it compiles.

// wiresharkFields maps Wireshark display-filter fields to a KFL protocol
// flag (may be empty) and the expression that reads the same thing.
var wiresharkFields = map[string]struct{ flag, expr string }{
	"http.request.method":   {"http", "method"},
	"http.request.uri":      {"http", "path"},
	"http.request.full_uri": {"http", "path"},
	"http.uri":              {"http", "path"},
	"http.response.code":    {"http", "status_code"},
	"http.host":             {"http", `map_get(request.headers, "host", "")`},
	"http.user_agent":       {"http", `map_get(request.headers, "user-agent", "")`},
	"ip.src":                {"", "src.ip"},
	"ip.dst":                {"", "dst.ip"},
	"ipv6.src":              {"", "src.ip"},
	"ipv6.dst":              {"", "dst.ip"},
	"tcp.srcport":           {"", "src.port"},
	"tcp.dstport":           {"", "dst.port"},
	"udp.srcport":           {"", "src.port"},
	"udp.dstport":           {"", "dst.port"},
	"dns.qry.name":          {"dns", "path"},
	"dns.qry.type":          {"dns", "method"},
	"dns.flags.rcode":       {"dns", "status_code"},
}

var (
	stringLitRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	infixRE     = regexp.MustCompile(`([A-Za-z_][\w.]*)\s+(contains|matches|startsWith|endsWith)\s+("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')`)
	dottedRE    = regexp.MustCompile(`[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+`)
	wordOpRE    = regexp.MustCompile(`\b(and|or|not)\b`)
	danglingRE  = regexp.MustCompile(`(&&|\|\||==|!=|>=|<=|[<>!(,])\s*$`)
)

// hint returns a replacement for a compile error when expr shows a common
// mistake, or nil.
func (e *Env) hint(expr string, orig *Error) *Error {
	first := Issue{Line: 1, Column: 1}
	if len(orig.Issues) > 0 {
		first = orig.Issues[0]
	}
	if m := danglingRE.FindStringSubmatch(codeOnly(expr)); m != nil {
		line, col := lastChar(expr)
		return &Error{Expr: expr, Issues: []Issue{{Line: line, Column: col,
			Message: "the filter ends with '" + m[1] + "', which needs something after it (e.g. http && method == \"GET\")"}}}
	}
	fixed, why := e.rewrite(expr, orig.Undeclared())
	if fixed == expr || len(why) == 0 {
		return nil
	}
	if _, iss := e.cel.Compile(fixed); iss.Err() != nil {
		return nil
	}
	msg := strings.Join(why, "; ") + "; did you mean: " + fixed
	if u := orig.Undeclared(); len(u) > 0 {
		// Keep the form Undeclared reads, so that a caller retrying with
		// dissector fields still can.
		msg = "undeclared reference to '" + u[0] + "': " + msg
	}
	return &Error{Expr: expr, Issues: []Issue{{Line: first.Line, Column: first.Column, Message: msg}}}
}

// rewrite applies the known corrections outside string literals and says
// which it made.
func (e *Env) rewrite(expr string, undeclared []string) (string, []string) {
	var why []string
	note := func(s string) {
		for _, w := range why {
			if w == s {
				return
			}
		}
		why = append(why, s)
	}
	out := infixRE.ReplaceAllStringFunc(expr, func(m string) string {
		note("KFL calls functions as methods: x.contains(\"y\")")
		p := infixRE.FindStringSubmatch(m)
		return p[1] + "." + p[2] + "(" + p[3] + ")"
	})
	flags := map[string]bool{}
	wireshark := false
	noteWireshark := func(name string) {
		if !wireshark {
			wireshark = true
			note("'" + name + "' is Wireshark's syntax: in KFL a protocol is a flag (http, dns) and the fields are shared (method, path, status_code, src.ip)")
		}
	}
	out = mapCode(out, func(code string) string {
		code = singleEquals(code, func() { note("'=' is not a comparison: KFL compares with '=='") })
		code = wordOpRE.ReplaceAllStringFunc(code, func(w string) string {
			note("KFL writes and, or, not as &&, ||, !")
			return map[string]string{"and": "&&", "or": "||", "not": "!"}[w]
		})
		return replaceDotted(code, func(name string) (string, bool) {
			if e.vars[name] != nil {
				return "", false
			}
			if w, ok := wiresharkFields[name]; ok {
				noteWireshark(name)
				if w.flag != "" {
					flags[w.flag] = true
				}
				return w.expr, true
			}
			parts := strings.Split(name, ".")
			last := parts[len(parts)-1]
			if e.vars[last] == nil {
				return "", false
			}
			if v := e.vars[parts[0]]; v != nil && v.group == groupProtocol {
				noteWireshark(name)
				flags[parts[0]] = true
				return last, true
			}
			note("KFL calls '" + name + "' '" + last + "'")
			return last, true
		})
	})
	// An unquoted word compared with something is a string without quotes.
	for _, u := range undeclared {
		re := regexp.MustCompile(`((?:==|!=)\s*)\b` + regexp.QuoteMeta(u) + `\b`)
		if re.MatchString(out) {
			note("strings need quotes")
			out = re.ReplaceAllString(out, `${1}"`+u+`"`)
		}
	}
	for _, f := range sortedKeys(flags) {
		if regexp.MustCompile(`(^|[^\w.])` + f + `($|[^\w.])`).MatchString(codeOnly(out)) {
			continue
		}
		if strings.Contains(codeOnly(out), "||") {
			out = f + " && (" + out + ")"
		} else {
			out = f + " && " + out
		}
	}
	return out, why
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}

// mapCode applies f to the parts of expr outside string literals.
func mapCode(expr string, f func(string) string) string {
	var b strings.Builder
	last := 0
	for _, loc := range stringLitRE.FindAllStringIndex(expr, -1) {
		b.WriteString(f(expr[last:loc[0]]))
		b.WriteString(expr[loc[0]:loc[1]])
		last = loc[1]
	}
	b.WriteString(f(expr[last:]))
	return b.String()
}

// codeOnly blanks out string literals.
func codeOnly(expr string) string {
	return stringLitRE.ReplaceAllStringFunc(expr, func(s string) string { return `""` })
}

// singleEquals turns a lone '=' into '=='.
func singleEquals(code string, found func()) string {
	r := []rune(code)
	var b strings.Builder
	for i, c := range r {
		b.WriteRune(c)
		if c != '=' {
			continue
		}
		prev, next := ' ', ' '
		if i > 0 {
			prev = r[i-1]
		}
		if i+1 < len(r) {
			next = r[i+1]
		}
		if !strings.ContainsRune("=!<>", prev) && next != '=' && next != '~' {
			b.WriteRune('=')
			found()
		}
	}
	return b.String()
}

// replaceDotted offers each dotted name (a.b.c, without a trailing method
// call) to f, which may replace it.
func replaceDotted(code string, f func(string) (string, bool)) string {
	var b strings.Builder
	last := 0
	for _, loc := range dottedRE.FindAllStringIndex(code, -1) {
		name := code[loc[0]:loc[1]]
		end := loc[1]
		if loc[0] > 0 && (code[loc[0]-1] == '.' || unicode.IsDigit(rune(code[loc[0]-1]))) {
			continue
		}
		if end < len(code) && code[end] == '(' {
			// path.contains( : the name is what precedes the method.
			i := strings.LastIndexByte(name, '.')
			name, end = name[:i], loc[0]+i
			if !strings.Contains(name, ".") {
				continue
			}
		}
		if rep, ok := f(name); ok {
			b.WriteString(code[last:loc[0]])
			b.WriteString(rep)
			last = end
		}
	}
	b.WriteString(code[last:])
	return b.String()
}

// lastChar returns the 1-based line and column of expr's last non-blank
// character.
func lastChar(expr string) (line, col int) {
	lines := strings.Split(strings.TrimRightFunc(expr, unicode.IsSpace), "\n")
	return len(lines), len([]rune(lines[len(lines)-1]))
}
