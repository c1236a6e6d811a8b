package dns

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// query is a request waiting for its response.
type query struct {
	msg  *parsed
	dir  sdk.Direction
	ts   int64
	size int
}

type conn struct {
	out     sdk.Emitter
	udp     bool
	pending []*query // oldest first
	resync  [2]bool  // TCP framing was lost to a gap in this direction
}

func newConn(info sdk.ConnInfo, out sdk.Emitter) *conn {
	return &conn{out: out, udp: info.UDP}
}

func nanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Feed takes one datagram (UDP) or the pending bytes of a TCP direction,
// returning after each length-prefixed message so that the host's first
// timestamp is exact for the next one.
func (c *conn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	if c.udp {
		c.message(dir, data, len(data), first, last)
		return len(data), 0
	}
	if c.resync[dir] {
		n, found := syncPoint(data)
		if !found {
			return n, 0
		}
		c.resync[dir] = false
		if n > 0 {
			// Return so that the message found starts a Feed of its own,
			// with its own first timestamp.
			return n, 0
		}
	}
	if len(data) < 2 {
		return 0, 2
	}
	size := int(binary.BigEndian.Uint16(data))
	if size < 12 {
		// No DNS message is that short: the framing is off.
		c.resync[dir] = true
		return 1, 0
	}
	if len(data) < 2+size {
		return 0, 2 + size
	}
	c.message(dir, data[2:2+size], 2+size, first, last)
	return 2 + size, 0
}

// syncPoint looks for the first offset where a length-prefixed message
// plausibly starts. found is false when none is certain yet; n is then how
// many leading bytes can be dropped for sure. Each candidate is walked for
// at most syncWalk bytes, so that crafted input cannot make the scan
// quadratic in the message size.
func syncPoint(data []byte) (n int, found bool) {
	const syncWalk = 2048
	for i := 0; i+2 <= len(data); i++ {
		size := int(binary.BigEndian.Uint16(data[i:]))
		if size < 12 {
			continue
		}
		msg := data[i+2:]
		complete := len(msg) >= size
		if complete {
			msg = msg[:size]
		}
		capped := len(msg) > syncWalk
		if capped {
			msg = msg[:syncWalk]
		}
		switch v, used, _ := walk(msg, true); {
		case v == vOK && complete && !capped && used == size:
			return i, true
		case v == vShort && capped:
			// Two kilobytes that parse cleanly are start enough.
			return i, true
		case v == vShort && !complete:
			// Cannot judge this candidate until more bytes arrive.
			return i, false
		}
	}
	return max(0, len(data)-1), false
}

// Gap loses TCP framing until a message start is found again. A lost
// datagram needs nothing: the next one is whole.
func (c *conn) Gap(dir sdk.Direction, _ int, _ int64) {
	if !c.udp {
		c.resync[dir] = true
	}
}

// Close emits the queries that never saw a response.
func (c *conn) Close(int64) {
	for _, q := range c.pending {
		c.emit(q, nil, 0, 0, "no response captured")
	}
	c.pending = nil
}

// message handles one whole DNS message of size wire bytes.
func (c *conn) message(dir sdk.Direction, msg []byte, size int, first, last int64) {
	m, ok := parse(msg)
	if !ok {
		return
	}
	if !m.response {
		if len(c.pending) >= maxPending {
			c.emit(c.pending[0], nil, 0, 0, "no response captured (too many outstanding queries)")
			c.pending = c.pending[1:]
		}
		c.pending = append(c.pending, &query{msg: m, dir: dir, ts: first, size: size})
		return
	}
	resp := &query{msg: m, dir: dir, ts: first, size: size}
	if i := c.match(m); i >= 0 {
		q := c.pending[i]
		c.pending = append(c.pending[:i], c.pending[i+1:]...)
		c.emit(q, resp, last, size, "")
		return
	}
	c.emit(nil, resp, last, size, "response without a captured query")
}

// match finds the oldest pending query a response answers: same id and,
// when both carry one, the same first question (names compared without
// regard to case, as resolvers randomise it).
func (c *conn) match(r *parsed) int {
	for i, q := range c.pending {
		if q.msg.id != r.id {
			continue
		}
		if len(q.msg.questions) == 0 || len(r.questions) == 0 {
			return i
		}
		a, b := q.msg.questions[0], r.questions[0]
		if a.typ == b.typ && strings.EqualFold(a.name, b.name) {
			return i
		}
	}
	return -1
}
