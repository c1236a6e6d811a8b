package redis

import (
	"bytes"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Probe recognises a client's first command or a server's first replies.
//
// A command is a RESP array of bulk strings whose first element is a Redis
// command name. Inline commands (plain text lines) are too easy to confuse
// with other text protocols to claim a stream by themselves: they score
// below the threshold, and such a stream is recognised by its replies. A
// reply stream must consist of nothing but well-formed RESP values; bare
// simple strings other than Redis's usual status words score low, because
// "+OK ready" is also how POP3 greets.
func (*Dissector) Probe(_ sdk.Direction, data []byte) sdk.Probe {
	if len(data) == 0 {
		return sdk.Probe{NeedMore: true}
	}
	if data[0] == '*' {
		if p, ok := probeCommand(data); ok {
			return p
		}
	}
	if !isType(data[0]) {
		return probeInline(data)
	}
	return probeReplies(data)
}

// probeCommand judges a RESP array that may be a command. ok is false when
// it is not one, so that it can still be judged as a reply.
func probeCommand(data []byte) (sdk.Probe, bool) {
	l, n, complete, err := line(data)
	if err != nil {
		return sdk.Probe{}, false
	}
	if !complete {
		return sdk.Probe{Confidence: 10, NeedMore: len(data) < 16}, true
	}
	count, ok := parseInt(l[1:])
	if !ok || count <= 0 || count > 1<<20 {
		return sdk.Probe{}, false
	}
	rest := data[n:]
	l, n, complete, err = line(rest)
	if err != nil || complete && (len(l) < 2 || l[0] != '$') {
		return sdk.Probe{}, false
	}
	if !complete {
		return sdk.Probe{Confidence: 10, NeedMore: true}, true
	}
	size, ok := parseInt(l[1:])
	if !ok || size <= 0 || size > 64 {
		return sdk.Probe{}, false
	}
	rest = rest[n:]
	if int64(len(rest)) < size+2 {
		return sdk.Probe{Confidence: 10, NeedMore: true}, true
	}
	name := rest[:size]
	if rest[size] != '\r' || rest[size+1] != '\n' || !isWord(name) {
		return sdk.Probe{}, false
	}
	if known(name) {
		return sdk.Probe{Confidence: 85}, true
	}
	// An unknown word (a module's command) in a well-formed command array.
	return sdk.Probe{Confidence: 60}, true
}

// probeInline scores a plain-text command line.
func probeInline(data []byte) sdk.Probe {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(data) < 32 {
			return sdk.Probe{NeedMore: true}
		}
		return sdk.Probe{}
	}
	if i == 0 || data[i-1] != '\r' {
		return sdk.Probe{}
	}
	f := bytes.Fields(data[:i-1])
	if len(f) == 0 || !known(f[0]) {
		return sdk.Probe{}
	}
	return sdk.Probe{Confidence: 40}
}

// probeReplies validates every complete value in data as a server's reply.
func probeReplies(data []byte) sdk.Probe {
	h := &half{}
	values, strong := 0, false
	for pos := 0; pos < len(data); {
		if data[pos] == '\n' || data[pos] == '\r' && pos+1 < len(data) && data[pos+1] == '\n' {
			// A stray line end between replies (see the parser).
			pos++
			continue
		}
		h.cur = &msg{}
		n, ok := probeValue(h, data[pos:])
		if n < 0 {
			return sdk.Probe{}
		}
		if !ok {
			break
		}
		m := h.cur
		values++
		switch m.typ {
		case '+':
			strong = strong || statusWord(m.scalar)
		case '-':
			strong = strong || errorPrefix(m.errText) != "ERR" || bytes.HasPrefix(m.scalar, []byte("ERR "))
		default:
			strong = true
		}
		pos += n
	}
	switch {
	case values == 0:
		return sdk.Probe{Confidence: 10, NeedMore: len(data) < 512}
	case strong:
		return sdk.Probe{Confidence: 70, FromServer: true}
	}
	return sdk.Probe{Confidence: 30, FromServer: true}
}

// probeValue parses one whole value; n < 0 means it is not RESP, ok false
// that it is incomplete.
func probeValue(h *half, data []byte) (int, bool) {
	pos := 0
	for steps := 0; steps < 4096; steps++ {
		rest := data[pos:]
		if len(rest) == 0 {
			return pos, false
		}
		switch h.st {
		case stBulk:
			k := int(min(int64(len(rest)), h.bulkLeft))
			h.bulkData(rest[:k])
			h.bulkLeft -= int64(k)
			pos += k
			if h.bulkLeft == 0 {
				h.st = stBulkEnd
			}
			continue
		case stBulkEnd:
			if rest[0] != '\r' || len(rest) > 1 && rest[1] != '\n' {
				return -1, false
			}
			if len(rest) < 2 {
				return pos, false
			}
			pos += 2
			if h.bulkDone() {
				return pos, true
			}
			continue
		case stChunk:
			k, done, err := h.chunk(rest)
			if err != nil {
				return -1, false
			}
			if k == 0 {
				return pos, false
			}
			pos += k
			if done {
				return pos, true
			}
			continue
		}
		k, done, err := h.value(rest)
		if err != nil {
			return -1, false
		}
		if k == 0 {
			return pos, false
		}
		pos += k
		if done {
			return pos, true
		}
	}
	return pos, false
}

// statusWord reports whether a simple string is one Redis commonly sends.
func statusWord(s []byte) bool {
	switch string(s) {
	case "OK", "PONG", "QUEUED", "RESET", "CONTINUE", "NOKEY", "string", "list", "set", "zset", "hash", "stream", "none",
		"Background saving started", "Background append only file rewriting started":
		return true
	}
	return false
}
