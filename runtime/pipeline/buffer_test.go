package pipeline

import (
	"bytes"
	"testing"
)

// TestStreamBufLend: bytes lent to an empty buffer are offered where they
// are; what is left of them after consume is the buffer's own copy once
// settled, so the lender may reuse its memory; bytes arriving while others
// are pending are copied as before. Timestamps follow the bytes.
func TestStreamBufLend(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pending  string // appended before the lend
		lent     string
		consume  int
		want     string
		wantLent bool // the bytes offered are the lender's own memory
		first    int64
	}{
		{"all consumed", "", "GET / HTTP/1.1\r\n", 16, "", true, 0},
		{"part left", "", "0123456789", 4, "456789", true, 2},
		{"nothing consumed", "", "0123456789", 0, "0123456789", true, 2},
		{"behind pending bytes", "ab", "cdef", 3, "def", false, 2},
		{"pending consumed, then lent ones", "ab", "cdef", 2, "cdef", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b streamBuf
			if tc.pending != "" {
				b.append([]byte(tc.pending), 1)
			}
			p := []byte(tc.lent)
			b.lend(p, 2)
			if got := b.bytes(); string(got) != tc.pending+tc.lent {
				t.Fatalf("offered %q, want %q", got, tc.pending+tc.lent)
			}
			if lent := &b.bytes()[len(b.bytes())-1] == &p[len(p)-1]; lent != tc.wantLent {
				t.Fatalf("offered bytes are the lender's: %v, want %v", lent, tc.wantLent)
			}
			b.consume(tc.consume)
			b.settle()
			// The lender reuses its memory.
			copy(p, bytes.Repeat([]byte{'X'}, len(p)))
			if got := string(b.bytes()); got != tc.want {
				t.Fatalf("after consume(%d) and settle: %q, want %q", tc.consume, got, tc.want)
			}
			if b.len() > 0 && b.first() != tc.first {
				t.Fatalf("first stamp %d, want %d", b.first(), tc.first)
			}
			// Appending after settle keeps the order.
			b.append([]byte("!"), 3)
			if got := string(b.bytes()); got != tc.want+"!" || b.last() != 3 {
				t.Fatalf("after append: %q (last %d), want %q (3)", got, b.last(), tc.want+"!")
			}
		})
	}
}

// TestStreamBufLendReset: a reset while lent drops the lent bytes and
// gives the buffer its own storage back.
func TestStreamBufLendReset(t *testing.T) {
	var b streamBuf
	b.append([]byte("owned"), 1)
	b.consume(5)
	p := []byte("lent")
	b.lend(p, 2)
	b.reset()
	b.settle()
	b.append([]byte("new"), 3)
	if got := string(b.bytes()); got != "new" || string(p) != "lent" {
		t.Fatalf("after reset: buffer %q, lender's %q; want new, lent", got, p)
	}
}
