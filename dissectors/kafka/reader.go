package kafka

import "encoding/binary"

// Bounds on what a single message may declare, so that a hostile length
// cannot make the parser loop or allocate without limit.
const (
	maxArray   = 100000 // elements in one array
	maxStrings = 64     // topic names kept per record
	maxString  = 1024   // bytes of one kept string
)

// reader walks a Kafka message. An error is sticky: after the first short
// read every method returns zero values and ok() is false, so parsers can
// read a whole structure and check once.
type reader struct {
	b    []byte
	pos  int
	bad  bool
	flex bool // compact encodings and tagged fields (KIP-482)
}

func (r *reader) ok() bool { return !r.bad }

func (r *reader) need(n int) bool {
	if r.bad || n < 0 || len(r.b)-r.pos < n {
		r.bad = true
		return false
	}
	return true
}

func (r *reader) skip(n int) {
	if r.need(n) {
		r.pos += n
	}
}

func (r *reader) i8() int8 {
	if !r.need(1) {
		return 0
	}
	r.pos++
	return int8(r.b[r.pos-1])
}

func (r *reader) i16() int16 {
	if !r.need(2) {
		return 0
	}
	r.pos += 2
	return int16(binary.BigEndian.Uint16(r.b[r.pos-2:]))
}

func (r *reader) i32() int32 {
	if !r.need(4) {
		return 0
	}
	r.pos += 4
	return int32(binary.BigEndian.Uint32(r.b[r.pos-4:]))
}

func (r *reader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.pos:])
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.pos += n
	return v
}

// length reads a string/bytes/array length: int16 or int32 classic, or the
// compact unsigned varint that stores length+1. -1 means null.
func (r *reader) length(classic32 bool) int {
	if r.flex {
		v := r.uvarint()
		if v > 1<<30 {
			r.bad = true
			return 0
		}
		return int(v) - 1
	}
	if classic32 {
		return int(r.i32())
	}
	return int(r.i16())
}

// str reads a (nullable) string; null reads as "".
func (r *reader) str() string {
	n := r.length(false)
	if n < -1 {
		r.bad = true
	}
	if n <= 0 || !r.need(n) {
		return ""
	}
	s := r.b[r.pos : r.pos+n]
	r.pos += n
	if len(s) > maxString {
		s = s[:maxString]
	}
	return string(s)
}

// skipStr skips a string without copying it.
func (r *reader) skipStr() {
	n := r.length(false)
	if n < -1 {
		r.bad = true
	}
	if n > 0 {
		r.skip(n)
	}
}

// bytes skips a (nullable) byte field such as a record batch.
func (r *reader) skipBytes() {
	n := r.length(true)
	if n < -1 {
		r.bad = true
	}
	if n > 0 {
		r.skip(n)
	}
}

// array reads an array's element count; null reads as 0.
func (r *reader) array() int {
	n := r.length(true)
	if n < -1 || n > maxArray {
		r.bad = true
		return 0
	}
	return max(n, 0)
}

// tags skips a tagged-field section; classic encodings have none.
func (r *reader) tags() {
	if !r.flex {
		return
	}
	n := r.uvarint()
	if n > maxArray {
		r.bad = true
		return
	}
	for i := uint64(0); i < n && !r.bad; i++ {
		r.uvarint()
		size := r.uvarint()
		if size > 1<<30 {
			r.bad = true
			return
		}
		r.skip(int(size))
	}
}
