package pktfilter

import (
	"strings"
	"sync"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

// Filter is a compiled expression. It is safe for concurrent use.
type Filter struct {
	expr string
	root node
	pool sync.Pool // of *scratch: decoding state, so Match does not allocate
}

// Compile parses a pcap-filter style expression (see the package doc for
// the subset). The empty expression matches every packet. A bad expression
// yields a *SyntaxError naming the 1-based column and the token at fault.
func Compile(expr string) (*Filter, error) {
	root, err := parse(expr)
	if err != nil {
		return nil, err
	}
	f := &Filter{expr: expr, root: root}
	f.pool.New = func() any { return new(scratch) }
	return f, nil
}

// MustCompile is Compile for expressions known to be valid (constants and
// tests); it panics on a bad one.
func MustCompile(expr string) *Filter {
	f, err := Compile(expr)
	if err != nil {
		panic(err)
	}
	return f
}

// Match reports whether the frame satisfies the expression. Frames of a
// link type the package cannot decode only match expressions that need no
// header (such as "less 100" or the empty expression).
func (f *Filter) Match(p capture.Packet) bool {
	if _, ok := f.root.(trueNode); ok {
		return true
	}
	s := f.pool.Get().(*scratch)
	ok := f.root.match(s.decode(p))
	f.pool.Put(s)
	return ok
}

// String is the expression as parsed, fully qualified and with
// parentheses showing the grouping, e.g. "tcp port 80 or 443 and host
// 10.0.0.1" prints as "(tcp port 80 or tcp port 443) and host 10.0.0.1".
func (f *Filter) String() string {
	var b strings.Builder
	f.root.format(&b)
	return b.String()
}

// Expr is the expression as given to Compile.
func (f *Filter) Expr() string { return f.expr }
