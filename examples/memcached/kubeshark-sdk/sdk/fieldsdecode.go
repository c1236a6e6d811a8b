package sdk

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
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
	if d.peek() != '"' {
		return nil, false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			s := d.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			d.i = j + 1
			return string(s), true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
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

// skipStr is str without making the string.
func (d *fieldsDecoder) skipStr() bool {
	if d.peek() != '"' {
		return false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
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
