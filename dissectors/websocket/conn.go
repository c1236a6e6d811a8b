package websocket

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

type state uint8

const (
	stHeader  state = iota // expecting a frame header
	stPayload              // inside a frame's payload
	stResync               // after damage: waiting for a delivery that starts with a frame
)

// message is a data message (possibly fragmented) or a control frame.
type message struct {
	op         byte
	dir        sdk.Direction
	masked     bool
	compressed bool
	start, end int64
	size       int64 // wire bytes
	length     int64 // payload bytes
	missing    int64
	fragments  int
	final      bool // the frame that ends the message was seen
	// payload is unmasked: the first bodyPreview bytes, or, when the
	// message is compressed, the first maxInflateInput bytes up to any
	// hole, since decoding needs them in one piece.
	payload  []byte
	cut      bool       // a compressed payload lost bytes: nothing after them is kept
	inflated *inflation // a compressed message, decoded
	problem  string
}

// keep is how many payload bytes the message holds on to.
func (m *message) keep() int {
	if m.compressed {
		if m.cut {
			return 0
		}
		return maxInflateInput
	}
	return bodyPreview
}

// half parses one direction.
type half struct {
	st      state
	frame   header
	left    int64    // payload bytes of the current frame still to come
	offset  int64    // payload bytes of the current frame already seen (for unmasking)
	data    *message // data message being assembled
	control *message // control frame being read
	inf     inflater // permessage-deflate history of this side's messages
}

type conn struct {
	out    sdk.Emitter
	halves [2]half
	pings  [2][]*message // unanswered pings by sender
}

func newConn(out sdk.Emitter) *conn { return &conn{out: out} }

// cur is the message the current frame belongs to.
func (h *half) cur() *message {
	if h.frame.op >= opClose {
		return h.control
	}
	return h.data
}

// Feed parses frames, returning after each complete message so that the
// host's timestamp for the next one is exact.
func (c *conn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	h := &c.halves[dir]
	pos := 0
	for pos < len(data) {
		ts := first
		if pos > 0 {
			ts = last
		}
		before := h.st
		n, done := c.step(dir, h, data[pos:], ts)
		pos += n
		if done != nil {
			done.end = last
			c.finish(done)
			return pos, 0
		}
		if n == 0 && h.st == before {
			break
		}
	}
	return pos, 0
}

// step advances by one frame header or payload chunk; it returns a message
// once one is complete.
func (c *conn) step(dir sdk.Direction, h *half, data []byte, ts int64) (int, *message) {
	switch h.st {
	case stResync:
		if fh, err := parseHeader(data); err == nil && fh.size > 0 || err == nil && len(data) < 14 {
			h.st = stHeader
			return 0, nil
		}
		return len(data), nil
	case stPayload:
		m := h.cur()
		n := int(min(int64(len(data)), h.left))
		if room := m.keep() - len(m.payload); room > 0 {
			k := min(n, room)
			start := len(m.payload)
			m.payload = append(m.payload, data[:k]...)
			if h.frame.masked {
				for i := range k {
					m.payload[start+i] ^= h.frame.key[(h.offset+int64(i))&3]
				}
			}
		}
		h.offset += int64(n)
		h.left -= int64(n)
		m.size += int64(n)
		if h.left > 0 {
			return n, nil
		}
		h.st = stHeader
		return n, h.frameDone()
	}
	fh, err := parseHeader(data)
	if err != nil {
		c.damaged(h, "malformed frame: "+err.Error(), ts)
		return len(data), nil
	}
	if fh.size == 0 {
		return 0, nil
	}
	h.frame, h.left, h.offset = fh, fh.length, 0
	var m *message
	switch {
	case fh.op >= opClose:
		m = &message{op: fh.op, dir: dir, masked: fh.masked, start: ts}
		h.control = m
	case fh.op == opCont && h.data == nil:
		// A continuation whose first frame the capture missed.
		m = &message{op: opCont, dir: dir, masked: fh.masked, start: ts, problem: "first fragment not captured"}
		h.data = m
	case fh.op != opCont && h.data != nil:
		// A new message before the last one finished: report that one.
		old := h.data
		old.problem = "message not finished before the next began"
		c.finish(old)
		fallthrough
	case fh.op != opCont:
		m = &message{op: fh.op, dir: dir, masked: fh.masked, compressed: fh.rsv1, start: ts}
		h.data = m
	default:
		m = h.data
	}
	m.fragments++
	m.size += int64(fh.size)
	m.length += fh.length
	if m.fragments > maxFragments {
		c.damaged(h, "too many fragments", ts)
		return len(data), nil
	}
	if fh.length > 0 {
		h.st = stPayload
		return fh.size, nil
	}
	return fh.size, h.frameDone()
}

