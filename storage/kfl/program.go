package kfl

import (
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/templates"
)

// Program is a compiled filter. It is safe for concurrent use and
// implements storage.Matcher.
type Program struct {
	src   string
	env   *Env
	prg   cel.Program // nil for the empty filter
	now   ref.Val
	terms []storage.IndexTerm
	reads storage.RecordParts
	vars  []string // referenced variables, sorted
	pool  sync.Pool
	// tmpl is the learned templates of the data queried (SetTemplates).
	tmpl *templates.Set
}

var _ storage.Matcher = (*Program)(nil)

// Compile parses and type-checks expr, which must be a bool expression. An
// empty (or all-blank) expression matches every record. Errors wrap
// ErrBadFilter and say where and what is wrong; see [Error].
func (e *Env) Compile(expr string) (*Program, error) {
	p := &Program{src: expr, env: e, now: types.Timestamp{Time: timeNow()}}
	p.pool.New = func() any { return &activation{p: p} }
	if strings.TrimSpace(expr) == "" {
		return p, nil
	}
	a, iss := e.cel.Compile(expr)
	if iss.Err() != nil {
		err := e.newError(expr, iss.Errors())
		if h := e.hint(expr, err); h != nil {
			return nil, h
		}
		return nil, err
	}
	if !a.OutputType().IsExactType(cel.BoolType) {
		// The whole expression is at fault: point at its first character.
		line, col := firstChar(expr)
		return nil, &Error{Expr: expr, Issues: []Issue{{
			Line: line, Column: col,
			Message: fmt.Sprintf("a filter must be a bool expression, this one is %s (compare it with something)", a.OutputType()),
		}}}
	}
	prg, err := e.cel.Program(a, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, &Error{Expr: expr, Issues: []Issue{{Line: 1, Column: 1, Message: err.Error()}}}
	}
	p.prg = prg
	p.analyse(a.NativeRep())
	return p, nil
}

// firstChar returns the 1-based line and column of expr's first
// non-blank character.
func firstChar(expr string) (line, col int) {
	line, col = 1, 1
	for _, c := range expr {
		switch c {
		case '\n':
			line, col = line+1, 1
		case ' ', '\t', '\r':
			col++
		default:
			return line, col
		}
	}
	return line, col
}

