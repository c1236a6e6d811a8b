package interrupt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ExportName is the export under which an instrumented module offers its
// interrupt flag (a mutable i32 global).
const ExportName = "kubeshark.interrupt"

// ErrMalformed is wrapped by errors about bytes that are not a well-formed
// module.
var ErrMalformed = errors.New("malformed WebAssembly module")

// ErrUnsupported is wrapped by errors about modules that use a feature the
// rewrite does not know (and wazero could not run either).
var ErrUnsupported = errors.New("unsupported WebAssembly feature")

const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secFunction = 3
	secMemory   = 5
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secCode     = 10
	secTag      = 13

	kindGlobal = 3
)

var header = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// order is a section's place in a module; custom sections have none.
func order(id byte) int {
	switch {
	case id >= 1 && id <= 5:
		return int(id) * 2
	case id == secTag:
		return 11
	case id >= 6 && id <= 9:
		return int(id) * 2
	case id == 12: // data count comes between element and code
		return 19
	case id == 10 || id == 11:
		return int(id) * 2
	}
	return 0
}

type section struct {
	id      byte
	payload []byte
}

// Instrument returns a copy of module that checks its interrupt flag at
// every loop header and at the entry of every function that calls another,
// and exports the flag as [ExportName]. Every function gains one i32 local,
// its loop counter. Custom sections holding DWARF are dropped: their code
// offsets no longer hold. A module with a start section is refused: its
// start function would run inside instantiation, before the host can reach
// the flag. The input is not modified.
func Instrument(module []byte) ([]byte, error) {
	if !bytes.HasPrefix(module, header) {
		return nil, fmt.Errorf("%w: no WebAssembly 1.0 header", ErrMalformed)
	}
	r := &reader{b: module, off: len(header)}
	var secs []section
	for !r.done() {
		id := r.byte()
		payload := r.bytes(r.u32())
		if r.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, r.err)
		}
		if id > secTag {
			return nil, fmt.Errorf("%w: section id %d", ErrUnsupported, id)
		}
		if id == secStart {
			return nil, fmt.Errorf("%w: a start section, whose function would run before the host can reach the interrupt flag; export _initialize instead", ErrUnsupported)
		}
		if err := plausibleCount(id, payload); err != nil {
			return nil, err
		}
		secs = append(secs, section{id, payload})
	}

	var importedGlobals, definedGlobals uint32
	var typeParams, funcTypes []uint32
	hasMemory := false
	for _, s := range secs {
		var err error
		switch s.id {
		case secType:
			typeParams, err = paramCounts(s.payload)
		case secFunction:
			funcTypes, err = typeIndices(s.payload)
		case secImport:
			var memories uint32
			importedGlobals, memories, err = countImports(s.payload)
			hasMemory = hasMemory || memories > 0
		case secMemory:
			hasMemory = true
		case secGlobal:
			definedGlobals, err = (&reader{b: s.payload}).count()
		}
		if err != nil {
			return nil, fmt.Errorf("section %d: %w", s.id, err)
		}
	}
	globals := importedGlobals + definedGlobals
	flag, budget := globals, globals+1
	check := checkCode(flag, budget)
	// The parameters of each function the module defines, whose count the
	// index of its loop counter (a local added after its own) depends on.
	params := make([]uint32, len(funcTypes))
	for i, t := range funcTypes {
		if int(t) >= len(typeParams) {
			return nil, fmt.Errorf("%w: function %d has type %d, the module defines %d", ErrMalformed, i, t, len(typeParams))
		}
		params[i] = typeParams[t]
	}

	out := make([]byte, 0, len(module)+len(module)/8)
	out = append(out, header...)
	// The slow path grows memory 0 by nothing; a module without memory gets
	// an empty one.
	wroteMemory, wroteGlobal, wroteExport := hasMemory, false, false
	emit := func(id byte, payload []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(payload)))
		out = append(out, payload...)
	}
	// missing adds the global and export sections a module without them
	// needs, in their place before a section of the given order.
	missing := func(next int) {
		if !wroteMemory && next > order(secMemory) {
			emit(secMemory, []byte{1, 0, 0}) // one memory, no maximum, 0 pages
			wroteMemory = true
		}
		if !wroteGlobal && next > order(secGlobal) {
			emit(secGlobal, addGlobal(nil, 0))
			wroteGlobal = true
		}
		if !wroteExport && next > order(secExport) {
			emit(secExport, addExport(nil, 0, flag))
			wroteExport = true
		}
	}
	for _, s := range secs {
		if s.id != secCustom {
			missing(order(s.id))
		}
		switch s.id {
		case secCustom:
			name, err := customName(s.payload)
			if err != nil {
				return nil, err
			}
			if strings.HasPrefix(name, ".debug_") {
				continue
			}
			emit(s.id, s.payload)
		case secGlobal:
			emit(s.id, addGlobal(s.payload, definedGlobals))
			wroteGlobal = true
		case secExport:
			p, err := exportsWithFlag(s.payload, flag)
			if err != nil {
				return nil, fmt.Errorf("export section: %w", err)
			}
			emit(s.id, p)
			wroteExport = true
		case secCode:
			// Written in place, its size backfilled as a five-byte
			// LEB128 (a padded encoding is valid): the code is most of a
			// module, and a copy of it most of the rewrite's cost.
			out = append(out, s.id, 0x80, 0x80, 0x80, 0x80, 0x00)
			start := len(out)
			var err error
			if out, err = instrumentCode(out, s.payload, check, globals, flag, params, typeParams); err != nil {
				return nil, fmt.Errorf("code section: %w", err)
			}
			size := uint32(len(out) - start)
			for i := range 5 {
				out[start-5+i] = byte(size>>(7*i))&0x7f | 0x80
			}
			out[start-1] &^= 0x80
		default:
			emit(s.id, s.payload)
		}
	}
	missing(order(secCode) + 100)
	return out, nil
}