// frameDone ends the current frame and returns the message it completes.
func (h *half) frameDone() *message {
	if h.frame.op >= opClose {
		m := h.control
		h.control = nil
		return m
	}
	if !h.frame.fin {
		return nil
	}
	m := h.data
	m.final = true
	h.data = nil
	return m
}

// damaged reports what was being assembled and waits for a delivery that
// starts with a frame. Whole messages may be among what is skipped, so the
// side's compression history is no longer known.
func (c *conn) damaged(h *half, why string, ts int64) {
	for _, m := range []*message{h.data, h.control} {
		if m != nil {
			m.problem = why
			m.end = ts
			c.finish(m)
		}
	}
	h.data, h.control = nil, nil
	h.st = stResync
	h.inf.forget()
}

// inflate decodes a compressed message once it is over, in the order its
// side sent messages, which is the order the compression history needs.
func (c *conn) inflate(m *message) {
	if !m.compressed || m.inflated != nil {
		return
	}
	complete := m.final && !m.cut && int64(len(m.payload)) == m.length
	res := c.halves[m.dir].inf.inflate(m.payload, complete)
	if res.note == "" && res.err == "" && m.length > maxInflateInput {
		res.note = "only the first " + strconv.Itoa(maxInflateInput) + " compressed bytes were decompressed"
	}
	m.inflated = &res
}

// finish records a complete message; a PONG answers the oldest PING from
// the other side.
func (c *conn) finish(m *message) {
	c.inflate(m)
	switch m.op {
	case opPing:
		q := &c.pings[m.dir]
		if len(*q) >= maxPings {
			c.out.Emit(c.record((*q)[0], nil))
			*q = (*q)[1:]
		}
		*q = append(*q, m)
		return
	case opPong:
		q := &c.pings[m.dir.Reverse()]
		if len(*q) > 0 {
			ping := (*q)[0]
			*q = (*q)[1:]
			c.out.Emit(c.record(ping, m))
			return
		}
	}
	c.out.Emit(c.record(m, nil))
}

// Gap accounts for lost bytes: inside a payload they are missing payload;
// elsewhere parsing resumes at a delivery that starts with a frame.
func (c *conn) Gap(dir sdk.Direction, n int, ts int64) {
	h := &c.halves[dir]
	if h.st == stPayload && int64(n) < h.left {
		m := h.cur()
		h.left -= int64(n)
		h.offset += int64(n)
		m.missing += int64(n)
		m.size += int64(n)
		if m.compressed {
			m.cut = true
		}
		return
	}
	c.damaged(h, fmt.Sprintf("%d bytes missing from the capture", n), ts)
}

// Close reports messages cut short and pings never answered.
func (c *conn) Close(ts int64) {
	for d := sdk.DirA; d <= sdk.DirB; d++ {
		h := &c.halves[d]
		for _, m := range []*message{h.data, h.control} {
			if m != nil {
				m.problem = "connection ended before the message did"
				m.end = ts
				c.inflate(m)
				c.out.Emit(c.record(m, nil))
			}
		}
		h.data, h.control = nil, nil
	}
	for d := range c.pings {
		for _, p := range c.pings[d] {
			c.out.Emit(c.record(p, nil))
		}
		c.pings[d] = nil
	}
}

// closeInfo reads the status code and reason of a CLOSE payload.
func closeInfo(m *message) (int, string) {
	if m.op != opClose || len(m.payload) < 2 {
		return 0, ""
	}
	reason := m.payload[2:]
	if !utf8.Valid(reason) {
		return int(binary.BigEndian.Uint16(m.payload)), ""
	}
	return int(binary.BigEndian.Uint16(m.payload)), string(reason)
}
