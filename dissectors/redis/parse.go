package redis

import (
	"bytes"
	"errors"
)

type state uint8

const (
	stValue   state = iota // expecting a type line (or an inline command)
	stBulk                 // inside the content of a bulk string
	stBulkEnd              // the CRLF that ends a bulk string (or one chunk of a streamed one)
	stChunk                // the ";<length>" line of a streamed string's next chunk
	stResync               // looking for the start of a message after damage
)

// streamedLen is what checkHeader returns for the "?" length of a RESP3
// streamed string ($?) or streamed aggregate (*?, %?, ~?, |?).
const streamedLen = -2

// frame is an open aggregate: how many elements it still expects, or for a
// streamed aggregate, which only its END marker closes, how many it has
// had (a map's END must fall between pairs).
type frame struct {
	left     int64
	typ      byte
	first    bool // no element rendered yet
	streamed bool
}

// half parses one direction of a connection.
type half struct {
	client   bool // this direction carries commands
	st       state
	stack    []frame
	attrs    int   // attribute frames on the stack, whose contents are not rendered
	bulkLeft int64 // content bytes of the current bulk string still to come
	bulkTyp  byte
	bulkTop  bool   // the bulk string is the message itself
	bulkElem int    // index in cur.elems the bulk string fills, or -1
	bulkBuf  []byte // start of the current bulk string, for the rendering
	bulkSize int64
	chunked  bool // the bulk string is a streamed one, sent in chunks
	cur      *msg
	midLine  bool // resync is inside a line
}

var errMalformed = errors.New("malformed")

// line returns the next CRLF-terminated line without its terminator, and
// the bytes it took. ok is false when the line is not complete yet; err is
// set when it can no longer be a RESP line.
func line(data []byte) (l []byte, n int, ok bool, err error) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(data) > maxLine {
			return nil, 0, false, errors.New("line longer than 64 KiB")
		}
		return nil, 0, false, nil
	}
	if i > maxLine {
		return nil, 0, false, errors.New("line longer than 64 KiB")
	}
	if i == 0 || data[i-1] != '\r' {
		return nil, 0, false, errors.New("line not ended by CRLF")
	}
	return data[:i-1], i + 1, true, nil
}

// parseInt reads a RESP integer: an optional minus sign and 1–18 digits.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// checkHeader validates a type line. For bulk strings and aggregates it
// returns the announced length (-1 for RESP2 nulls).
func checkHeader(l []byte) (n int64, err error) {
	if len(l) == 0 {
		return 0, errors.New("empty line")
	}
	body := l[1:]
	switch l[0] {
	case '+', '-':
		if bytes.IndexByte(body, '\r') >= 0 {
			return 0, errors.New("CR inside a simple string")
		}
		return 0, nil
	case ':':
		if _, ok := parseInt(body); !ok {
			return 0, errors.New("bad integer")
		}
		return 0, nil
	case '(':
		if len(body) > 0 && body[0] == '-' {
			body = body[1:]
		}
		if len(body) == 0 || len(body) > 4096 || !digits(body) {
			return 0, errors.New("bad big number")
		}
		return 0, nil
	case '_':
		if len(body) != 0 {
			return 0, errors.New("bad null")
		}
		return 0, nil
	case '#':
		if len(body) != 1 || body[0] != 't' && body[0] != 'f' {
			return 0, errors.New("bad boolean")
		}
		return 0, nil
	case ',':
		if !double(body) {
			return 0, errors.New("bad double")
		}
		return 0, nil
	case '$', '!', '=':
		if l[0] == '$' && string(body) == "?" {
			return streamedLen, nil
		}
		v, ok := parseInt(body)
		if !ok || v < -1 || v > maxBulk || v == -1 && l[0] != '$' {
			return 0, errors.New("bad bulk length")
		}
		return v, nil
	case '*', '%', '~', '>', '|':
		// RESP3 streams arrays, maps, sets and attributes, not pushes.
		if l[0] != '>' && string(body) == "?" {
			return streamedLen, nil
		}
		v, ok := parseInt(body)
		if !ok || v < -1 || v > maxElems || v == -1 && l[0] != '*' && l[0] != '%' {
			return 0, errors.New("bad aggregate length")
		}
		return v, nil
	case '.':
		if len(body) != 0 {
			return 0, errors.New("bad END marker")
		}
		return 0, nil
	}
	return 0, errors.New("unknown type byte")
}

func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func double(b []byte) bool {
	switch string(b) {
	case "inf", "-inf", "nan", "-nan":
		return true
	}
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	seenDigit := false
	for i, c := range b {
		switch {
		case '0' <= c && c <= '9':
			seenDigit = true
		case c == '.' || c == 'e' || c == 'E':
		case (c == '-' || c == '+') && (i == 0 || b[i-1] == 'e' || b[i-1] == 'E'):
		default:
			return false
		}
	}
	return seenDigit
}