// plausibleCount refuses a section whose entry count cannot fit in its
// bytes (every entry takes at least one). wazero sizes its tables by the
// declared count before reading the entries, so a twelve-byte module
// declaring 800 million elements made it allocate 7 GiB.
func plausibleCount(id byte, payload []byte) error {
	switch id {
	case secCustom, secStart, 12: // custom, start, data count: no vector
		return nil
	}
	r := &reader{b: payload}
	n := r.u32()
	if r.err != nil {
		return fmt.Errorf("section %d: %w", id, r.err)
	}
	if uint64(n) > uint64(len(payload)-r.off) {
		return fmt.Errorf("%w: section %d declares %d entries in %d bytes", ErrMalformed, id, n, len(payload)-r.off)
	}
	return nil
}

// count reads a vector's length, which starts most sections.
func (r *reader) count() (uint32, error) {
	n := r.u32()
	return n, r.err
}

func customName(payload []byte) (string, error) {
	r := &reader{b: payload}
	name := r.bytes(r.u32())
	if r.err != nil {
		return "", fmt.Errorf("custom section name: %w", r.err)
	}
	return string(name), nil
}

func countImports(payload []byte) (globals, memories uint32, err error) {
	r := &reader{b: payload}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.bytes(r.u32()) // module
		r.bytes(r.u32()) // name
		switch kind := r.byte(); kind {
		case 0: // function: type index
			r.u32()
		case 1: // table: reference type, limits
			r.byte()
			limits(r)
		case 2: // memory
			limits(r)
			memories++
		case kindGlobal:
			r.byte()
			r.byte()
			globals++
		case 4: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			if r.err == nil {
				return 0, 0, fmt.Errorf("%w: import of kind %d", ErrMalformed, kind)
			}
		}
	}
	return globals, memories, r.err
}

func limits(r *reader) {
	flags := r.byte()
	r.skipLEB(10)
	if flags&1 != 0 {
		r.skipLEB(10)
	}
}

