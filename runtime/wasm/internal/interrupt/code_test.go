package interrupt

import (
	"bytes"
	"slices"
	"testing"
)

func TestLoopComesFirst(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
		want bool
	}{
		// global.get 0; local.set 1; block; loop: how Go starts a function.
		{"Go's prologue", []byte{0x23, 0x00, 0x21, 0x01, 0x02, 0x40, 0x03, 0x40, 0x0b, 0x0b, 0x0b}, true},
		{"constants and a typed block", []byte{0x41, 0xff, 0x7f, 0x42, 0x80, 0x80, 0x01, 0x22, 0x00, 0x02, 0x7f, 0x01, 0x03, 0x40}, true},
		{"a call before the loop", []byte{0x10, 0x00, 0x03, 0x40, 0x0b}, false},
		{"a branch before the loop", []byte{0x02, 0x40, 0x0c, 0x00, 0x0b, 0x03, 0x40, 0x0b}, false},
		{"an if before the loop", []byte{0x41, 0x01, 0x04, 0x40, 0x03, 0x40, 0x0b, 0x0b}, false},
		{"no loop", []byte{0x41, 0x01, 0x1a, 0x0b}, false},
		{"cut short", []byte{0x41}, false},
		{"empty", nil, false},
	} {
		if got := loopComesFirst(tc.code); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Where the checks go: an entry check only in a function that calls (the
// only way to recurse), a loop counter in a local added after the
// function's own, counted at every loop header, and the first loop taking
// the entry check's place only when it comes first and the function calls.
// A loop without parameters is wrapped so that its slow path runs outside
// it, and a branch out of it goes three labels further; a loop with
// parameters keeps the check inline.
func TestCheckPlacement(t *testing.T) {
	const flag, globals, params = 5, 5, 2
	budget := uint32(flag + 1)
	check := checkCode(flag, budget)
	// The counter is local 2 + 3 = 5: two parameters, three declared i32s.
	loop := loopCheckCode(nil, flag, params+3)
	counted := wrappedCounterCheck(params + 3)
	budgeted := wrappedBudgetCheck(budget)
	head := wrapLoopHead(nil, []byte{0x40})
	tail := wrapLoopTail(nil, slowPathCode(flag, budget))
	typeParams := []uint32{0, 1}                        // type 1 takes a parameter
	locals := []byte{0x01, 0x03, 0x7f}                  // one group: three i32
	withCounter := []byte{0x02, 0x03, 0x7f, 0x01, 0x7f} // and the counter
	cat := func(parts ...[]byte) []byte { return slices.Concat(parts...) }
	for _, tc := range []struct {
		name       string
		code, want []byte
	}{
		{"leaf without a loop", []byte{0x41, 0x01, 0x1a, 0x0b},
			cat(withCounter, []byte{0x41, 0x01, 0x1a, 0x0b})},
		{"leaf with a loop", []byte{0x41, 0x01, 0x1a, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b},
			cat(withCounter, []byte{0x41, 0x01, 0x1a}, head, []byte{0x03, 0x40}, counted, []byte{0x0c, 0x00, 0x0b}, tail, []byte{0x0b})},
		{"a call", []byte{0x10, 0x00, 0x0b},
			cat(withCounter, check, []byte{0x10, 0x00, 0x0b})},
		{"an indirect call", []byte{0x41, 0x00, 0x11, 0x00, 0x00, 0x0b},
			cat(withCounter, check, []byte{0x41, 0x00, 0x11, 0x00, 0x00, 0x0b})},
		{"a call inside a loop that comes first", []byte{0x03, 0x40, 0x10, 0x00, 0x0b, 0x0b},
			cat(withCounter, head, []byte{0x03, 0x40}, budgeted, []byte{0x10, 0x00, 0x0b}, tail, []byte{0x0b})},
		{"a loop that comes first, no call", []byte{0x03, 0x40, 0x0b, 0x0b},
			cat(withCounter, head, []byte{0x03, 0x40}, counted, []byte{0x0b}, tail, []byte{0x0b})},
		{"branches out of a loop go three labels further", []byte{0x02, 0x40, 0x03, 0x40, 0x0d, 0x01, 0x0c, 0x02, 0x0b, 0x0b, 0x0b},
			cat(withCounter, []byte{0x02, 0x40}, head, []byte{0x03, 0x40}, counted, []byte{0x0d, 0x04, 0x0c, 0x05, 0x0b}, tail, []byte{0x0b, 0x0b})},
		{"br_table: each target on its own", []byte{0x02, 0x40, 0x03, 0x40, 0x41, 0x00, 0x0e, 0x02, 0x00, 0x01, 0x01, 0x0b, 0x0b, 0x0b},
			cat(withCounter, []byte{0x02, 0x40}, head, []byte{0x03, 0x40}, counted, []byte{0x41, 0x00, 0x0e, 0x02, 0x00, 0x04, 0x04, 0x0b}, tail, []byte{0x0b, 0x0b})},
		{"a block inside a loop is not left", []byte{0x03, 0x40, 0x02, 0x40, 0x0c, 0x00, 0x0c, 0x01, 0x0b, 0x0b, 0x0b},
			cat(withCounter, head, []byte{0x03, 0x40}, counted, []byte{0x02, 0x40, 0x0c, 0x00, 0x0c, 0x01, 0x0b, 0x0b}, tail, []byte{0x0b})},
		{"a loop with parameters keeps the check inline", []byte{0x41, 0x00, 0x03, 0x01, 0x1a, 0x0b, 0x0b},
			cat(withCounter, []byte{0x41, 0x00, 0x03, 0x01}, loop, []byte{0x1a, 0x0b, 0x0b})},
		{"a typed loop keeps its type outside", []byte{0x03, 0x7f, 0x41, 0x00, 0x0b, 0x1a, 0x0b},
			cat(withCounter, wrapLoopHead(nil, []byte{0x7f}), []byte{0x03, 0x7f}, counted, []byte{0x41, 0x00, 0x0b}, tail, []byte{0x1a, 0x0b})},
	} {
		got, err := instrumentBody(nil, cat(locals, tc.code), check, globals, flag, params, typeParams)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%s:\n got % x\nwant % x", tc.name, got, tc.want)
		}
	}
}

// A branch to a label that is not open is refused, not passed on with a
// depth the rewrite could not compute.
func TestBranchOutOfRange(t *testing.T) {
	for _, code := range [][]byte{
		{0x01, 0x03, 0x7f, 0x03, 0x40, 0x0c, 0x02, 0x0b, 0x0b},
		{0x01, 0x03, 0x7f, 0x41, 0x00, 0x0e, 0x01, 0x00, 0x05, 0x0b},
	} {
		if _, err := instrumentBody(nil, code, nil, 0, 0, 0, nil); err == nil {
			t.Errorf("% x: no error", code)
		}
	}
}