// depth1 reports whether the next value is an element of the message's own
// aggregate (or the message itself), whose preview is kept.
func (h *half) depth1() bool {
	return len(h.stack) == 0 || len(h.stack) == 1 && h.stack[0].typ != '|'
}

// sep renders the separator before a value and reports whether the value
// is rendered at all (attribute contents are not).
func (h *half) sep() bool {
	if h.attrs > 0 {
		return false
	}
	if n := len(h.stack); n > 0 {
		h.cur.sep(h.stack[n-1].first)
		h.stack[n-1].first = false
	}
	return true
}

// element records a top-level element's preview.
func (h *half) element(b []byte) int {
	m := h.cur
	m.nelems++
	if len(m.elems) >= maxArgs {
		return -1
	}
	if b != nil {
		b = bytes.Clone(b[:min(len(b), argPreview)])
	}
	m.elems = append(m.elems, b)
	return len(m.elems) - 1
}

// done accounts for one finished value and closes the aggregates it
// completes. It returns true when the message itself is complete. attr says
// the finished value was an attribute, which is not an element of anything.
func (h *half) done(attr bool) bool {
	if attr {
		return false
	}
	for len(h.stack) > 0 {
		top := &h.stack[len(h.stack)-1]
		if top.streamed {
			top.left++
			return false
		}
		top.left--
		if top.left > 0 {
			return false
		}
		typ := top.typ
		h.stack = h.stack[:len(h.stack)-1]
		if typ == '|' {
			h.attrs--
			return false
		}
		h.closeBracket(typ)
	}
	return true
}

// closeBracket renders the end of an aggregate, unless it sits inside an
// attribute, whose contents are not rendered.
func (h *half) closeBracket(typ byte) {
	if h.attrs > 0 {
		return
	}
	if typ == '%' {
		h.cur.writeString("}")
	} else {
		h.cur.writeString("]")
	}
}

// end takes the END marker (".") that closes the innermost streamed
// aggregate, which is then a finished value of whatever holds it.
func (h *half) end(n int) (int, bool, error) {
	k := len(h.stack)
	if k == 0 || !h.stack[k-1].streamed {
		return 0, false, errors.New("END marker outside a streamed aggregate")
	}
	f := h.stack[k-1]
	if (f.typ == '%' || f.typ == '|') && f.left%2 != 0 {
		return 0, false, errors.New("streamed map ended between a key and its value")
	}
	h.cur.size += int64(n)
	h.stack = h.stack[:k-1]
	if f.typ == '|' {
		h.attrs--
		return n, h.done(true), nil
	}
	h.closeBracket(f.typ)
	return n, h.done(false), nil
}

// value parses one type line and what it opens. It returns the bytes
// consumed and whether the message is complete.
func (h *half) value(data []byte) (int, bool, error) {
	l, n, ok, err := line(data)
	if err != nil || !ok {
		return 0, false, err
	}
	length, err := checkHeader(l)
	if err != nil {
		return 0, false, err
	}
	m := h.cur
	typ, body := l[0], l[1:]
	if typ == '.' {
		return h.end(n)
	}
	top := len(h.stack) == 0
	if top && typ != '|' && m.typ == 0 {
		m.typ = typ
	}
	if top && typ == '|' {
		m.attrs = true
	}
	if top && typ != '|' && length == streamedLen {
		m.streamed = true
	}
	m.size += int64(n)
	render := typ != '|' && h.sep()
	switch typ {
	case '$', '!', '=':
		if length == -1 {
			if render {
				m.writeString("(nil)")
			}
			if h.depth1() {
				h.element(nil)
			}
			if top {
				m.typ = '_'
			}
			return n, h.done(false), nil
		}
		h.bulkTyp, h.bulkLeft, h.bulkTop = typ, length, top
		h.bulkElem = -1
		if h.depth1() {
			h.bulkElem = h.element([]byte{})
		}
		h.bulkBuf = h.bulkBuf[:0]
		h.chunked = length == streamedLen
		if h.chunked {
			// The size is known only once the chunks have come; the
			// preview buffers fill across them.
			h.bulkSize, h.bulkLeft = 0, 0
			h.st = stChunk
			return n, false, nil
		}
		h.bulkSize = length
		if top {
			m.scalarSize = length
		}
		h.st = stBulk
		if length == 0 {
			h.st = stBulkEnd
		}
		return n, false, nil
	case '*', '%', '~', '>', '|':
		if len(h.stack) >= maxDepth {
			return 0, false, errors.New("aggregates nested too deeply")
		}
		if h.depth1() && typ != '|' && !top {
			h.element(nil)
		}
		if length == streamedLen {
			if render && typ != '|' {
				if typ == '%' {
					m.writeString("{")
				} else {
					m.writeString("[")
				}
			}
			if typ == '|' {
				h.attrs++
			}
			h.stack = append(h.stack, frame{typ: typ, first: true, streamed: true})
			return n, false, nil
		}
		if length <= 0 {
			if render {
				if length < 0 {
					m.writeString("(nil)")
				} else if typ == '%' {
					m.writeString("{}")
				} else if typ != '|' {
					m.writeString("[]")
				}
			}
			if top && length < 0 {
				m.typ = '_'
			}
			return n, h.done(typ == '|'), nil
		}
		if typ == '%' || typ == '|' {
			length *= 2
		}
		if render && typ != '|' {
			if typ == '%' {
				m.writeString("{")
			} else {
				m.writeString("[")
			}
		}
		if typ == '|' {
			h.attrs++
		}
		h.stack = append(h.stack, frame{left: length, typ: typ, first: true})
		return n, false, nil
	}
	// Simple types: the line is the whole value.
	text := body
	switch typ {
	case '_':
		text = []byte("(nil)")
	case '#':
		if body[0] == 't' {
			text = []byte("true")
		} else {
			text = []byte("false")
		}
	}
	if render {
		m.writeScalar(text, false, top)
	}
	if h.depth1() {
		h.element(text)
	}
	if top {
		if typ == '-' {
			m.errText = string(body[:min(len(body), argPreview)])
		}
		m.scalar = append(m.scalar[:0], body[:min(len(body), bodyPreview)]...)
		m.scalarSize = int64(len(body))
	}
	return n, h.done(false), nil
}