// addGlobal appends the flag (a mutable i32 that starts at 0) and the
// budget of checks before the slow path to a global section holding n
// globals.
func addGlobal(payload []byte, n uint32) []byte {
	var rest []byte
	if payload != nil {
		r := &reader{b: payload}
		r.u32()
		rest = payload[r.off:]
	}
	p := appendU32(nil, n+2)
	p = append(p, rest...)
	p = append(p, 0x7f, 0x01, opI32Const, 0x00, opEnd) // i32, mutable, i32.const 0
	p = append(p, 0x7f, 0x01, opI32Const)
	return append(appendU32(p, yieldEvery), opEnd)
}

func addExport(rest []byte, n, flag uint32) []byte {
	p := appendU32(nil, n+1)
	p = append(p, rest...)
	p = appendName(p, ExportName)
	p = append(p, kindGlobal)
	return appendU32(p, flag)
}

// exportsWithFlag adds the flag's export to an export section, refusing a
// module that already exports something under its name.
func exportsWithFlag(payload []byte, flag uint32) ([]byte, error) {
	r := &reader{b: payload}
	n := r.u32()
	start := r.off
	for i := uint32(0); i < n && r.err == nil; i++ {
		name := r.bytes(r.u32())
		r.byte()
		r.u32()
		if r.err == nil && string(name) == ExportName {
			return nil, fmt.Errorf("%w: the module already exports %q, the name the host reserves for its interrupt flag", ErrMalformed, ExportName)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return addExport(payload[start:r.off], n, flag), nil
}

// paramCounts reads a type section: how many parameters each type has.
func paramCounts(payload []byte) ([]uint32, error) {
	r := &reader{b: payload}
	n := r.u32()
	counts := make([]uint32, 0, min(n, uint32(len(payload))))
	for i := uint32(0); i < n && r.err == nil; i++ {
		if form := r.byte(); r.err == nil && form != 0x60 {
			return nil, fmt.Errorf("%w: type %d of form 0x%02x", ErrUnsupported, i, form)
		}
		// Parameter and result types, one byte each: a type of more
		// (a typed reference) would shift every index after it, and with
		// them the loop counter's, so it is refused.
		np := r.u32()
		for _, t := range r.bytes(np) {
			if !isValType(t) {
				return nil, fmt.Errorf("%w: type %d has a parameter of type 0x%02x", ErrUnsupported, i, t)
			}
		}
		for _, t := range r.bytes(r.u32()) {
			if !isValType(t) {
				return nil, fmt.Errorf("%w: type %d has a result of type 0x%02x", ErrUnsupported, i, t)
			}
		}
		counts = append(counts, np)
	}
	return counts, r.err
}

// typeIndices reads a function section: the type of each function defined.
func typeIndices(payload []byte) ([]uint32, error) {
	r := &reader{b: payload}
	n := r.u32()
	idx := make([]uint32, 0, min(n, uint32(len(payload))))
	for i := uint32(0); i < n && r.err == nil; i++ {
		idx = append(idx, r.u32())
	}
	return idx, r.err
}

func instrumentCode(out, payload, check []byte, globals, flag uint32, params, typeParams []uint32) ([]byte, error) {
	r := &reader{b: payload}
	n := r.u32()
	if n != uint32(len(params)) {
		return nil, fmt.Errorf("%w: %d function bodies for %d functions", ErrMalformed, n, len(params))
	}
	out = appendU32(out, n)
	var body []byte
	for i := uint32(0); i < n; i++ {
		b := r.bytes(r.u32())
		if r.err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, r.err)
		}
		var err error
		body, err = instrumentBody(body[:0], b, check, globals, flag, params[i], typeParams)
		if err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, err)
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if r.off != len(payload) {
		return nil, fmt.Errorf("%w: %d bytes after the last function body", ErrMalformed, len(payload)-r.off)
	}
	return out, nil
}
