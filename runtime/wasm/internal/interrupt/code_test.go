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
// function's own, and the first loop taking the entry check's place only
// when it comes first and the function calls.
func TestCheckPlacement(t *testing.T) {
	const flag, globals, params = 5, 5, 2
	check := checkCode(flag, flag+1)
	// The counter is local 2 + 3 = 5: two parameters, three declared i32s.
	loop := loopCheckCode(nil, flag, params+3)
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
			cat(withCounter, []byte{0x41, 0x01, 0x1a, 0x03, 0x40}, loop, []byte{0x0c, 0x00, 0x0b, 0x0b})},
		{"a call", []byte{0x10, 0x00, 0x0b},
			cat(withCounter, check, []byte{0x10, 0x00, 0x0b})},
		{"an indirect call", []byte{0x41, 0x00, 0x11, 0x00, 0x00, 0x0b},
			cat(withCounter, check, []byte{0x41, 0x00, 0x11, 0x00, 0x00, 0x0b})},
		{"a call inside a loop that comes first", []byte{0x03, 0x40, 0x10, 0x00, 0x0b, 0x0b},
			cat(withCounter, []byte{0x03, 0x40}, check, []byte{0x10, 0x00, 0x0b, 0x0b})},
		{"a loop that comes first, no call", []byte{0x03, 0x40, 0x0b, 0x0b},
			cat(withCounter, []byte{0x03, 0x40}, loop, []byte{0x0b, 0x0b})},
	} {
		got, err := instrumentBody(nil, cat(locals, tc.code), check, globals, flag, params)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%s:\n got % x\nwant % x", tc.name, got, tc.want)
		}
	}
}
