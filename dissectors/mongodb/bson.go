package mongodb

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"time"
)

// Bounds on BSON walking.
const (
	maxDepth   = 32       // nested documents and arrays
	jsonBudget = 16 << 10 // bytes of Extended JSON rendered per document
)

// BSON element types.
const (
	tDouble   = 0x01
	tString   = 0x02
	tDocument = 0x03
	tArray    = 0x04
	tBinary   = 0x05
	tUndef    = 0x06
	tObjectID = 0x07
	tBool     = 0x08
	tDate     = 0x09
	tNull     = 0x0A
	tRegex    = 0x0B
	tDBPtr    = 0x0C
	tCode     = 0x0D
	tSymbol   = 0x0E
	tCodeWS   = 0x0F
	tInt32    = 0x10
	tTime     = 0x11
	tInt64    = 0x12
	tDecimal  = 0x13
	tMinKey   = 0xFF
	tMaxKey   = 0x7F
)

// element is one key/value of a document; raw holds the value bytes.
type element struct {
	key string
	typ byte
	raw []byte
}

// docLen returns the length a document at b declares, or -1 when it
// cannot be a document that fits in b.
func docLen(b []byte) int {
	if len(b) < 5 {
		return -1
	}
	n := int(int32(binary.LittleEndian.Uint32(b)))
	if n < 5 || n > len(b) || b[n-1] != 0 {
		return -1
	}
	return n
}

func cstring(b []byte) (string, int) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", -1
	}
	return string(b[:i]), i + 1
}

// valueLen is the size of a value of type t at the start of b, or -1.
func valueLen(t byte, b []byte) int {
	fixed := func(n int) int {
		if len(b) < n {
			return -1
		}
		return n
	}
	str := func() int {
		if len(b) < 4 {
			return -1
		}
		n := int(int32(binary.LittleEndian.Uint32(b)))
		if n < 1 || 4+n > len(b) || b[3+n] != 0 {
			return -1
		}
		return 4 + n
	}
	switch t {
	case tDouble, tDate, tTime, tInt64:
		return fixed(8)
	case tString, tCode, tSymbol:
		return str()
	case tDocument, tArray, tCodeWS:
		return docLen(b)
	case tBinary:
		if len(b) < 5 {
			return -1
		}
		n := int(int32(binary.LittleEndian.Uint32(b)))
		if n < 0 || 5+n > len(b) {
			return -1
		}
		return 5 + n
	case tUndef, tNull, tMinKey, tMaxKey:
		return 0
	case tObjectID:
		return fixed(12)
	case tBool:
		return fixed(1)
	case tRegex:
		_, a := cstring(b)
		if a < 0 {
			return -1
		}
		_, o := cstring(b[a:])
		if o < 0 {
			return -1
		}
		return a + o
	case tDBPtr:
		n := str()
		if n < 0 || len(b) < n+12 {
			return -1
		}
		return n + 12
	case tInt32:
		return fixed(4)
	case tDecimal:
		return fixed(16)
	}
	return -1
}

// elements iterates over a whole document, calling f until it returns
// false. It reports whether the document was well formed as far as read.
func elements(doc []byte, f func(e element) bool) bool {
	n := docLen(doc)
	if n < 0 {
		return false
	}
	b := doc[4 : n-1]
	for len(b) > 0 {
		t := b[0]
		key, k := cstring(b[1:])
		if k < 0 {
			return false
		}
		v := valueLen(t, b[1+k:])
		if v < 0 {
			return false
		}
		if !f(element{key, t, b[1+k : 1+k+v]}) {
			return true
		}
		b = b[1+k+v:]
	}
	return true
}

func first(doc []byte) (element, bool) {
	var e element
	found := false
	elements(doc, func(x element) bool { e, found = x, true; return false })
	return e, found
}

func lookup(doc []byte, key string) (element, bool) {
	var e element
	found := false
	elements(doc, func(x element) bool {
		if x.key == key {
			e, found = x, true
			return false
		}
		return true
	})
	return e, found
}

func (e element) str() (string, bool) {
	if e.typ != tString || len(e.raw) < 5 {
		return "", false
	}
	return string(e.raw[4 : len(e.raw)-1]), true
}

