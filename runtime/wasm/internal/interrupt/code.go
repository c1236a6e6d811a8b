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
	opBr                 = 0x0c
	opBrIf               = 0x0d
	opBrTable            = 0x0e
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
//	block
//	  loop
//	    global.get budget; br_if 1
//	    i32.const 0; memory.grow 0; drop
//	    global.get flag; if; unreachable; end
//	    i32.const yieldEvery; global.set budget
//	    br 0
//	  end
//	end
//	global.get budget; i32.const 1; i32.sub; global.set budget
//
// The slow path is a loop of its own that the fast path branches over
// rather than an if it enters: wazero then keeps the function's
// parameters in registers on the fast path, where after an if holding a
// call it reloaded them from memory (RATIONALE.md, "Loop checks out of
// the loop").
func checkCode(flag, budget uint32) []byte {
	b := []byte{opBlock, blockEmpty, opLoop, blockEmpty}
	b = appendU32(append(b, opGlobalGet), budget)
	b = append(b, opBrIf, 1)
	b = append(b, opI32Const, 0, opMemoryGrow, 0, opDrop)
	b = appendU32(append(b, opGlobalGet), flag)
	b = append(b, opIf, blockEmpty, opUnreachable, opEnd)
	b = appendU32(append(b, opI32Const), yieldEvery)
	b = appendU32(append(b, opGlobalSet), budget)
	b = append(b, opBr, 0, opEnd, opEnd)
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

// loopCheckCode is what runs at a loop header that could not be moved
// into the shape of wrapLoop (a loop with parameters, whose values a
// second entry would not have): a counter in a local of the function's
// own (one register once compiled, where the budget is a load and a store
// each time) is counted up, and every yieldEvery iterations the slow path
// of checkCode runs. A loop that runs for ever passes its header for ever,
// so the counter alone stops it; recursion is the entry checks' work,
// which count the global budget.
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

// The checks of a loop without parameters leave the loop for their slow
// path instead of running it inside: wazero's register allocator keeps
// every value that lives across a call in memory wherever the call sits in
// the loop, so the slow path's memory.grow (a call into Go) inside the
// loop made every iteration store and reload the loop's values and the
// memory's base. Out of the loop, a byte loop with a check runs the
// check's three instructions and nothing else extra (RATIONALE.md, "Loop
// checks out of the loop"). A loop `loop bt ... end` becomes
//
//	block bt                    ;; exit: the loop's results leave by it
//	  loop                      ;; again: the slow path comes back here
//	    block                   ;; slow
//	      loop bt
//	        <check>: br_if 1 (slow) when due
//	        ...                 ;; branches out of the loop: depth + 3
//	      end
//	      br 2 (exit)
//	    end
//	    <slowPath>
//	    br 0 (again)
//	  end
//	  unreachable
//	end
//
// wrapDepth is how many labels the wrapping adds around the loop's own.
const wrapDepth = 3

// wrapLoopHead is what goes before a wrapped loop's own loop instruction;
// bt is its block type, as in the original.
func wrapLoopHead(b, bt []byte) []byte {
	b = append(append(b, opBlock), bt...)
	return append(b, opLoop, blockEmpty, opBlock, blockEmpty)
}

// wrapLoopTail is what goes after a wrapped loop's end.
func wrapLoopTail(b, slow []byte) []byte {
	b = append(b, opBr, 2, opEnd)
	b = append(b, slow...)
	return append(b, opBr, 0, opEnd, opUnreachable, opEnd)
}

// slowPathCode is a wrapped loop's slow path: checkCode's, outside the
// loop.
//
//	i32.const 0; memory.grow 0; drop
//	global.get flag; if; unreachable; end
//	i32.const yieldEvery; global.set budget
//
// Resetting the budget here too lets a loop whose check counts the budget
// (the first loop of a function that calls) share it; for the others it
// only defers the next entry check's slow path, which this one has just
// done the work of.
func slowPathCode(flag, budget uint32) []byte {
	b := []byte{opI32Const, 0, opMemoryGrow, 0, opDrop}
	b = appendU32(append(b, opGlobalGet), flag)
	b = append(b, opIf, blockEmpty, opUnreachable, opEnd)
	b = appendU32(append(b, opI32Const), yieldEvery)
	return appendU32(append(b, opGlobalSet), budget)
}

// wrappedCounterCheck is the check at the header of a wrapped loop: the
// loop's counter counted up, and every yieldEvery iterations a branch to
// the slow path.
//
//	local.get n; i32.const 1; i32.add; local.tee n
//	i32.const yieldEvery-1; i32.and; i32.eqz; br_if 1
func wrappedCounterCheck(counter uint32) []byte {
	b := appendU32([]byte{opLocalGet}, counter)
	b = append(b, opI32Const, 1, opI32Add)
	b = appendU32(append(b, opLocalTee), counter)
	b = appendI32(append(b, opI32Const), yieldEvery-1)
	return append(b, opI32And, opI32Eqz, opBrIf, 1)
}

// wrappedBudgetCheck is the check at the header of a wrapped loop that
// takes the entry check's place: the global budget counted down, the slow
// path when it is spent.
//
//	global.get budget; i32.eqz; br_if 1
//	global.get budget; i32.const 1; i32.sub; global.set budget
func wrappedBudgetCheck(budget uint32) []byte {
	b := appendU32([]byte{opGlobalGet}, budget)
	b = append(b, opI32Eqz, opBrIf, 1)
	b = appendU32(append(b, opGlobalGet), budget)
	b = append(b, opI32Const, 1, opI32Sub)
	return appendU32(append(b, opGlobalSet), budget)
}

// frame is one entry of the control stack while a body is rewritten:
// wrapped counts the wrapped loops from the function's frame up to this
// one, inclusive, so that a branch's new depth is a subtraction.
type frame struct {
	wrapped int
	isWrap  bool
}

// instrumentBody copies one function body (locals and expression) into out
// with checks inserted: checkCode after the locals when the function calls
// another (only calls can recurse; a function that calls nothing runs at
// most its own length between two loop headers), and a check at every
// loop's header, counting a local added after the function's own. Loops
// without parameters are wrapped so that their slow path runs outside them
// (wrapLoopHead), and every branch from inside one to a label outside it
// is deepened by wrapDepth; a loop with parameters keeps loopCheckCode
// inline. When a loop comes first (loopComesFirst) and the function calls,
// that loop's check counts the global budget and takes the entry check's
// place. globals is how many globals the original module has: a reference
// to any other index would, after the rewrite, reach the flag. params is
// how many parameters the function has; typeParams how many each type of
// the module has (a block type may name one).
func instrumentBody(out, body, check []byte, globals, flag, params uint32, typeParams []uint32) ([]byte, error) {
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
	budget := flag + 1
	out = appendU32(out, groups+1)
	out = append(out, body[start:r.off]...)
	out = append(out, 1, 0x7f) // the counter: one i32
	entry := len(out)
	first := loopComesFirst(body[r.off:])
	// Where the first loop's check starts in out, how long it is, and what
	// takes its place when it becomes the entry check.
	firstLoop, firstLen := -1, 0
	var firstBudget []byte
	var counterCheck, slow []byte
	stack := []frame{{}} // the function's own block
	calls := false
	last := r.off
	for r.off < len(body) && r.err == nil {
		at := r.off
		op := body[r.off]
		r.off++
		switch opClasses[op] {
		case opNone:
			switch op {
			case opEnd:
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if top.isWrap {
					if slow == nil {
						slow = slowPathCode(flag, budget)
					}
					out = append(out, body[last:r.off]...)
					out = wrapLoopTail(out, slow)
					last = r.off
				}
				if len(stack) == 0 && r.off != len(body) {
					return nil, fmt.Errorf("%w: %d bytes after the end of a function body", ErrMalformed, len(body)-r.off)
				}
			}
		case opOneIndex:
			idx := r.u32()
			calls = calls || op == opCall || op == opReturnCall
			if op == opBr || op == opBrIf {
				d, err := branchDepth(stack, idx, at)
				if err != nil {
					return nil, err
				}
				if d != idx {
					out = append(out, body[last:at+1]...)
					out = appendU32(out, d)
					last = r.off
				}
			}
		case opMemarg:
			memarg(r)
		case opIsLoop:
			btStart := r.off
			blockType(r)
			if r.err != nil {
				break
			}
			bt := body[btStart:r.off]
			wrap := !blockHasParams(bt, typeParams)
			if wrap {
				out = append(out, body[last:at]...)
				out = wrapLoopHead(out, bt)
				out = append(out, body[at:r.off]...)
				if counterCheck == nil {
					counterCheck = wrappedCounterCheck(counter)
				}
				if firstLoop < 0 {
					firstLoop, firstLen, firstBudget = len(out), len(counterCheck), wrappedBudgetCheck(budget)
				}
				out = append(out, counterCheck...)
			} else {
				out = append(out, body[last:r.off]...)
				inline := loopCheckCode(nil, flag, counter)
				if firstLoop < 0 {
					firstLoop, firstLen, firstBudget = len(out), len(inline), check
				}
				out = append(out, inline...)
			}
			last = r.off
			stack = pushFrame(stack, wrap)
		case opGlobal:
			if idx := r.u32(); r.err == nil && idx >= globals {
				return nil, fmt.Errorf("%w: global %d used at byte %d of a function, the module has %d", ErrMalformed, idx, at, globals)
			}
		default:
			calls = calls || op == opCallIndirect || op == opReturnCallIndirect
			switch op {
			case opBlock, opIf:
				stack = pushFrame(stack, false)
			case opBrTable:
				// Rewritten whole: every target may change depth.
				n := r.u32()
				if r.err != nil {
					break
				}
				if uint64(n) > uint64(len(body)-r.off) {
					return nil, fmt.Errorf("%w: br_table of %d targets in %d bytes", ErrMalformed, n, len(body)-r.off)
				}
				out = append(out, body[last:r.off]...)
				for i := uint32(0); i <= n && r.err == nil; i++ {
					d, err := branchDepth(stack, r.u32(), at)
					if err != nil {
						return nil, err
					}
					out = appendU32(out, d)
				}
				last = r.off
				continue
			}
			if err := immediates(r, op, at); err != nil {
				return nil, err
			}
		}
		if len(stack) == 0 {
			break
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("%w: a function body ends inside %d blocks", ErrMalformed, len(stack))
	}
	out = append(out, body[last:]...)
	switch {
	case !calls:
	case first && firstLoop >= 0:
		out = slices.Replace(out, firstLoop, firstLoop+firstLen, firstBudget...)
	default:
		out = slices.Insert(out, entry, check...)
	}
	return out, nil
}

func pushFrame(stack []frame, wrap bool) []frame {
	f := frame{wrapped: stack[len(stack)-1].wrapped, isWrap: wrap}
	if wrap {
		f.wrapped++
	}
	return append(stack, f)
}

// branchDepth is the depth a branch of depth d (from inside the top of
// stack) takes after the rewrite: wrapDepth more for every wrapped loop it
// leaves.
func branchDepth(stack []frame, d uint32, at int) (uint32, error) {
	if uint64(d) >= uint64(len(stack)) {
		return 0, fmt.Errorf("%w: a branch at byte %d to label %d, %d are open", ErrMalformed, at, d, len(stack))
	}
	target := stack[len(stack)-1-int(d)]
	left := stack[len(stack)-1].wrapped - target.wrapped
	nd := uint64(d) + wrapDepth*uint64(left)
	if nd >= 1<<32 {
		return 0, fmt.Errorf("%w: a branch at byte %d nested too deep", ErrUnsupported, at)
	}
	return uint32(nd), nil
}

// blockHasParams reports whether a block type (as in the code) takes
// parameters: only a type index can, and an index out of range is left to
// wazero's validation (treated as taking some, so nothing is wrapped).
func blockHasParams(bt []byte, typeParams []uint32) bool {
	if len(bt) == 1 && (bt[0] == blockEmpty || isValType(bt[0])) {
		return false
	}
	r := &reader{b: bt}
	idx := r.s33()
	if r.err != nil || idx < 0 || idx >= int64(len(typeParams)) {
		return true
	}
	return typeParams[idx] > 0
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
