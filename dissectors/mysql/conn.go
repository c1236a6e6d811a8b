package mysql

import (
	"bytes"
	"compress/zlib"
	"io"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// half is the framing state of one direction.
type half struct {
	skip       int    // bytes of an oversized packet still to pass over
	resync     bool   // framing was lost: look for the next well-formed packet
	compressed bool   // packets are wrapped in the compressed protocol
	inner      []byte // decompressed bytes not yet parsed
	cont       bool   // the next packet continues a 16 MiB payload
	seen       bool   // a packet was parsed in this direction
}

type conn struct {
	out     sdk.Emitter
	client  sdk.Direction
	halves  [2]half
	done    bool
	session session
}

func newConn(info sdk.ConnInfo, out sdk.Emitter) *conn {
	// The host orients connections, so DirA is the client.
	c := &conn{out: out, client: sdk.DirA}
	c.session.c = c
	c.session.statements = map[uint32]string{}
	return c
}

func nanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Feed parses one packet per call on the client side, so each command's
// first byte has an exact time, and on the server side as many packets as
// do not complete a record.
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
		var n, need int
		var stop bool
		if h.compressed && h.skip == 0 {
			n, need, stop = c.stepCompressed(dir, h, data[pos:], ts, last)
		} else {
			n, need, stop = c.step(dir, h, data[pos:], ts, last)
		}
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
	if len(data) < 4 {
		return 0, 4, false
	}
	plen, seq := le3(data), data[3]
	if dir == c.client && !h.seen && c.session.phase == phaseUnknown && plen > 0 && len(data) >= 5 && data[4] == 0 {
		// COM_SLEEP is never sent: this is the compressed protocol seen
		// without the handshake that negotiated it.
		if ok, _ := compressedCommand(data); ok {
			c.halves[0].compressed, c.halves[1].compressed = true, true
			c.session.compressed = true
			return c.stepCompressed(dir, h, data, ts, last)
		}
		if len(data) < 7+plen && plen < maxBuffered {
			return 0, 7 + plen, false
		}
	}
	total := plen + 4
	cont := h.cont
	h.cont = plen == 0xffffff
	if total <= maxBuffered {
		if len(data) < total {
			h.cont = cont
			return 0, total, false
		}
		h.seen = true
		return total, 0, c.session.packet(dir, seq, data[4:total], total, cont, ts, last)
	}
	if len(data) < maxBuffered {
		h.cont = cont
		return 0, maxBuffered, false
	}
	h.seen = true
	stop = c.session.packet(dir, seq, data[4:maxBuffered], total, cont, ts, last)
	h.skip = total - maxBuffered
	return maxBuffered, 0, stop
}

// stepCompressed unwraps one compressed packet and parses the packets it
// completes. Packets may straddle compressed packets, so the inflated bytes
// are buffered (bounded).
func (c *conn) stepCompressed(dir sdk.Direction, h *half, data []byte, ts, last int64) (n, need int, stop bool) {
	if len(data) < 7 {
		return 0, 7, false
	}
	clen, ulen := le3(data), le3(data[4:])
	total := 7 + clen
	if total > maxCompressed || ulen > maxInflated {
		// Too big to inflate here: pass over it, and with it the framing
		// of the packets inside.
		h.inner = h.inner[:0]
		n = min(total, len(data))
		h.skip = total - n
		return n, 0, false
	}
	if len(data) < total {
		return 0, total, false
	}
	payload := data[7:total]
	if ulen == 0 {
		h.inner = append(h.inner, payload...)
	} else {
		zr, err := zlib.NewReader(bytes.NewReader(payload))
		if err != nil {
			h.inner = h.inner[:0]
			return total, 0, false
		}
		before := len(h.inner)
		buf := bytes.NewBuffer(h.inner)
		_, err = io.Copy(buf, io.LimitReader(zr, int64(ulen)))
		h.inner = buf.Bytes()
		if err != nil || len(h.inner)-before != ulen {
			h.inner = h.inner[:0]
			return total, 0, false
		}
	}
	if len(h.inner) > maxInflated {
		h.inner = h.inner[:0]
		return total, 0, false
	}
	pos := 0
	for len(h.inner)-pos >= 4 {
		plen, seq := le3(h.inner[pos:]), h.inner[pos+3]
		if pos+4+plen > len(h.inner) {
			break
		}
		cont := h.cont
		h.cont = plen == 0xffffff
		h.seen = true
		if c.session.packet(dir, seq, h.inner[pos+4:pos+4+plen], 4+plen, cont, ts, last) {
			stop = true
		}
		pos += 4 + plen
		if c.done {
			break
		}
	}
	h.inner = append(h.inner[:0], h.inner[pos:]...)
	return total, 0, stop
}

// resync passes over bytes until a whole, plausible packet starts: a
// command on the client side, the first packet of a response on the
// server side. It decides at each offset only from bytes that are
// present, so segmentation does not change where it lands.
func (c *conn) resync(dir sdk.Direction, h *half, data []byte) int {
	client := dir == c.client
	for i := 0; i+5 <= len(data); i++ {
		plen, seq := le3(data[i:]), data[i+3]
		if plen == 0 || plen+4 > maxBuffered || client && seq != 0 || !client && seq != 1 {
			continue
		}
		if i+4+plen > len(data) {
			if client && !plausibleStart(data[i+4:]) {
				continue
			}
			return i
		}
		p := data[i+4 : i+4+plen]
		if client && plausibleCommand(p) || !client && plausibleResponse(p) {
			h.resync = false
			return i
		}
	}
	return max(0, len(data)-4)
}

// plausibleStart judges the start of a client packet that is not whole
// yet, so that resync does not wait on a length read from garbage.
func plausibleStart(p []byte) bool {
	switch p[0] {
	case comQuery, comStmtPrepare, comInitDB:
		return printablePrefix(p[1:])
	case comStmtExecute, comStmtClose, comStmtReset, comPing, comQuit, comStatistics, comResetConnection:
		return true
	}
	return false
}

func plausibleCommand(p []byte) bool {
	switch p[0] {
	case comQuery, comStmtPrepare:
		return sqlStart(p[1:])
	case comPing, comQuit, comStatistics, comResetConnection:
		return len(p) == 1
	case comInitDB:
		return len(p) > 1 && printable(p[1:])
	case comStmtExecute, comStmtClose, comStmtReset:
		return len(p) >= 5
	}
	return false
}

func plausibleResponse(p []byte) bool {
	switch p[0] {
	case 0x00:
		_, ok := parseOK(p)
		return ok && len(p) >= 7
	case 0xff:
		return len(p) >= 9 && p[3] == '#'
	}
	return len(p) <= 3 && p[0] > 0 && p[0] < 0xfb
}

// Gap drops what the lost bytes made uncertain: the framing of that
// direction and the command waiting for its response.
func (c *conn) Gap(dir sdk.Direction, n int, ts int64) {
	if c.done {
		return
	}
	h := &c.halves[dir]
	h.skip, h.cont = 0, false
	h.inner = h.inner[:0]
	if !h.compressed {
		h.resync = true
	}
	c.session.flush("bytes missing from capture")
}

// Close emits the command still waiting for a response.
func (c *conn) Close(ts int64) {
	if c.done {
		return
	}
	c.done = true
	c.session.flush(noResponse)
}
