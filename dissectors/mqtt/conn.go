package mqtt

import (
	"fmt"
	"sort"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

type state uint8

const (
	stHeader  state = iota // expecting a fixed header
	stPayload              // streaming a PUBLISH payload
	stSkip                 // skipping the rest of a packet too large to parse
	stResync               // after damage: waiting for a delivery that starts with a packet
)

// half parses one direction.
type half struct {
	st   state
	cur  *packet
	left int64 // bytes of the current packet still to come
}

type conn struct {
	out       sdk.Emitter
	halves    [2]half
	clientDir sdk.Direction
	version   byte // protocol level, once CONNECT (or an MQTT 5 CONNACK) said
	seq       uint64
	connect   *packet
	pubs      [2]map[int]*packet // PUBLISH QoS>0 awaiting acknowledgement, by sender
	subs      map[int]*packet    // SUBSCRIBE/UNSUBSCRIBE awaiting their ack
	pings     []*packet
}

func newConn(info sdk.ConnInfo, out sdk.Emitter) *conn {
	// The host orients the connections it hands over, so DirA is the client.
	return &conn{out: out, clientDir: sdk.DirA, subs: map[int]*packet{},
		pubs: [2]map[int]*packet{{}, {}}}
}

// Feed parses as far as the data allows, returning after each complete
// packet so that the host's timestamp for the next one is exact.
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
		if done {
			p := h.cur
			h.cur = nil
			p.end = last
			c.finish(p)
			return pos, 0
		}
		if n == 0 && h.st == before {
			break
		}
	}
	return pos, 0
}

func (c *conn) step(dir sdk.Direction, h *half, data []byte, ts int64) (int, bool) {
	switch h.st {
	case stResync:
		// MQTT has no markers to search for; TCP segments usually start
		// with a packet, so a delivery that starts with a plausible one
		// is where parsing resumes.
		if plausible(data) {
			h.st = stHeader
			return 0, false
		}
		return len(data), false
	case stPayload, stSkip:
		n := int(min(int64(len(data)), h.left))
		p := h.cur
		if h.st == stPayload {
			if room := bodyPreview - len(p.payload); room > 0 {
				p.payload = append(p.payload, data[:min(n, room)]...)
			}
		}
		p.size += int64(n)
		h.left -= int64(n)
		if h.left == 0 {
			h.st = stHeader
			return n, true
		}
		return n, false
	}
	typ, flags, rem, hn, err := fixedHeader(data)
	if err != nil {
		h.st = stResync
		return len(data), false
	}
	if hn == 0 {
		return 0, false
	}
	p := &packet{typ: typ, flags: flags, dir: dir, start: ts, pid: -1, reason: -1}
	v5 := c.version == 5
	if typ == tPublish {
		p.qos, p.retain, p.dup = flags>>1&3, flags&1 != 0, flags&8 != 0
		avail := min(len(data)-hn, rem)
		vh, err := parseVariable(p, data[hn:hn+avail], rem, v5)
		if err != nil {
			if avail < rem && avail < 70<<10 {
				// The variable header may not have arrived yet.
				return 0, false
			}
			p.problem = "malformed: " + err.Error()
			vh = avail
		}
		p.payloadSize = int64(rem - vh)
		p.size = int64(hn + vh)
		h.cur, h.left, h.st = p, int64(rem-vh), stPayload
		if h.left == 0 {
			h.st = stHeader
			return hn + vh, true
		}
		return hn + vh, false
	}
	if rem > maxParsed {
		p.problem = "packet too large to parse"
		p.size = int64(hn)
		h.cur, h.left, h.st = p, int64(rem), stSkip
		return hn, false
	}
	if len(data) < hn+rem {
		return 0, false
	}
	if _, err := parseVariable(p, data[hn:hn+rem], rem, v5); err != nil {
		p.problem = "malformed: " + err.Error()
	}
	p.size = int64(hn + rem)
	h.cur = p
	return hn + rem, true
}

