package redis

import (
	"strconv"
	"unicode/utf8"
)

// msg is one top-level RESP value (a command or a reply) being parsed.
type msg struct {
	start, end int64
	size       int64 // wire bytes
	missing    int64 // bytes lost to capture gaps
	typ        byte  // RESP type of the value, after any attributes
	attrs      bool  // attributes preceded the value
	inline     bool  // a plain-text command line
	push       bool  // sent as a RESP3 push
	streamed   bool  // a RESP3 streamed string or aggregate (length "?")
	lost       bool  // stands in the queue for a command a gap swallowed
	problem    string

	// elems are the first top-level elements (for a scalar, the value
	// itself), each cut to argPreview bytes; nil marks a nested aggregate.
	elems  [][]byte
	nelems int
	// errText is the text of an error reply.
	errText string
	// scalar keeps the start of a top-level bulk value for the body preview.
	scalar     []byte
	scalarSize int64
	// render is a bounded text rendering of the whole value.
	render    []byte
	truncated bool
}

func (m *msg) write(b []byte) {
	if room := bodyPreview - len(m.render); room > 0 {
		if len(b) > room {
			b = b[:room]
			m.truncated = true
		}
		m.render = append(m.render, b...)
	} else if len(b) > 0 {
		m.truncated = true
	}
}

func (m *msg) writeString(s string) { m.write([]byte(s)) }

// sep separates an element from the one before it inside an aggregate.
func (m *msg) sep(first bool) {
	if !first {
		m.writeString(" ")
	}
}

// writeScalar renders a scalar: plain words as they are, anything else
// quoted so that binary data stays readable text. A value that is the whole
// message needs no quotes to tell it from its neighbours, only to keep
// control bytes out.
func (m *msg) writeScalar(b []byte, more, whole bool) {
	cut := b
	if len(cut) > scalarCap {
		cut, more = cut[:scalarCap], true
	}
	if len(cut) > 0 && (plain(cut) || whole && printable(cut)) {
		m.write(cut)
	} else {
		m.write(strconv.AppendQuote(nil, string(cut)))
	}
	if more {
		m.writeString("…")
	}
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func plain(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == '"' {
			return false
		}
	}
	return true
}

// typeName names a RESP type byte for the redis_response_type field.
func typeName(c byte) string {
	switch c {
	case '+':
		return "simple_string"
	case '-':
		return "error"
	case ':':
		return "integer"
	case '$':
		return "bulk_string"
	case '*':
		return "array"
	case '_':
		return "null"
	case '#':
		return "boolean"
	case ',':
		return "double"
	case '(':
		return "big_number"
	case '!':
		return "bulk_error"
	case '=':
		return "verbatim_string"
	case '%':
		return "map"
	case '~':
		return "set"
	case '>':
		return "push"
	}
	return ""
}

func isType(c byte) bool {
	switch c {
	case '+', '-', ':', '$', '*', '_', '#', ',', '(', '!', '=', '%', '~', '|', '>':
		return true
	}
	return false
}