// bulkData takes content bytes of the current bulk string.
func (h *half) bulkData(p []byte) {
	m := h.cur
	if h.bulkElem >= 0 {
		e := m.elems[h.bulkElem]
		if room := argPreview - len(e); room > 0 {
			m.elems[h.bulkElem] = append(e, p[:min(len(p), room)]...)
		}
	}
	if room := scalarCap - len(h.bulkBuf); room > 0 && h.attrs == 0 {
		h.bulkBuf = append(h.bulkBuf, p[:min(len(p), room)]...)
	}
	if h.bulkTop {
		if room := bodyPreview - len(m.scalar); room > 0 {
			m.scalar = append(m.scalar, p[:min(len(p), room)]...)
		}
	}
}

// chunk parses the ";<length>" line that starts each chunk of a streamed
// string; ";0" ends the string. Chunk contents go through the same states
// as a bulk string's, so only their previews are kept.
func (h *half) chunk(data []byte) (int, bool, error) {
	l, n, ok, err := line(data)
	if err != nil || !ok {
		return 0, false, err
	}
	if len(l) == 0 || l[0] != ';' {
		return 0, false, errors.New("streamed string chunk does not start with ';'")
	}
	v, ok := parseInt(l[1:])
	if !ok || !digits(l[1:]) || v > maxBulk {
		return 0, false, errors.New("bad streamed string chunk length")
	}
	h.cur.size += int64(n)
	if v == 0 {
		h.chunked = false
		h.st = stValue
		return n, h.bulkEnd(), nil
	}
	h.bulkLeft = v
	h.bulkSize += v
	if h.bulkTop {
		h.cur.scalarSize += v
	}
	h.st = stBulk
	return n, false, nil
}

// bulkDone follows the CRLF after bulk content: a streamed string goes on
// with its next chunk, any other bulk string is finished.
func (h *half) bulkDone() bool {
	if h.chunked {
		h.st = stChunk
		return false
	}
	h.st = stValue
	return h.bulkEnd()
}

// bulkEnd finishes the current bulk string.
func (h *half) bulkEnd() bool {
	m := h.cur
	if h.attrs == 0 {
		m.writeScalar(h.bulkBuf, h.bulkSize > int64(len(h.bulkBuf)), h.bulkTop)
	}
	if h.bulkTop && h.bulkTyp == '!' {
		m.errText = string(m.scalar[:min(len(m.scalar), argPreview)])
	}
	h.bulkElem = -1
	return h.done(false)
}

// inline parses a command sent as a plain text line.
func (h *half) inline(data []byte) (int, bool, error) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(data) > maxLine {
			return 0, false, errors.New("inline command longer than 64 KiB")
		}
		return 0, false, nil
	}
	if i > maxLine {
		return 0, false, errors.New("inline command longer than 64 KiB")
	}
	m := h.cur
	m.inline, m.typ = true, '*'
	m.size += int64(i + 1)
	for _, w := range bytes.Fields(bytes.TrimRight(data[:i], "\r")) {
		if m.nelems > 0 {
			m.writeString(" ")
		}
		m.writeScalar(w, false, false)
		h.element(w)
	}
	return i + 1, true, nil
}