// finish files a complete packet: requests wait for their answer, answers
// close exchanges, one-way packets become records at once.
func (c *conn) finish(p *packet) {
	c.seq++
	p.seq = c.seq
	switch p.typ {
	case tConnect:
		if p.problem == "" {
			c.version = p.version
		}
		if c.connect != nil {
			c.emit(c.connect, nil)
		}
		c.connect = p
	case tConnack:
		if len(p.props) > 0 || p.size > 4 {
			c.version = 5
		}
		req := c.connect
		c.connect = nil
		c.emit(req, p)
	case tPublish:
		if p.qos == 0 || p.pid < 0 {
			c.emit(p, nil)
			return
		}
		m := c.pubs[p.dir]
		if old := m[p.pid]; old != nil {
			// A retransmission (DUP) or a reused id: the earlier one is
			// reported as it stands.
			c.emit(old, nil)
		}
		c.hold(m, p)
	case tPuback, tPubrec:
		m := c.pubs[p.dir.Reverse()]
		req := m[p.pid]
		if req != nil {
			delete(m, p.pid)
		}
		c.emit(req, p)
	case tPubrel, tPubcomp:
		// Part of the QoS 2 exchange its PUBLISH opened.
	case tSubscribe, tUnsubscribe:
		if old := c.subs[p.pid]; old != nil {
			c.emit(old, nil)
		}
		c.hold(c.subs, p)
	case tSuback, tUnsuback:
		req := c.subs[p.pid]
		if req != nil && req.typ+1 == p.typ {
			delete(c.subs, p.pid)
		} else {
			req = nil
		}
		c.emit(req, p)
	case tPingreq:
		if len(c.pings) >= maxPending {
			c.emit(c.pings[0], nil)
			c.pings = c.pings[1:]
		}
		c.pings = append(c.pings, p)
	case tPingresp:
		var req *packet
		if len(c.pings) > 0 {
			req, c.pings = c.pings[0], c.pings[1:]
		}
		c.emit(req, p)
	default: // DISCONNECT, AUTH
		c.emit(p, nil)
	}
}

// hold keeps a packet that awaits its answer, within the pending cap.
func (c *conn) hold(m map[int]*packet, p *packet) {
	if len(m) >= maxPending {
		oldest := -1
		for id, q := range m {
			if oldest < 0 || q.seq < m[oldest].seq {
				oldest = id
			}
		}
		c.emit(m[oldest], nil)
		delete(m, oldest)
	}
	m[p.pid] = p
}

// Gap accounts for lost bytes: inside a payload they are just missing
// payload; elsewhere parsing resumes at a later delivery that starts with
// a plausible packet.
func (c *conn) Gap(dir sdk.Direction, n int, ts int64) {
	h := &c.halves[dir]
	if (h.st == stPayload || h.st == stSkip) && int64(n) < h.left {
		h.left -= int64(n)
		h.cur.missing += int64(n)
		h.cur.size += int64(n)
		return
	}
	if p := h.cur; p != nil {
		h.cur = nil
		p.problem = fmt.Sprintf("%d bytes missing from the capture", n)
		p.end = ts
		c.finish(p)
	}
	h.st = stResync
}

// Close reports packets still awaiting an answer, oldest first.
func (c *conn) Close(ts int64) {
	for d := sdk.DirA; d <= sdk.DirB; d++ {
		h := &c.halves[d]
		if p := h.cur; p != nil {
			h.cur = nil
			p.problem = "connection ended before the packet did"
			p.end = ts
			c.finish(p)
		}
	}
	var left []*packet
	if c.connect != nil {
		left = append(left, c.connect)
	}
	left = append(left, c.pings...)
	for _, m := range []map[int]*packet{c.pubs[0], c.pubs[1], c.subs} {
		for _, p := range m {
			left = append(left, p)
		}
	}
	sort.Slice(left, func(i, j int) bool { return left[i].seq < left[j].seq })
	for _, p := range left {
		c.emit(p, nil)
	}
	c.connect, c.pings, c.subs = nil, nil, map[int]*packet{}
	c.pubs = [2]map[int]*packet{{}, {}}
}
