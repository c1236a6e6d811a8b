package redis

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// replyMode follows CLIENT REPLY, which makes the server skip replies.
type replyMode uint8

const (
	replyOn replyMode = iota
	replyOff
	replySkip
)

type conn struct {
	out       sdk.Emitter
	halves    [2]half
	clientDir sdk.Direction
	pending   []*msg // commands waiting for a reply, oldest first
	subscribe bool   // the client subscribed: arrays may now be pushed messages
	mode      replyMode
	// absorb counts further subscription confirmations the last
	// (UN)SUBSCRIBE command will receive (one per channel).
	absorb     int
	absorbKind string
}

func newConn(info sdk.ConnInfo, out sdk.Emitter) *conn {
	c := &conn{out: out}
	// The host orients every connection it hands over (by the handshake or
	// by the probe), so DirA is the client even when Oriented is false.
	c.clientDir = sdk.DirA
	c.halves[sdk.DirA].client = true
	return c
}

// Feed parses as far as the data allows, returning after each complete
// message so that the host's timestamp for the next one is exact.
func (c *conn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	h := &c.halves[dir]
	pos := 0
	for pos < len(data) {
		ts := first
		if pos > 0 {
			// Held-back bytes could not be parsed alone, so whatever starts
			// after some were consumed came in the newest delivery.
			ts = last
		}
		before := h.st
		n, complete := c.step(dir, h, data[pos:], ts)
		pos += n
		if complete {
			m := h.cur
			h.cur = nil
			m.end = last
			c.finish(dir, m)
			return pos, 0
		}
		if n == 0 && h.st == before {
			break
		}
	}
	return pos, 0
}

// step advances one direction by one line or bulk chunk.
func (c *conn) step(dir sdk.Direction, h *half, data []byte, ts int64) (int, bool) {
	switch h.st {
	case stResync:
		return c.resync(h, data), false
	case stBulk:
		n := int(min(int64(len(data)), h.bulkLeft))
		h.bulkData(data[:n])
		h.bulkLeft -= int64(n)
		h.cur.size += int64(n)
		if h.bulkLeft == 0 {
			h.st = stBulkEnd
		}
		return n, false
	case stBulkEnd:
		if data[0] != '\r' || len(data) > 1 && data[1] != '\n' {
			return c.malformed(h, "bulk string not followed by CRLF")
		}
		if len(data) < 2 {
			return 0, false
		}
		h.cur.size += 2
		return 2, h.bulkDone()
	case stChunk:
		n, complete, err := h.chunk(data)
		if err != nil {
			return c.malformed(h, err.Error())
		}
		return n, complete
	}
	if h.cur == nil {
		// Redis skips empty lines between inline commands; some servers
		// (test doubles, proxies) end replies with a stray line feed.
		if data[0] == '\r' || data[0] == '\n' {
			if data[0] == '\n' {
				return 1, false
			}
			if len(data) < 2 {
				return 0, false
			}
			if data[1] == '\n' {
				return 2, false
			}
		}
		h.cur = &msg{start: ts}
		// Like Redis itself, anything but '*' that starts a command is an
		// inline command, even if it looks like another RESP type.
		if h.client && data[0] != '*' {
			n, complete, err := h.inline(data)
			if err != nil {
				return c.malformed(h, err.Error())
			}
			if n == 0 {
				h.cur = nil
			}
			return n, complete
		}
	}
	n, complete, err := h.value(data)
	if err != nil {
		return c.malformed(h, err.Error())
	}
	if n == 0 && h.cur.size == 0 {
		// Nothing of the message has been taken yet; it starts afresh
		// (with the right timestamp) when more bytes arrive.
		h.cur = nil
	}
	return n, complete
}

// malformed ends the current message as damaged and looks for the next
// one. One byte is consumed so that parsing always progresses.
func (c *conn) malformed(h *half, why string) (int, bool) {
	h.st = stResync
	h.midLine = true
	h.stack, h.attrs = h.stack[:0], 0
	m := h.cur
	if m == nil {
		return 1, false
	}
	m.problem = "malformed: " + why
	m.size++
	return 1, true
}

// resync skips to the next line that can start a message in this
// direction.
func (c *conn) resync(h *half, data []byte) int {
	for i := 0; i < len(data); {
		if i > 0 || !h.midLine {
			h.midLine = false
			switch startsMessage(data[i:], h.client) {
			case 1:
				h.st = stValue
				return i
			case 0:
				if i > 0 {
					return i
				}
				if len(data) <= maxLine {
					return 0
				}
			}
		}
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			h.midLine = true
			return len(data)
		}
		i += j + 1
	}
	h.midLine = false
	return len(data)
}

// startsMessage judges whether data can begin a message: 1 yes, -1 no, 0
// cannot tell yet.
func startsMessage(data []byte, client bool) int {
	l, _, ok, err := line(data)
	if err != nil {
		return -1
	}
	if !ok {
		return 0
	}
	if client {
		if len(l) > 1 && l[0] == '*' {
			if n, ok := parseInt(l[1:]); ok && n > 0 && n <= maxElems {
				return 1
			}
			return -1
		}
		if f := bytes.Fields(l); len(f) > 0 && known(f[0]) {
			return 1
		}
		return -1
	}
	// An END marker closes a streamed aggregate; it cannot begin a value.
	if _, err := checkHeader(l); err == nil && l[0] != '.' {
		return 1
	}
	return -1
}

