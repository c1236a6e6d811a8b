package interrupt

import (
	"fmt"
	"slices"
)

// Opcodes the rewrite acts on or must parse specially.
const (
	opBlock              = 0x02
	opLoop               = 0x03
	opIf                 = 0x04
	opEnd                = 0x0b
	opCall               = 0x10
	opCallIndirect       = 0x11
	opReturnCall         = 0x12
	opReturnCallIndirect = 0x13
	opLocalGet           = 0x20
	opLocalTee           = 0x22
	opI32Add             = 0x6a
	opI32And             = 0x71
	opGlobalGet          = 0x23
	opGlobalSet          = 0x24
	opUnreachable        = 0x00
	opDrop               = 0x1a
	opMemoryGrow         = 0x40
	opI32Const           = 0x41
	opI32Eqz             = 0x45
	opI32Sub             = 0x6b
	opPrefixFC           = 0xfc
	opPrefixSIMD         = 0xfd
	opPrefixAtom         = 0xfe
	blockEmpty           = 0x40
)

// yieldEvery is how many checks pass between two visits of the slow path,
// which costs an exit from compiled code into Go (a few tens of ns).
const yieldEvery = 1 << 14

// checkCode is what runs at every function entry and loop header. The fast
// path counts down a budget; when it runs out, the slow path resets it,
// traps if the host has raised the flag, and grows memory by zero pages.
// That last step does nothing but make wazero leave compiled code for Go:
// Go cannot preempt a goroutine inside compiled wasm, so a guest that
// never left it would stall every stop-the-world (garbage collection
// included) until it returned, and with it the watchdog meant to stop it.
//
//	global.get budget; i32.eqz
//	if
//	  i32.const 0; memory.grow 0; drop
//	  global.get flag; if; unreachable; end
//	  i32.const yieldEvery; global.set budget
//	end
//	global.get budget; i32.const 1; i32.sub; global.set budget
func checkCode(flag, budget uint32) []byte {
	b := appendU32([]byte{opGlobalGet}, budget)
	b = append(b, opI32Eqz, opIf, blockEmpty)
	b = append(b, opI32Const, 0, opMemoryGrow, 0, opDrop)
	b = appendU32(append(b, opGlobalGet), flag)
	b = append(b, opIf, blockEmpty, opUnreachable, opEnd)
	b = appendU32(append(b, opI32Const), yieldEvery)
	b = appendU32(append(b, opGlobalSet), budget)
	b = append(b, opEnd)
	b = appendU32(append(b, opGlobalGet), budget)
	b = append(b, opI32Const, 1, opI32Sub)
	return appendU32(append(b, opGlobalSet), budget)
}

func isValType(b byte) bool {
	switch b {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f: // i32 i64 f32 f64 v128 funcref externref
		return true
	}
	return false
}

// loopCheckCode is what runs at a loop header: a counter in a local of the
// function's own (one register once compiled, where the budget is a load
// and a store each time) is counted up, and every yieldEvery iterations
// the slow path of checkCode runs. A loop that runs for ever passes its
// header for ever, so the counter alone stops it; recursion is the entry
// checks' work, which count the global budget.
//
//	local.get n; i32.const 1; i32.add; local.tee n
//	i32.const yieldEvery-1; i32.and; i32.eqz
//	if
//	  i32.const 0; memory.grow 0; drop
//	  global.get flag; if; unreachable; end
//	end
//
// (A br_if over the slow path instead of the if compiled to seven more
// instructions per iteration.)
func loopCheckCode(b []byte, flag, counter uint32) []byte {
	b = appendU32(append(b, opLocalGet), counter)
	b = append(b, opI32Const, 1, opI32Add)
	b = appendU32(append(b, opLocalTee), counter)
	b = appendI32(append(b, opI32Const), yieldEvery-1)
	b = append(b, opI32And, opI32Eqz, opIf, blockEmpty)
	b = append(b, opI32Const, 0, opMemoryGrow, 0, opDrop)
	b = appendU32(append(b, opGlobalGet), flag)
	return append(b, opIf, blockEmpty, opUnreachable, opEnd, opEnd)
}

