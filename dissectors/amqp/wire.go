package amqp

import (
	"encoding/base64"
	"encoding/binary"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"math"
	"unicode/utf8"
)

// Bounds on decoded field tables.
const (
	maxDepth   = 8    // nested tables and arrays
	maxEntries = 256  // entries kept per table or array
	maxText    = 1024 // bytes kept of one string value
)

// reader walks a frame payload. Errors are sticky: after a short read every
// method returns zero values and ok() is false.
type reader struct {
	b   []byte
	pos int
	bad bool
	// bits holds the octet that packs consecutive bit arguments.
	bits, nbits byte
}

func (r *reader) ok() bool { return !r.bad }

func (r *reader) take(n int) []byte {
	r.nbits = 0
	if r.bad || n < 0 || len(r.b)-r.pos < n {
		r.bad = true
		return nil
	}
	r.pos += n
	return r.b[r.pos-n : r.pos]
}

func (r *reader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// bit reads the next packed bit argument; up to eight share one octet.
func (r *reader) bit() bool {
	if r.nbits == 0 || r.nbits == 8 {
		v := r.u8()
		r.bits, r.nbits = v, 0
	}
	v := r.bits>>r.nbits&1 == 1
	r.nbits++
	return v
}

func (r *reader) shortstr() string {
	n := int(r.u8())
	return text(r.take(n))
}

func (r *reader) longstr() []byte {
	n := r.u32()
	if n > math.MaxInt32 {
		r.bad = true
		return nil
	}
	return r.take(int(n))
}

// text renders bytes for display: valid UTF-8 as is (bounded), anything
// else as base64.
func text(b []byte) string {
	if len(b) > maxText {
		b = b[:maxText]
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// table decodes a field table into an object (a name given twice keeps
// its last value, as in a map).
func (r *reader) table(depth int) sdk.Object {
	raw := r.longstr()
	if !r.ok() {
		return nil
	}
	t := &reader{b: raw}
	out := sdk.Object{}
	for t.pos < len(raw) && t.ok() {
		name := t.shortstr()
		v := t.value(depth + 1)
		if t.ok() && len(out) < maxEntries {
			out = append(out, sdk.Member{Key: name, Value: v})
		}
	}
	if !t.ok() {
		out = append(out, sdk.Member{Key: "_malformed", Value: true})
	}
	return out
}

func (r *reader) array(depth int) []any {
	raw := r.longstr()
	if !r.ok() {
		return nil
	}
	t := &reader{b: raw}
	out := []any{}
	for t.pos < len(raw) && t.ok() {
		v := t.value(depth + 1)
		if t.ok() && len(out) < maxEntries {
			out = append(out, v)
		}
	}
	return out
}

// value decodes one typed field value (RabbitMQ's type letters, which
// the 0-9-1 errata adopted).
func (r *reader) value(depth int) any {
	if depth > maxDepth {
		r.bad = true
		return nil
	}
	switch r.u8() {
	case 't':
		return r.u8() != 0
	case 'b':
		return int8(r.u8())
	case 'B':
		return r.u8()
	case 's':
		return int16(r.u16())
	case 'u':
		return r.u16()
	case 'I':
		return int32(r.u32())
	case 'i':
		return r.u32()
	case 'l':
		return int64(r.u64())
	case 'L':
		return r.u64()
	case 'f':
		return finite(float64(math.Float32frombits(r.u32())))
	case 'd':
		return finite(math.Float64frombits(r.u64()))
	case 'D':
		scale := r.u8()
		v := int32(r.u32())
		return float64(v) / math.Pow10(int(scale))
	case 'S', 'x':
		return text(r.longstr())
	case 'A':
		return r.array(depth)
	case 'T':
		return r.u64()
	case 'F':
		return r.table(depth)
	case 'V':
		return nil
	}
	r.bad = true
	return nil
}

// finite keeps values encoding/json can write.
func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}
