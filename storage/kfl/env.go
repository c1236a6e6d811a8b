package kfl

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// Env is the set of variables and functions a filter may use: the core
// record variables, one boolean per protocol, and the fields the given
// dissector manifests declare. It is safe for concurrent use.
type Env struct {
	cel  *cel.Env
	vars map[string]*variable
	// order lists the variables for Reference and suggestions: core first,
	// then protocol flags, then dissector fields by dissector.
	order     []*variable
	manifests []sdk.Manifest
	// skipped notes manifest fields that could not be declared, for the
	// reference.
	skipped []string
}

// varGroup says where a variable comes from, for the reference.
type varGroup int

const (
	groupCore varGroup = iota
	groupK8s
	groupProtocol
	groupField
	// groupKubeshark are the names of Kubeshark's KFL2 reference that the
	// core does not already have.
	groupKubeshark
)

// variable is one declared name and how to read it from a record.
type variable struct {
	name     string
	typ      *cel.Type
	typeName string // as shown in the reference
	doc      string
	group    varGroup
	reads    storage.RecordParts
	// dissectors that declare the field (groupField only).
	dissectors []string
	get        func(a *activation) ref.Val
	// protocol is the record protocol a protocol flag stands for.
	protocol string
}

// nowVar is the hidden variable the now() macro expands to: the time the
// program was compiled, so one query sees one "now" on every record.
const nowVar = "_kfl_now"

// protocolFlags are the protocol booleans every Env declares, with the
// record protocol each stands for. `ws` and `postgresql` are Kubeshark's
// spellings. `tls` is no protocol flag but a core variable (vars.go): it is
// also true on decrypted records, so that `http && tls` selects HTTPS calls.
var protocolFlags = []struct{ name, protocol string }{
	{"http", "http"}, {"http2", "http2"}, {"grpc", "grpc"}, {"dns", "dns"},
	{"redis", "redis"}, {"postgres", "postgres"}, {"postgresql", "postgres"},
	{"mysql", "mysql"}, {"kafka", "kafka"}, {"amqp", "amqp"},
	{"mongodb", "mongodb"}, {"mqtt", "mqtt"},
	{"websocket", "websocket"}, {"ws", "websocket"},
}

// reserved are CEL's reserved words and literals: no variable may use them.
var reserved = map[string]bool{
	"as": true, "break": true, "const": true, "continue": true, "else": true,
	"false": true, "for": true, "function": true, "if": true, "import": true,
	"in": true, "let": true, "loop": true, "package": true, "namespace": true,
	"null": true, "return": true, "true": true, "var": true, "void": true, "while": true,
}

// NewEnv declares the core variables and those of the manifests' fields.
// A manifest field whose name is already declared (by the core or by an
// earlier manifest with the same type) adds nothing; one declared by two
// manifests with different types becomes dyn. Field names with dots are
// declared only as request.NAME or response.NAME (read from that message's
// Fields); request.headers and friends are core variables.
func NewEnv(manifests []sdk.Manifest) (*Env, error) {
	e := &Env{vars: map[string]*variable{}, manifests: manifests}
	for _, v := range coreVariables() {
		e.add(v)
	}
	for _, v := range kubesharkVariables() {
		if v.group == groupCore {
			v.group = groupKubeshark
		}
		if e.vars[v.name] == nil {
			e.add(v)
		}
	}
	for _, f := range protocolFlags {
		e.add(protocolFlag(f.name, f.protocol))
	}
	for _, m := range manifests {
		for _, p := range m.Protocols {
			if validName(p) && e.vars[p] == nil {
				e.add(protocolFlag(p, p))
			}
		}
	}
	for _, m := range manifests {
		for _, f := range m.Fields {
			e.addField(m.Name, f)
		}
	}
	if err := e.build(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Env) add(v *variable) {
	e.vars[v.name] = v
	e.order = append(e.order, v)
}

func protocolFlag(name, protocol string) *variable {
	doc := "the record's protocol is " + protocol
	if name != protocol {
		doc += " (Kubeshark's spelling)"
	}
	return &variable{
		name: name, typ: cel.BoolType, typeName: "bool", group: groupProtocol, protocol: protocol, doc: doc,
		get: func(a *activation) ref.Val { return types.Bool(a.r.Protocol == protocol) },
	}
}

// validName reports whether s is a CEL identifier that is no reserved word.
func validName(s string) bool {
	if s == "" || reserved[s] {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// addField declares one manifest field.
func (e *Env) addField(dissector string, f sdk.FieldSpec) {
	name := f.Name
	key, side := name, sideEither
	if i := strings.IndexByte(name, '.'); i >= 0 {
		switch name[:i] {
		case "request":
			side = sideRequest
		case "response":
			side = sideResponse
		}
		key = name[i+1:]
		if side == sideEither || !validName(key) {
			e.skipped = append(e.skipped, fmt.Sprintf("%s (%s): not a request.NAME or response.NAME field", name, dissector))
			return
		}
	} else if !validName(name) {
		e.skipped = append(e.skipped, fmt.Sprintf("%s (%s): not a valid identifier", name, dissector))
		return
	}
	kind, typ, typeName := fieldKind(f.Type)
	if old := e.vars[name]; old != nil {
		if old.group != groupField {
			return // a core variable or protocol flag covers it
		}
		if !strings.Contains(strings.Join(old.dissectors, ","), dissector) {
			old.dissectors = append(old.dissectors, dissector)
		}
		if old.typeName != typeName && old.typeName != "dyn" {
			// Two dissectors disagree on the type: accept any value.
			old.typ, old.typeName = cel.DynType, "dyn"
			old.get = fieldGetter(key, side, kindDyn)
			old.doc += " (types differ between dissectors)"
		}
		return
	}
	if side == sideEither {
		// A plain name must not shadow the first part of a qualified one
		// (request, response, src, dst).
		for _, q := range []string{"request", "response", "src", "dst"} {
			if name == q {
				e.skipped = append(e.skipped, fmt.Sprintf("%s (%s): clashes with %s.*", name, dissector, q))
				return
			}
		}
	}
	e.add(&variable{
		name: name, typ: typ, typeName: typeName, doc: f.Description, group: groupField,
		reads: storage.ReadsMessages, dissectors: []string{dissector}, get: fieldGetter(key, side, kind),
	})
}

// build creates the CEL environment from the declared variables.
func (e *Env) build() error {
	opts := []cel.EnvOption{
		cel.CrossTypeNumericComparisons(true),
		cel.Variable(nowVar, cel.TimestampType),
		cel.Macros(nowMacro),
		mapGetFunction(),
	}
	for _, v := range e.order {
		opts = append(opts, cel.Variable(v.name, v.typ))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return fmt.Errorf("kfl: environment: %w", err)
	}
	e.cel = env
	return nil
}

// Names lists every declared variable name, sorted.
func (e *Env) Names() []string {
	out := make([]string, 0, len(e.vars))
	for n := range e.vars {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Types maps every declared variable to its type as the reference shows
// it (int, string, list<string>, map<string,string>, ...).
func (e *Env) Types() map[string]string {
	out := make(map[string]string, len(e.vars))
	for n, v := range e.vars {
		out[n] = v.typeName
	}
	return out
}

// Manifests returns the manifests the Env was built from.
func (e *Env) Manifests() []sdk.Manifest { return e.manifests }

// timeNow is replaced by tests.
var timeNow = time.Now
