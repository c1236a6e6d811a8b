package sdk

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendFields writes a Fields map as JSON without encoding/json's
// reflection, which costs a guest compiled to wasm several times the rest
// of a record's encoding (BENCHMARKS.md, "Where the wasm time goes"). It
// handles the types dissectors put in fields and produces the bytes
// json.Marshal would; for any other type it reports false and the caller
// falls back to json.Marshal.
func appendFields(b []byte, m map[string]any) ([]byte, bool) {
	return appendMap(b, m, appendJSONValue)
}

// AppendFieldsJSON appends fields as json.Marshal would write them, without
// reflection for the value types dissectors use, falling back to
// encoding/json for any other. The record codec and the host's store use
// it; a store encodes the fields of every record it keeps.
func AppendFieldsJSON(b []byte, fields map[string]any) ([]byte, error) {
	start := len(b)
	if out, ok := appendFields(b, fields); ok {
		return out, nil
	}
	js, err := json.Marshal(fields)
	if err != nil {
		return b[:start], err
	}
	return append(b[:start], js...), nil
}

func appendJSONValue(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendJSONString(b, x), true
	case bool:
		return strconv.AppendBool(b, x), true
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case int8:
		return strconv.AppendInt(b, int64(x), 10), true
	case int16:
		return strconv.AppendInt(b, int64(x), 10), true
	case int32:
		return strconv.AppendInt(b, int64(x), 10), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(b, x, 10), true
	case float64:
		return appendJSONFloat(b, x, 64)
	case float32:
		return appendJSONFloat(b, float64(x), 32)
	case []string:
		return appendSlice(b, x, always(appendJSONString))
	case []int:
		return appendSlice(b, x, always(func(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }))
	case []int64:
		return appendSlice(b, x, always(func(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }))
	case []uint16:
		return appendSlice(b, x, always(func(b []byte, n uint16) []byte { return strconv.AppendUint(b, uint64(n), 10) }))
	case []bool:
		return appendSlice(b, x, always(strconv.AppendBool))
	case []any:
		return appendSlice(b, x, appendJSONValue)
	case []map[string]any:
		return appendSlice(b, x, func(b []byte, m map[string]any) ([]byte, bool) { return appendMap(b, m, appendJSONValue) })
	case map[string]any:
		return appendMap(b, x, appendJSONValue)
	case Object:
		return appendObjectValue(b, x)
	case []Object:
		return appendSlice(b, x, appendObjectValue)
	case map[string]string:
		return appendMap(b, x, always(appendJSONString))
	case map[string]bool:
		return appendMap(b, x, always(strconv.AppendBool))
	case map[string]int:
		return appendMap(b, x, always(func(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }))
	case map[string]int64:
		return appendMap(b, x, always(func(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }))
	}
	return b, false
}

// appendJSONFloat formats like encoding/json: plain decimal between 1e-6
// and 1e21, exponent form outside, NaN and infinities unsupported.
func appendJSONFloat(b []byte, f float64, bits int) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// e-09 → e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

const hexDigits = "0123456789abcdef"

// jsonPlain marks with a 1 the bytes appendJSONString copies as they are:
// printable ASCII other than the quote, the backslash and the HTML
// characters encoding/json escapes.
const jsonPlain = "" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x01\x01\x00\x01\x01\x01\x00\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x01\x00\x01" +
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x01\x01\x01" +
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// appendJSONString quotes s as encoding/json does by default: HTML-unsafe
// characters, control characters, U+2028 and U+2029 escaped, invalid UTF-8
// replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	// Most strings need no escaping: find out with one table lookup a byte
	// (the comparisons below cost a WebAssembly guest several times more)
	// and copy them whole.
	i := 0
	for i < len(s) && jsonPlain[s[i]] != 0 {
		i++
	}
	if i == len(s) {
		return append(append(b, s...), '"')
	}
	b = append(b, s[:i]...)
	start := i
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// always adapts an appender that cannot fail.
func always[V any](f func([]byte, V) []byte) func([]byte, V) ([]byte, bool) {
	return func(b []byte, v V) ([]byte, bool) { return f(b, v), true }
}

// appendMap writes a string-keyed map, keys sorted as encoding/json sorts
// them; a nil map is null.
func appendMap[V any](b []byte, m map[string]V, val func([]byte, V) ([]byte, bool)) ([]byte, bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		var ok bool
		if b, ok = val(b, m[k]); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendSlice writes a slice; a nil slice is null.
func appendSlice[V any](b []byte, s []V, val func([]byte, V) ([]byte, bool)) ([]byte, bool) {
	if s == nil {
		return append(b, "null"...), true
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = val(b, v); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}
