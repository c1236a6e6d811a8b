package postgres

import (
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// half is the framing state of one direction.
type half struct {
	skip      int  // bytes of an oversized message still to pass over
	resync    bool // framing was lost: look for the next well-formed message
	untyped   bool // (frontend) a length-prefixed message without a type byte may come next
	sslAnswer bool // (backend) the one-byte answer to SSLRequest or GSSENCRequest is due
}

type conn struct {
	out     sdk.Emitter
	client  sdk.Direction
	halves  [2]half
	done    bool // the stream left the protocol (TLS, GSS encryption)
	session session
}

func newConn(info sdk.ConnInfo, out sdk.Emitter) *conn {
	// The host orients connections (from the handshake, or from the probe
	// that claimed the stream), so DirA is the frontend.
	c := &conn{out: out, client: sdk.DirA}
	c.halves[c.client].untyped = true
	c.session.init(c)
	return c
}

func nanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Feed parses one message per call on the frontend side, so that each
// request's first byte has an exact time, and on the backend side as many
// messages as do not complete a record.
func (c *conn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	if c.done {
		return len(data), 0
	}
	h := &c.halves[dir]
	pos := 0
	for pos < len(data) && !c.done {
		ts := first
		if pos > 0 {
			ts = last
		}
		n, need, stop := c.step(dir, h, data[pos:], ts, last)
		pos += n
		if n == 0 {
			if pos == 0 {
				return 0, need
			}
			break
		}
		if stop || dir == c.client {
			break
		}
	}
	return pos, 0
}

// step handles one message (or one piece of skipped or resynchronised
// bytes). stop reports that a record was completed, so the caller returns
// and the next message gets exact timestamps.
func (c *conn) step(dir sdk.Direction, h *half, data []byte, ts, last int64) (n, need int, stop bool) {
	if h.skip > 0 {
		n = min(h.skip, len(data))
		// The message was charged in full when its prefix was parsed.
		h.skip -= n
		return n, 0, false
	}
	if h.resync {
		// A message found at data[0] is parsed in this same call: a call
		// that consumes nothing would not be repeated.
		if n = c.resync(dir, h, data); n > 0 || h.resync {
			return n, 0, false
		}
	}
	frontend := dir == c.client
	if frontend && h.untyped {
		if data[0] == 0x16 {
			// A TLS ClientHello where a startup message was due: the SSL
			// answer was not captured, but the stream is encrypted now.
			c.done = true
			c.out.Switch("tls")
			return 0, 0, true
		}
		if data[0] == 0 {
			if len(data) < 8 {
				return 0, 8, false
			}
			size := be32(data)
			if size < 8 || size > 10000 {
				h.resync = true
				return c.resync(dir, h, data), 0, false
			}
			if len(data) < size {
				return 0, size, false
			}
			stop = c.session.untyped(data[:size], ts, last)
			return size, 0, stop
		}
	}
	if !frontend && h.sslAnswer {
		h.sslAnswer = false
		switch data[0] {
		case 'S':
			c.session.sslAccepted()
			c.done = true
			c.out.Switch("tls")
			return 1, 0, true
		case 'G':
			c.session.sslAccepted()
			c.done = true
			return len(data), 0, true
		case 'N':
			return 1, 0, false
		}
	}
	if len(data) < 5 {
		return 0, 5, false
	}
	t, size := data[0], be32(data[1:])
	if size < 4 || size > maxMessage || !knownType(t, frontend) && !(size < 1<<20 && alnum(t)) {
		h.resync = true
		c.session.damaged(dir, "malformed message header")
		return c.resync(dir, h, data), 0, false
	}
	h.untyped = false
	total := size + 1
	if total <= maxBuffered {
		if len(data) < total {
			return 0, total, false
		}
		return total, 0, c.session.message(dir, t, data[5:total], total, false, ts, last)
	}
	if len(data) < maxBuffered {
		return 0, maxBuffered, false
	}
	stop = c.session.message(dir, t, data[5:maxBuffered], total, true, ts, last)
	h.skip = total - maxBuffered
	return maxBuffered, 0, stop
}

func alnum(t byte) bool {
	return 'A' <= t && t <= 'Z' || 'a' <= t && t <= 'z' || '0' <= t && t <= '9'
}

// resync passes over bytes until a whole, well-formed message starts. It
// decides at each offset only from bytes that are present, so how the
// stream was segmented does not change where it lands.
func (c *conn) resync(dir sdk.Direction, h *half, data []byte) int {
	frontend := dir == c.client
	for i := 0; i+5 <= len(data); i++ {
		t, size := data[i], be32(data[i+1:])
		if !knownType(t, frontend) || size < 4 || size+1 > maxBuffered {
			continue
		}
		if i+size+1 > len(data) {
			return i
		}
		body := data[i+5 : i+size+1]
		if frontend && validFrontend(t, body) || !frontend && validStrict(t, body) {
			h.resync = false
			return i
		}
	}
	return max(0, len(data)-4)
}

// validStrict accepts backend messages that can anchor a resync: ones
// with structure beyond a length.
func validStrict(t byte, body []byte) bool {
	switch t {
	case 'Z', 'C', 'E', 'N', 'T', 'D', 'R', 'S':
		ok, _ := validBackend(t, body)
		return ok
	}
	return false
}

// validFrontend checks the body of a frontend message for resync.
func validFrontend(t byte, body []byte) bool {
	switch t {
	case 'Q':
		return len(body) > 1 && body[len(body)-1] == 0 && printable(body[:len(body)-1])
	case 'P':
		_, rest, ok := cstring(body)
		if !ok {
			return false
		}
		sql, rest, ok := cstring(rest)
		return ok && printable(sql) && len(rest) >= 2 && len(rest) == 2+4*be16(rest)
	case 'B':
		_, ok := parseBind(body)
		return ok
	case 'E':
		_, rest, ok := cstring(body)
		return ok && len(rest) == 4
	case 'S', 'H', 'X':
		return len(body) == 0
	case 'D', 'C':
		return len(body) >= 2 && (body[0] == 'S' || body[0] == 'P') && body[len(body)-1] == 0
	}
	return false
}

// Gap drops what the lost bytes made uncertain: the framing of that
// direction and the pairing of requests with responses.
func (c *conn) Gap(dir sdk.Direction, n int, ts int64) {
	if c.done {
		return
	}
	h := &c.halves[dir]
	h.skip = 0
	h.resync = true
	h.untyped = false
	h.sslAnswer = false
	c.session.flush("bytes missing from capture", ts)
}

// Close emits the requests still waiting for a response.
func (c *conn) Close(ts int64) {
	if c.done {
		return
	}
	c.done = true
	c.session.flush(noResponse, ts)
}