// MustCompile is Compile for expressions known to be good; it panics on an
// error.
func (e *Env) MustCompile(expr string) *Program {
	p, err := e.Compile(expr)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the expression as written.
func (p *Program) String() string { return p.src }

// IndexTerms lists the top-level conjuncts storage can serve from an index.
func (p *Program) IndexTerms() []storage.IndexTerm { return p.terms }

// Reads says whether the expression reads the messages or the bodies.
func (p *Program) Reads() storage.RecordParts { return p.reads }

// Variables lists the variables the expression reads, sorted.
func (p *Program) Variables() []string { return p.vars }

// ReadsTemplates says whether the expression reads a call's template
// (template, path_template, endpoint), which is worth learning the
// server's templates for (SetTemplates).
func (p *Program) ReadsTemplates() bool {
	for _, v := range p.vars {
		switch v {
		case "template", "path_template", "endpoint":
			return true
		}
	}
	return false
}

// SetTemplates gives the program the templates learned over the data it
// will match (analysis.Templates), so that template reads /users/{param}
// where the stored paths show a parameter. Without it a call's template
// is its path's shape alone (templates.Template). Call it before the
// program is used, not while Match runs.
func (p *Program) SetTemplates(s *templates.Set) { p.tmpl = s }

// Templates is the set SetTemplates gave, or nil.
func (p *Program) Templates() *templates.Set { return p.tmpl }

func (p *Program) templateOf(r *sdk.Record) string { return p.tmpl.OfRecord(r) }

// Match evaluates the program on r. An evaluation error (a missing map key
// with m["k"], a bad regular expression) is returned with false.
func (p *Program) Match(r *sdk.Record) (bool, error) {
	if p.prg == nil {
		return true, nil
	}
	a := p.pool.Get().(*activation)
	a.r = r
	out, _, err := p.prg.Eval(a)
	a.r, a.reqH, a.respH = nil, nil, nil
	p.pool.Put(a)
	if err != nil {
		return false, fmt.Errorf("kfl: %s: %w", p.src, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("kfl: %s: result is %s, not bool", p.src, out.Type())
	}
	return bool(b), nil
}

// activation resolves variables from one record on demand; the header maps
// are built at most once per record.
type activation struct {
	p           *Program
	r           *sdk.Record
	reqH, respH ref.Val
}

func (a *activation) ResolveName(name string) (any, bool) {
	if v := a.p.env.vars[name]; v != nil {
		return v.get(a), true
	}
	if name == nowVar {
		return a.p.now, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// analyse records which variables the checked expression reads, what parts
// of a record they need, and the index terms among its top-level conjuncts.
func (p *Program) analyse(a *ast.AST) {
	seen := map[string]bool{}
	for _, r := range a.ReferenceMap() {
		if v := p.env.vars[r.Name]; v != nil && len(r.OverloadIDs) == 0 && !seen[r.Name] {
			seen[r.Name] = true
			p.vars = append(p.vars, r.Name)
			p.reads |= v.reads
		}
	}
	sortStrings(p.vars)
	p.terms = p.indexTerms(a)
}

// varOf returns the variable an expression names (an identifier or a
// qualified name like dst.ip), or "".
func varOf(a *ast.AST, e ast.Expr) string {
	if r, ok := a.ReferenceMap()[e.ID()]; ok && len(r.OverloadIDs) == 0 && r.Value == nil {
		return r.Name
	}
	return ""
}

// indexTerms walks the top-level && chain for equalities storage indexes.
func (p *Program) indexTerms(a *ast.AST) []storage.IndexTerm {
	var conj []ast.Expr
	var flatten func(e ast.Expr)
	flatten = func(e ast.Expr) {
		if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd && len(e.AsCall().Args()) == 2 {
			flatten(e.AsCall().Args()[0])
			flatten(e.AsCall().Args()[1])
			return
		}
		conj = append(conj, e)
	}
	flatten(a.Expr())

	var out []storage.IndexTerm
	var dstIP string
	dstPort := -1
	for _, e := range conj {
		if name := varOf(a, e); name != "" {
			if v := p.env.vars[name]; v != nil && v.group == groupProtocol {
				out = append(out, storage.IndexTerm{Kind: storage.IndexProtocol, Str: v.protocol})
			} else if name == "failed" {
				out = append(out, storage.IndexTerm{Kind: storage.IndexFailed})
			}
			continue
		}
		if e.Kind() != ast.CallKind || e.AsCall().FunctionName() != operators.Equals || len(e.AsCall().Args()) != 2 {
			continue
		}
		x, y := e.AsCall().Args()[0], e.AsCall().Args()[1]
		if x.Kind() == ast.LiteralKind {
			x, y = y, x
		}
		name := varOf(a, x)
		if name == "" || y.Kind() != ast.LiteralKind {
			continue
		}
		lit := y.AsLiteral()
		s, isStr := lit.(types.String)
		n, isInt := lit.(types.Int)
		b, isBool := lit.(types.Bool)
		switch {
		case name == "protocol" && isStr:
			out = append(out, storage.IndexTerm{Kind: storage.IndexProtocol, Str: string(s)})
		case (name == "status_code" || name == "status") && isInt && n >= -1<<31 && n < 1<<31:
			out = append(out, storage.IndexTerm{Kind: storage.IndexStatus, Num: int(n)})
		case name == "failed" && isBool && bool(b):
			out = append(out, storage.IndexTerm{Kind: storage.IndexFailed})
		case name == "src.ip" && isStr && s != "":
			out = append(out, storage.IndexTerm{Kind: storage.IndexSrcIP, Str: string(s)})
		case name == "dst.ip" && isStr && s != "":
			out = append(out, storage.IndexTerm{Kind: storage.IndexDstIP, Str: string(s)})
			dstIP = string(s)
		case name == "dst.port" && isInt && n >= 0 && n <= 0xFFFF:
			dstPort = int(n)
		}
	}
	if dstIP != "" && dstPort >= 0 {
		out = append(out, storage.IndexTerm{Kind: storage.IndexDstIPPort, Str: dstIP, Num: dstPort})
	}
	return out
}