// instrumentBody copies one function body (locals and expression) into out
// with checks inserted: checkCode after the locals when the function calls
// another (only calls can recurse; a function that calls nothing runs at
// most its own length between two loop headers), and loopCheckCode after
// every loop's block type, counting a local added after the function's
// own. When a loop comes first (loopComesFirst) and the function calls,
// that loop's header takes the entry check's place, with checkCode.
// globals is how many globals the original module has: a reference to any
// other index would, after the rewrite, reach the flag. params is how many
// parameters the function has.
func instrumentBody(out, body, check []byte, globals, flag, params uint32) ([]byte, error) {
	r := &reader{b: body}
	groups := r.u32()
	start := r.off
	locals := uint64(params)
	for n := groups; n > 0 && r.err == nil; n-- {
		locals += uint64(r.u32())
		if t := r.byte(); r.err == nil && !isValType(t) {
			return nil, fmt.Errorf("%w: local of type 0x%02x", ErrUnsupported, t)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if locals >= maxLocals {
		return nil, fmt.Errorf("%w: %d locals", ErrUnsupported, locals)
	}
	counter := uint32(locals)
	out = appendU32(out, groups+1)
	out = append(out, body[start:r.off]...)
	out = append(out, 1, 0x7f) // the counter: one i32
	entry := len(out)
	first := loopComesFirst(body[r.off:])
	firstLoop := -1 // where the first loop's check starts in out
	var loopCheck []byte
	calls := false
	last := r.off
	for r.off < len(body) && r.err == nil {
		at := r.off
		op := body[r.off]
		r.off++
		switch opClasses[op] {
		case opNone:
		case opOneIndex:
			r.u32()
			calls = calls || op == opCall || op == opReturnCall
		case opMemarg:
			memarg(r)
		case opIsLoop:
			blockType(r)
			out = append(out, body[last:r.off]...)
			if firstLoop < 0 {
				firstLoop = len(out)
				loopCheck = loopCheckCode(nil, flag, counter)
			}
			out = append(out, loopCheck...)
			last = r.off
		case opGlobal:
			if idx := r.u32(); r.err == nil && idx >= globals {
				return nil, fmt.Errorf("%w: global %d used at byte %d of a function, the module has %d", ErrMalformed, idx, at, globals)
			}
		default:
			calls = calls || op == opCallIndirect || op == opReturnCallIndirect
			if err := immediates(r, op, at); err != nil {
				return nil, err
			}
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	out = append(out, body[last:]...)
	switch {
	case !calls:
	case first && firstLoop >= 0:
		out = slices.Replace(out, firstLoop, firstLoop+len(loopCheck), check...)
	default:
		out = slices.Insert(out, entry, check...)
	}
	return out, nil
}

// maxLocals bounds the locals of a function, the counter included; wazero
// refuses more long before.
const maxLocals = 1 << 31

// loopComesFirst reports whether code reaches a loop header before it can
// branch, call or do anything but move values: then the check at the
// loop's header runs on every entry, and one at the entry would only
// double it. Every function the Go toolchain emits starts like that (a few
// stack-pointer moves, then the loop that lets it resume), so this halves
// the checks a Go guest pays per call.
func loopComesFirst(code []byte) bool {
	r := &reader{b: code}
	for r.off < len(code) && r.err == nil {
		switch op := r.byte(); op {
		case opLoop:
			return true
		case 0x01: // nop
		case opBlock:
			blockType(r)
		case 0x20, 0x21, 0x22, opGlobalGet, opGlobalSet: // local.get/set/tee
			r.u32()
		case 0x41: // i32.const
			r.skipLEB(5)
		case 0x42: // i64.const
			r.skipLEB(10)
		default:
			return false
		}
	}
	return false
}

// Opcode classes for the rewrite's inner loop, which sees every instruction
// of every function: most need no more than a table lookup.
const (
	opOther    = iota // immediates() knows, or refuses
	opNone            // no immediate
	opOneIndex        // one LEB128 index
	opMemarg          // a memory argument
	opIsLoop          // loop: a check goes after its block type
	opGlobal          // global.get, global.set: the index is checked
)

// opClasses is a constant table, computed once.
var opClasses = func() (t [256]uint8) {
	// unreachable nop else end return drop select ref.is_null
	for _, op := range []byte{0x00, 0x01, 0x05, opEnd, 0x0f, 0x1a, 0x1b, 0xd1} {
		t[op] = opNone
	}
	for op := 0x45; op <= 0xc4; op++ { // numeric, sign extension included
		t[op] = opNone
	}
	// br br_if call return_call ref.func local.get/set/tee table.get/set
	// memory.size memory.grow
	for _, op := range []byte{0x0c, 0x0d, 0x10, 0x12, 0xd2, 0x20, 0x21, 0x22, 0x25, 0x26, 0x3f, 0x40} {
		t[op] = opOneIndex
	}
	for op := 0x28; op <= 0x3e; op++ {
		t[op] = opMemarg
	}
	t[opLoop] = opIsLoop
	t[opGlobalGet], t[opGlobalSet] = opGlobal, opGlobal
	return t
}()

// blockType passes over a block type: empty, one value type, or a type index
// (a signed 33-bit LEB128).
func blockType(r *reader) {
	b := r.byte()
	if b == blockEmpty || isValType(b) || b&0x80 == 0 {
		return
	}
	r.skipLEB(4)
}

func memarg(r *reader) {
	// Bit 6 of the alignment says a memory index follows (multi-memory).
	if align := r.u32(); align&0x40 != 0 {
		r.u32()
	}
	r.skipLEB(10)
}

// immediates passes over the immediates of op, which has been read, for the
// opcodes opClasses leaves to it. Between them they know WebAssembly 2.0
// (with SIMD), threads and tail calls: everything wazero can compile.
// Anything else is refused rather than guessed at.
func immediates(r *reader, op byte, at int) error {
	switch {
	case op == opBlock || op == opIf:
		blockType(r)
	case op == 0x0e: // br_table
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x11 || op == 0x13: // call_indirect return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select with types
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			if t := r.byte(); r.err == nil && !isValType(t) {
				return fmt.Errorf("%w: select of type 0x%02x at byte %d", ErrUnsupported, t, at)
			}
		}
	case op == 0x41:
		r.skipLEB(5)
	case op == 0x42:
		r.skipLEB(10)
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0: // ref.null
		r.byte()
	case op == opPrefixFC:
		return prefixFC(r, at)
	case op == opPrefixSIMD:
		return prefixSIMD(r, at)
	case op == opPrefixAtom:
		return prefixAtomic(r, at)
	default:
		return fmt.Errorf("%w: opcode 0x%02x at byte %d of a function", ErrUnsupported, op, at)
	}
	return r.err
}

func prefixFC(r *reader, at int) error {
	switch sub := r.u32(); {
	case r.err != nil:
	case sub <= 7: // saturating truncations
	case sub == 8 || sub == 12 || sub == 10 || sub == 14: // memory.init table.init memory.copy table.copy
		r.u32()
		r.u32()
	case sub == 9 || sub == 11 || sub == 13 || sub == 15 || sub == 16 || sub == 17:
		r.u32() // data.drop memory.fill elem.drop table.grow table.size table.fill
	default:
		return fmt.Errorf("%w: opcode 0xfc %d at byte %d of a function", ErrUnsupported, sub, at)
	}
	return r.err
}

func prefixSIMD(r *reader, at int) error {
	switch sub := r.u32(); {
	case r.err != nil:
	case sub <= 11 || sub == 92 || sub == 93: // loads, store, load_zero
		memarg(r)
	case sub == 12 || sub == 13: // v128.const i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract/replace lane
		r.byte()
	case sub >= 84 && sub <= 91: // load/store lane
		memarg(r)
		r.byte()
	case sub <= 255:
		// every other SIMD instruction has no immediate
	default:
		return fmt.Errorf("%w: opcode 0xfd %d at byte %d of a function", ErrUnsupported, sub, at)
	}
	return r.err
}

func prefixAtomic(r *reader, at int) error {
	switch sub := r.u32(); {
	case r.err != nil:
	case sub == 3: // atomic.fence
		r.byte()
	case sub <= 2 || (sub >= 0x10 && sub <= 0x4e):
		memarg(r)
	default:
		return fmt.Errorf("%w: opcode 0xfe %d at byte %d of a function", ErrUnsupported, sub, at)
	}
	return r.err
}