// number converts a numeric element (as "ok" and "code" come in any of
// them) to a float.
func (e element) number() (float64, bool) {
	switch e.typ {
	case tDouble:
		return math.Float64frombits(binary.LittleEndian.Uint64(e.raw)), true
	case tInt32:
		return float64(int32(binary.LittleEndian.Uint32(e.raw))), true
	case tInt64:
		return float64(int64(binary.LittleEndian.Uint64(e.raw))), true
	case tBool:
		if e.raw[0] != 0 {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// extJSON renders a document as relaxed Extended JSON v2, at most
// jsonBudget bytes; truncated reports a cut.
func extJSON(doc []byte) (out string, truncated bool) {
	w := &jsonWriter{}
	w.doc(doc, false, 0)
	if w.full {
		return w.buf.String(), true
	}
	return w.buf.String(), false
}

type jsonWriter struct {
	buf  bytes.Buffer
	full bool
}

func (w *jsonWriter) raw(s string) {
	if w.full {
		return
	}
	if w.buf.Len()+len(s) > jsonBudget {
		w.full = true
		return
	}
	w.buf.WriteString(s)
}

func (w *jsonWriter) str(s string) {
	b, _ := json.Marshal(s)
	w.raw(string(b))
}

func (w *jsonWriter) doc(doc []byte, array bool, depth int) {
	if depth > maxDepth {
		w.raw(`"…"`)
		return
	}
	open, close := "{", "}"
	if array {
		open, close = "[", "]"
	}
	w.raw(open)
	i := 0
	ok := elements(doc, func(e element) bool {
		if i > 0 {
			w.raw(",")
		}
		i++
		if !array {
			w.str(e.key)
			w.raw(":")
		}
		w.value(e, depth)
		return !w.full
	})
	if !ok {
		w.raw(`"<malformed>"`)
	}
	w.raw(close)
}

func (w *jsonWriter) value(e element, depth int) {
	le := binary.LittleEndian
	switch e.typ {
	case tDouble:
		f := math.Float64frombits(le.Uint64(e.raw))
		switch {
		case math.IsNaN(f):
			w.raw(`{"$numberDouble":"NaN"}`)
		case math.IsInf(f, 1):
			w.raw(`{"$numberDouble":"Infinity"}`)
		case math.IsInf(f, -1):
			w.raw(`{"$numberDouble":"-Infinity"}`)
		default:
			s := strconv.FormatFloat(f, 'g', -1, 64)
			if f == math.Trunc(f) && math.Abs(f) < 1e15 {
				s = strconv.FormatFloat(f, 'f', 1, 64)
			}
			w.raw(s)
		}
	case tString:
		s, _ := e.str()
		w.str(s)
	case tDocument:
		w.doc(e.raw, false, depth+1)
	case tArray:
		w.doc(e.raw, true, depth+1)
	case tBinary:
		n := int(int32(le.Uint32(e.raw)))
		w.raw(`{"$binary":{"base64":`)
		w.str(base64.StdEncoding.EncodeToString(e.raw[5 : 5+n]))
		w.raw(`,"subType":"` + hex.EncodeToString(e.raw[4:5]) + `"}}`)
	case tUndef:
		w.raw(`{"$undefined":true}`)
	case tObjectID:
		w.raw(`{"$oid":"` + hex.EncodeToString(e.raw) + `"}`)
	case tBool:
		w.raw(strconv.FormatBool(e.raw[0] != 0))
	case tDate:
		ms := int64(le.Uint64(e.raw))
		if ms >= 0 && ms <= 253402300799999 {
			w.raw(`{"$date":"` + time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.999Z07:00") + `"}`)
		} else {
			w.raw(`{"$date":{"$numberLong":"` + strconv.FormatInt(ms, 10) + `"}}`)
		}
	case tNull:
		w.raw("null")
	case tRegex:
		p, a := cstring(e.raw)
		o, _ := cstring(e.raw[a:])
		w.raw(`{"$regularExpression":{"pattern":`)
		w.str(p)
		w.raw(`,"options":`)
		w.str(o)
		w.raw("}}")
	case tDBPtr:
		n := len(e.raw) - 12
		w.raw(`{"$dbPointer":{"$ref":`)
		w.str(string(e.raw[4 : n-1]))
		w.raw(`,"$id":{"$oid":"` + hex.EncodeToString(e.raw[n:]) + `"}}}`)
	case tCode:
		s := string(e.raw[4 : len(e.raw)-1])
		w.raw(`{"$code":`)
		w.str(s)
		w.raw("}")
	case tSymbol:
		w.raw(`{"$symbol":`)
		w.str(string(e.raw[4 : len(e.raw)-1]))
		w.raw("}")
	case tCodeWS:
		// int32 total, string code, scope document.
		b := e.raw[4:]
		n := valueLen(tString, b)
		if n < 0 {
			w.raw(`"<malformed>"`)
			return
		}
		w.raw(`{"$code":`)
		w.str(string(b[4 : n-1]))
		w.raw(`,"$scope":`)
		w.doc(b[n:], false, depth+1)
		w.raw("}")
	case tInt32:
		w.raw(strconv.Itoa(int(int32(le.Uint32(e.raw)))))
	case tTime:
		w.raw(`{"$timestamp":{"t":` + strconv.FormatUint(uint64(le.Uint32(e.raw[4:])), 10) + `,"i":` + strconv.FormatUint(uint64(le.Uint32(e.raw)), 10) + "}}")
	case tInt64:
		w.raw(strconv.FormatInt(int64(le.Uint64(e.raw)), 10))
	case tDecimal:
		w.raw(`{"$numberDecimal":"` + decimal128(le.Uint64(e.raw[8:]), le.Uint64(e.raw)) + `"}`)
	case tMinKey:
		w.raw(`{"$minKey":1}`)
	case tMaxKey:
		w.raw(`{"$maxKey":1}`)
	}
}

// decimal128 formats an IEEE 754-2008 decimal128 (BID encoding) in the
// scientific form the Extended JSON spec allows.
func decimal128(hi, lo uint64) string {
	neg := hi>>63 == 1
	sign := ""
	if neg {
		sign = "-"
	}
	var exp int
	coef := new(big.Int)
	switch {
	case hi>>58&0x1f == 0x1f:
		return "NaN"
	case hi>>58&0x1f == 0x1e:
		return sign + "Infinity"
	case hi>>61&3 == 3:
		// The coefficient would exceed 10^34: non-canonical, reads as 0.
		exp = int(hi>>47&0x3fff) - 6176
	default:
		exp = int(hi>>49&0x3fff) - 6176
		coef.SetUint64(hi & (1<<49 - 1))
		coef.Lsh(coef, 64)
		coef.Or(coef, new(big.Int).SetUint64(lo))
	}
	return sign + coef.String() + "E" + strconv.Itoa(exp)
}