// finish files a complete message: a command joins the queue, a reply
// pairs with the oldest queued command, a push becomes a record of its own.
func (c *conn) finish(dir sdk.Direction, m *msg) {
	if dir == c.clientDir {
		c.command(m)
		return
	}
	kind := pushKind(m, c.subscribe)
	switch kind {
	case "message", "pmessage", "smessage":
		c.out.Emit(c.pushRecord(m, kind))
		return
	case "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe":
		if c.absorb > 0 && kind == c.absorbKind {
			c.absorb--
			if strings.HasPrefix(kind, "un") && len(m.elems) > 2 && string(m.elems[2]) == "0" {
				c.absorb = 0
			}
			return
		}
		if len(c.pending) == 0 || !strings.EqualFold(commandName(c.pending[0]), kind) {
			c.out.Emit(c.pushRecord(m, kind))
			return
		}
	default:
		if m.push {
			c.out.Emit(c.pushRecord(m, kind))
			return
		}
	}
	var req *msg
	if len(c.pending) > 0 {
		req = c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		if req.lost {
			req = nil
		}
	}
	if req != nil && kind != "" {
		// One confirmation arrives per channel named; the first answers
		// the command, the rest are part of the same exchange.
		c.absorbKind, c.absorb = kind, max(req.nelems-2, 0)
		if req.nelems == 1 && strings.HasPrefix(kind, "un") {
			c.absorb = 1 << 30
			if len(m.elems) > 2 && string(m.elems[2]) == "0" {
				c.absorb = 0
			}
		}
	}
	c.out.Emit(exchange(req, m, c.clientDir))
}

// command queues a complete command, or records it at once when the server
// will not reply to it.
func (c *conn) command(m *msg) {
	name := commandName(m)
	switch name {
	case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE":
		c.subscribe = true
	case "RESET":
		c.subscribe = false
	}
	if !m.inline && m.nelems == 0 && m.problem == "" {
		// Redis ignores a multibulk of length zero or less without a reply.
		return
	}
	noReply := ""
	if name == "CLIENT" && len(m.elems) > 2 && strings.EqualFold(string(m.elems[1]), "REPLY") {
		switch strings.ToUpper(string(m.elems[2])) {
		case "ON":
			c.mode = replyOn
		case "OFF":
			c.mode, noReply = replyOff, "no reply expected: CLIENT REPLY OFF"
		case "SKIP":
			c.mode, noReply = replySkip, "no reply expected: CLIENT REPLY SKIP"
		}
	} else if c.mode == replyOff {
		noReply = "no reply expected: CLIENT REPLY OFF"
	} else if c.mode == replySkip {
		c.mode, noReply = replyOn, "no reply expected: CLIENT REPLY SKIP"
	}
	if noReply != "" && m.problem == "" {
		r := exchange(m, nil, c.clientDir)
		r.Error = noReply
		c.out.Emit(r)
		return
	}
	if len(c.pending) >= maxPending {
		c.unanswered(c.pending[0])
		c.pending = c.pending[1:]
	}
	c.pending = append(c.pending, m)
}

func (c *conn) unanswered(m *msg) {
	if !m.lost {
		c.out.Emit(exchange(m, nil, c.clientDir))
	}
}

// commandName is the upper-case first element of a command.
func commandName(m *msg) string {
	if m == nil || len(m.elems) == 0 || m.elems[0] == nil {
		return ""
	}
	return strings.ToUpper(string(m.elems[0]))
}

// pushKind returns the kind of a pub/sub message or RESP3 push ("message",
// "subscribe", "invalidate", …), or "" for an ordinary reply. Arrays count
// only once the client has subscribed: before that ["message", …] is just
// data.
func pushKind(m *msg, subscribed bool) string {
	if m.typ != '>' && !(m.typ == '*' && subscribed) {
		return ""
	}
	m.push = m.typ == '>'
	if len(m.elems) == 0 || m.elems[0] == nil {
		return ""
	}
	k := strings.ToLower(string(m.elems[0]))
	if m.typ == '*' {
		switch k {
		case "message", "pmessage", "smessage", "subscribe", "psubscribe", "ssubscribe", "unsubscribe",
			"punsubscribe", "sunsubscribe":
		default:
			return ""
		}
	}
	return k
}

// lostStart accounts for a message whose start a gap swallowed, so that
// later replies still pair with their own commands.
func (c *conn) lostStart(dir sdk.Direction) {
	if dir == c.clientDir {
		c.pending = append(c.pending, &msg{lost: true})
		if len(c.pending) > maxPending {
			c.pending = c.pending[1:]
		}
		return
	}
	if len(c.pending) > 0 {
		c.unanswered(c.pending[0])
		c.pending = c.pending[1:]
	}
}

// Gap accounts for lost bytes. Inside a bulk string the loss is just
// missing content; anywhere else the parser resynchronises.
func (c *conn) Gap(dir sdk.Direction, n int, ts int64) {
	h := &c.halves[dir]
	lost := int64(n)
	m := h.cur
	if h.st == stBulk && lost < h.bulkLeft {
		h.bulkLeft -= lost
		m.missing += lost
		m.size += lost
		return
	}
	h.stack, h.attrs = h.stack[:0], 0
	h.st, h.midLine = stResync, false
	if m == nil {
		c.lostStart(dir)
		return
	}
	h.cur = nil
	m.missing += lost
	m.problem = fmt.Sprintf("%d bytes missing from the capture", lost)
	m.end = ts
	c.finish(dir, m)
}

// Close reports what is still held: a message cut short and commands that
// never saw a reply.
func (c *conn) Close(ts int64) {
	for d := sdk.DirA; d <= sdk.DirB; d++ {
		h := &c.halves[d]
		if m := h.cur; m != nil {
			h.cur = nil
			m.problem = "connection ended before the message did"
			if m.end == 0 {
				m.end = ts
			}
			c.finish(d, m)
		}
	}
	for _, m := range c.pending {
		c.unanswered(m)
	}
	c.pending = nil
}
