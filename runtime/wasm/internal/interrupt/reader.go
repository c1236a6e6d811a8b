package interrupt

import "fmt"

// reader walks a module's bytes. The first error sticks, so a parse can run
// to its next natural check instead of testing every read.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) failf(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (r *reader) done() bool { return r.err != nil || r.off >= len(r.b) }

// byte is small enough to inline: the rewrite reads every byte of every
// function body through it.
func (r *reader) byte() byte {
	if r.off < len(r.b) {
		c := r.b[r.off]
		r.off++
		return c
	}
	return r.eof()
}

func (r *reader) eof() byte {
	r.failf("unexpected end at byte %d", r.off)
	return 0
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(r.b)-r.off) {
		r.failf("%d bytes wanted at byte %d, %d left", n, r.off, len(r.b)-r.off)
		return nil
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

// u32 reads an unsigned LEB128 of at most 5 bytes; most are one byte.
func (r *reader) u32() uint32 {
	if r.off < len(r.b) && r.b[r.off] < 0x80 {
		r.off++
		return uint32(r.b[r.off-1])
	}
	return r.u32Long()
}

func (r *reader) u32Long() uint32 {
	var v uint64
	for i := 0; i < 5; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if v > 1<<32-1 {
				r.failf("LEB128 at byte %d exceeds 32 bits", r.off-i-1)
				return 0
			}
			return uint32(v)
		}
	}
	r.failf("LEB128 at byte %d is longer than 5 bytes", r.off-5)
	return 0
}

// skipLEB passes over a (signed or unsigned) LEB128 of at most max bytes
// whose value the rewrite does not need.
func (r *reader) skipLEB(max int) {
	if r.off < len(r.b) && r.b[r.off] < 0x80 {
		r.off++
		return
	}
	for i := 0; i < max; i++ {
		if r.byte()&0x80 == 0 || r.err != nil {
			return
		}
	}
	r.failf("LEB128 at byte %d is longer than %d bytes", r.off-max, max)
}

// appendU32 appends v as an unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendI32 appends v as a signed LEB128, what i32.const takes.
func appendI32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// appendName appends a WebAssembly name (length-prefixed UTF-8).
func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}

// s33 reads a signed LEB128 of at most 33 bits, a block type's type index.
func (r *reader) s33() int64 {
	var v int64
	for i := 0; i < 5; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if shift := 7 * (i + 1); shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
	r.failf("LEB128 at byte %d is longer than 5 bytes", r.off-5)
	return 0
}
