package kfl

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"

	"github.com/kubeshark-wasm/kubeshark/storage"
)

// ErrBadFilter is storage.ErrBadFilter: every compile error wraps it, so
// errors.Is(err, storage.ErrBadFilter) holds for KFL and the old filter
// syntax alike.
var ErrBadFilter = storage.ErrBadFilter

// Error is a filter that does not compile. Error() renders one line, e.g.
//
//	kfl: 1:9: undeclared reference to 'stauts' (did you mean 'status'?)
type Error struct {
	Expr   string
	Issues []Issue
}

// Issue is one problem at a 1-based line and column (in characters).
type Issue struct {
	Line, Column int
	Message      string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("kfl: ")
	for i, is := range e.Issues {
		if i > 0 {
			b.WriteString("; ")
		}
		if i == 3 {
			b.WriteString("and " + strconv.Itoa(len(e.Issues)-3) + " more")
			break
		}
		b.WriteString(strconv.Itoa(is.Line) + ":" + strconv.Itoa(is.Column) + ": " + is.Message)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrBadFilter) hold.
func (e *Error) Unwrap() error { return ErrBadFilter }

// Undeclared lists the names the expression used that the Env does not
// declare. A caller holding a smaller Env (one without dissector fields)
// can retry with a larger one when this is all that is wrong.
func (e *Error) Undeclared() []string {
	var out []string
	for _, is := range e.Issues {
		m := undeclaredRE.FindStringSubmatch(is.Message)
		if m == nil {
			return nil
		}
		out = append(out, m[1])
	}
	return out
}

var (
	undeclaredRE = regexp.MustCompile(`^undeclared reference to '([^']+)'`)
	containerRE  = regexp.MustCompile(` \(in container '[^']*'\)`)
	didYouMeanRE = regexp.MustCompile(` \(did you mean [^)]*\)`)
)

func (e *Env) newError(expr string, errs []*cel.Error) *Error {
	out := &Error{Expr: expr}
	lines := strings.Split(expr, "\n")
	for _, ce := range errs {
		line, col := ce.Location.Line(), ce.Location.Column()
		msg := containerRE.ReplaceAllString(ce.Message, "")
		msg = strings.ReplaceAll(msg, "\n", " ")
		if m := undeclaredRE.FindStringSubmatch(msg); m != nil {
			// CEL places a qualified name at its last dot and a call at
			// its parenthesis: point at the name's first character.
			col = nameStart(lines, line, col)
			// Our suggestion (over variables, dissector fields and
			// functions) replaces CEL's own, when we have one.
			if s := e.suggest(qualifiedAt(lines, line, col), m[1]); s != "" {
				msg = didYouMeanRE.ReplaceAllString(msg, "") + " (did you mean '" + s + "'?)"
			}
		}
		out.Issues = append(out.Issues, Issue{Line: max(line, 1), Column: max(col+1, 1), Message: msg})
	}
	return out
}

func isNameChar(c rune) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// nameStart moves a 0-based column back from the '.' of a qualified name
// or the '(' of a call to the start of the name.
func nameStart(lines []string, line, col int) int {
	if line < 1 || line > len(lines) {
		return col
	}
	r := []rune(lines[line-1])
	if col < 0 || col >= len(r) {
		return col
	}
	switch r[col] {
	case '(': // a function or method name ends here
		for col > 0 && isNameChar(r[col-1]) {
			col--
		}
	case '.': // a qualified name: a.b.c
		for col > 0 && (isNameChar(r[col-1]) || r[col-1] == '.') {
			col--
		}
	}
	return col
}

// qualifiedAt returns the dotted name written at a 1-based line and
// 0-based column (in characters), e.g. "request.header" where CEL only
// reports 'request'.
func qualifiedAt(lines []string, line, col int) string {
	if line < 1 || line > len(lines) {
		return ""
	}
	r := []rune(lines[line-1])
	if col < 0 || col >= len(r) {
		return ""
	}
	end := col
	for end < len(r) && (isNameChar(r[end]) || r[end] == '.') {
		end++
	}
	s := string(r[col:end])
	// A trailing method call (path.contans) is not part of the name.
	if end < len(r) && r[end] == '(' {
		if i := strings.LastIndexByte(s, '.'); i >= 0 {
			s = s[:i]
		}
	}
	return strings.TrimRight(s, ".")
}

// functionNames are offered as suggestions beside the variables.
var functionNames = []string{
	"map_get", "now", "duration", "timestamp", "size", "contains", "startsWith", "endsWith",
	"matches", "exists", "all", "exists_one", "filter", "map", "has", "int", "uint", "double",
	"string", "bool", "bytes", "type", "dyn", "lowerAscii", "upperAscii",
}

// suggest returns the declared name closest to the qualified name written
// (or, failing that, to the bare name CEL reported), if one is close enough
// to be a likely typo.
func (e *Env) suggest(qualified, bare string) string {
	for _, w := range []string{qualified, bare} {
		if w == "" {
			continue
		}
		best, bestD := "", 1<<30
		try := func(c string) {
			if c == w {
				return
			}
			if d := levenshtein(w, c); d < bestD || d == bestD && c < best {
				best, bestD = c, d
			}
		}
		for _, v := range e.order {
			try(v.name)
		}
		for _, f := range functionNames {
			try(f)
		}
		if best != "" && bestD <= maxTypo(w) {
			return best
		}
	}
	return ""
}

// maxTypo is how many edits a misspelling of a name this long may have.
func maxTypo(w string) int {
	switch n := len(w); {
	case n <= 2:
		return 0
	case n <= 4:
		return 1
	case n <= 8:
		return 2
	}
	return 3
}

// levenshtein is the edit distance between a and b (bytes; names are
// ASCII), counting the swap of two neighbours as one edit as a typist
// would (the optimal-string-alignment variant), so "stauts" is one edit
// from "status".
func levenshtein(a, b string) int {
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(a)][len(b)]
}

func sortStrings(s []string) { slices.Sort(s) }
