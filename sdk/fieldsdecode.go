package sdk

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// decodeFields parses a record's Fields JSON into what json.Unmarshal would
// make of it in a map[string]any. The host decodes the fields of every
// record a guest emits, and encoding/json's reflection was most of that
// cost; this parser takes the plain subset dissectors write (no escapes in
// strings, valid UTF-8, nesting below 100) and hands anything else, errors
// included, to encoding/json, so the result is the same either way.
func decodeFields(b []byte) (map[string]any, error) {
	d := fieldsDecoder{b: b}
	d.space()
	if m, ok := d.object(0); ok {
		if d.space(); d.i == len(b) {
			return m, nil
		}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

type fieldsDecoder struct {
	b []byte
	i int
}

const maxFieldsDepth = 100

func (d *fieldsDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fieldsDecoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *fieldsDecoder) value(depth int) (any, bool) {
	switch c := d.peek(); {
	case c == '{':
		m, ok := d.object(depth + 1)
		return m, ok
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		return d.str()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	default:
		for _, lit := range [...]struct {
			text string
			v    any
		}{{"true", true}, {"false", false}, {"null", nil}} {
			if len(d.b)-d.i >= len(lit.text) && string(d.b[d.i:d.i+len(lit.text)]) == lit.text {
				d.i += len(lit.text)
				return lit.v, true
			}
		}
	}
	return nil, false
}

func (d *fieldsDecoder) object(depth int) (map[string]any, bool) {
	if depth > maxFieldsDepth || d.peek() != '{' {
		return nil, false
	}
	d.i++
	m := make(map[string]any)
	d.space()
	if d.peek() == '}' {
		d.i++
		return m, true
	}
	for {
		d.space()
		k, ok := d.str()
		if !ok {
			return nil, false
		}
		d.space()
		if d.peek() != ':' {
			return nil, false
		}
		d.i++
		d.space()
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		m[k.(string)] = v
		d.space()
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return m, true
		default:
			return nil, false
		}
	}
}

func (d *fieldsDecoder) array(depth int) (any, bool) {
	if depth > maxFieldsDepth {
		return nil, false
	}
	d.i++ // '['
	a := make([]any, 0)
	d.space()
	if d.peek() == ']' {
		d.i++
		return a, true
	}
	for {
		d.space()
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		d.space()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return a, true
		default:
			return nil, false
		}
	}
}

// str reads a string without escapes or control characters, valid UTF-8;
// anything else is left to encoding/json.
func (d *fieldsDecoder) str() (any, bool) {
	start := d.i + 1
	if !d.skipStr() {
		return nil, false
	}
	return string(d.b[start : d.i-1]), true
}

// number reads a JSON number as encoding/json does into an interface: a
// float64.
func (d *fieldsDecoder) number() (any, bool) {
	start, _, ok := d.scanNumber()
	if !ok {
		return nil, false
	}
	f, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
	if err != nil {
		return nil, false
	}
	return f, true
}

// scanNumber moves past one number of JSON's grammar and returns where it
// began and whether it had an exponent.
func (d *fieldsDecoder) scanNumber() (start int, exp, ok bool) {
	start = d.i
	if d.peek() == '-' {
		d.i++
	}
	switch c := d.peek(); {
	case c == '0':
		d.i++
	case c >= '1' && c <= '9':
		d.digits()
	default:
		return start, false, false
	}
	if d.peek() == '.' {
		d.i++
		if !d.digits() {
			return start, false, false
		}
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		exp = true
		d.i++
		if c := d.peek(); c == '+' || c == '-' {
			d.i++
		}
		if !d.digits() {
			return start, exp, false
		}
	}
	return start, exp, true
}

func (d *fieldsDecoder) digits() bool {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// checkFields reports whether b is a fields value the host accepts as it
// stands, without building it: a JSON object json.Unmarshal takes into a
// map[string]any, in the plain subset decodeFields reads (no escapes, no
// control characters, valid UTF-8, nesting below 100; numbers within
// float64's range). empty reports an object without members, or null.
// ok false says only that this check cannot vouch for b: decodeFields
// decides then, and gives encoding/json's verdict.
func checkFields(b []byte) (empty, ok bool) {
	if n, ok := checkFlat(b); ok {
		return n == 0, true
	}
	d := fieldsDecoder{b: b}
	d.space()
	if len(b)-d.i >= 4 && string(b[d.i:d.i+4]) == "null" {
		d.i += 4
		d.space()
		return true, d.i == len(b)
	}
	n, ok := d.skipObject(1)
	if !ok {
		return false, false
	}
	d.space()
	return n == 0, d.i == len(b)
}

// checkFlat is checkFields' quick look at the objects guests usually
// write: no white space, ASCII strings without escapes, integers of up to
// 15 digits, true, false and null, anything nested checked by skipValue.
// It returns the object's member count, or ok false whenever it is not
// sure (which checkFields then decides the careful way): it accepts
// nothing skipObject rejects.
func checkFlat(b []byte) (n int, ok bool) {
	if len(b) < 2 || b[0] != '{' {
		return 0, false
	}
	if len(b) == 2 && b[1] == '}' {
		return 0, true
	}
	i := 1
	for n = 1; ; n++ {
		if i = flatStr(b, i); i < 0 || i >= len(b) || b[i] != ':' {
			return 0, false
		}
		i++
		if i >= len(b) {
			return 0, false
		}
		switch c := b[i]; {
		case c == '"':
			i = flatStr(b, i)
		case c >= '1' && c <= '9':
			start := i
			i++
			for i < len(b) && b[i]-'0' < 10 {
				i++
			}
			if i-start > 15 || i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
				d := fieldsDecoder{b: b, i: start}
				if !d.skipNumber() {
					return 0, false
				}
				i = d.i
			}
		case c == '0':
			i++
			if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
				d := fieldsDecoder{b: b, i: i - 1}
				if !d.skipNumber() {
					return 0, false
				}
				i = d.i
			}
		default:
			d := fieldsDecoder{b: b, i: i}
			if !d.skipValue(1) {
				return 0, false
			}
			i = d.i
		}
		if i < 0 || i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return n, i+1 == len(b)
		default:
			return 0, false
		}
	}
}

// flatStr returns the offset after the ASCII string without escapes at
// b[i], or -1. Its eight-byte loads go through word, without the two
// bounds checks per word an index into b costs (a third of the loop).
func flatStr(b []byte, i int) int {
	if uint(i) >= uint(len(b)) || b[i] != '"' {
		return -1
	}
	j := i + 1
	for ; j <= len(b)-8; j += 8 {
		if t := specialBytes(word(b, j)); t != 0 {
			if j += bits.TrailingZeros64(t) / 8; b[j] == '"' {
				return j + 1
			}
			return -1
		}
	}
	for ; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1
		case c == '\\' || c < 0x20 || c >= 0x80:
			return -1
		}
	}
	return -1
}

// word is the little-endian word at b[j:j+8], which the caller has
// checked is inside b.
func word(b []byte, j int) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), j)), 8))
}

// skipObject checks an object and returns how many members it has.
func (d *fieldsDecoder) skipObject(depth int) (int, bool) {
	if depth > maxFieldsDepth || d.peek() != '{' {
		return 0, false
	}
	d.i++
	d.space()
	if d.peek() == '}' {
		d.i++
		return 0, true
	}
	for n := 1; ; n++ {
		d.space()
		if !d.skipStr() {
			return 0, false
		}
		d.space()
		if d.peek() != ':' {
			return 0, false
		}
		d.i++
		d.space()
		if !d.skipValue(depth) {
			return 0, false
		}
		d.space()
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return n, true
		default:
			return 0, false
		}
	}
}

func (d *fieldsDecoder) skipValue(depth int) bool {
	switch c := d.peek(); {
	case c == '{':
		_, ok := d.skipObject(depth + 1)
		return ok
	case c == '[':
		if depth+1 > maxFieldsDepth {
			return false
		}
		d.i++
		d.space()
		if d.peek() == ']' {
			d.i++
			return true
		}
		for {
			d.space()
			if !d.skipValue(depth + 1) {
				return false
			}
			d.space()
			switch d.peek() {
			case ',':
				d.i++
			case ']':
				d.i++
				return true
			default:
				return false
			}
		}
	case c == '"':
		return d.skipStr()
	case c == '-' || c >= '0' && c <= '9':
		return d.skipNumber()
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
			d.i += len(lit)
			return true
		}
	}
	return false
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialBytes flags, by the high bit of each byte, the bytes of the
// little-endian word w that a scan of a JSON string must look at: '"',
// '\\', control characters and bytes of multi-byte UTF-8 sequences. For a
// byte below 0x80, x-1 has its high bit set only where x (the byte xor
// '"' or '\\') is zero, and x-0x20 only where x is below 0x20; a byte of
// 0x80 or more is flagged by | w whatever the rest gives it. A borrow
// between bytes starts only at a flagged byte and runs upwards, so the
// lowest flag is exact and a word without flags needs no look. (The
// textbook has-zero-byte test's &^x terms guard against bytes of 0x80
// and more, which are flagged here anyway: without them the test is
// a third fewer instructions.)
func specialBytes(w uint64) uint64 {
	q, bs := w^(lsb*'"'), w^(lsb*'\\')
	return ((q - lsb) | (bs - lsb) | (w - lsb*0x20) | w) & msb
}

// skipStr is str without making the string.
func (d *fieldsDecoder) skipStr() bool {
	if d.peek() != '"' {
		return false
	}
	start := d.i + 1
	ascii := true
	j := start
	// Eight bytes at a time while none needs a look; a word with one goes
	// byte by byte.
	for ; j+8 <= len(d.b) && specialBytes(binary.LittleEndian.Uint64(d.b[j:])) == 0; j += 8 {
	}
	for ; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(d.b[start:j]) {
				return false
			}
			d.i = j + 1
			return true
		case c == '\\' || c < 0x20:
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return false
}

// skipNumber is number without converting it. Only a number with an
// exponent or very many digits can fall outside float64's range, and only
// such a number is parsed.
func (d *fieldsDecoder) skipNumber() bool {
	start, exp, ok := d.scanNumber()
	if !ok {
		return false
	}
	if exp || d.i-start > 300 {
		_, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
		return err == nil
	}
	return true
}
