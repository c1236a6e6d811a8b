package http2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/preview"
)

type hstate uint8

const (
	stStart  hstate = iota // a client preface may come first
	stFrames               // at a frame boundary
	stData                 // inside a DATA frame's payload
	stSkip                 // inside a payload that is being discarded
	stResync               // looking for a frame boundary after damage
)

// half is the parser of one direction.
type half struct {
	st       hstate
	fh       frameHeader // the frame in progress in stData and stSkip
	dataLeft uint32
	padLeft  uint32
	skipLeft uint32
	// maxFrame is the SETTINGS_MAX_FRAME_SIZE the other side announced;
	// it bounds the search for frame boundaries.
	maxFrame uint32
	dec      *headerDecoder
	blk      headerBlock
}

// headerBlock is a HEADERS or PUSH_PROMISE block waiting for its
// CONTINUATION frames.
type headerBlock struct {
	active    bool
	stream    uint32
	promised  uint32 // non-zero for PUSH_PROMISE
	endStream bool
	start     int64
	size      int64 // frame bytes
	buf       []byte
	overflow  bool
}

type conn struct {
	// previews decodes compressed bodies with decompressors kept from one
	// stream to the next (see preview.Decoder).
	previews preview.Decoder

	out        sdk.Emitter
	halves     [2]half
	clientDir  sdk.Direction
	clientSure bool
	streams    map[uint32]*stream
	closed     map[uint32]struct{} // streams already emitted
	retained   int                 // header and body bytes held by open streams
	resets     []*stream           // reset streams waiting for the peer's in-flight frames
}

func newConn(info sdk.ConnInfo, out sdk.Emitter) *conn {
	c := &conn{out: out, streams: map[uint32]*stream{}, closed: map[uint32]struct{}{}}
	if info.Oriented {
		c.clientDir, c.clientSure = sdk.DirA, true
	}
	for d := range c.halves {
		c.halves[d].maxFrame = defaultMaxFrame
		c.halves[d].dec = newHeaderDecoder(initialTable)
	}
	return c
}

// Feed parses frames. It returns before a HEADERS or PUSH_PROMISE frame that
// is not at data[0], so that the host's timestamp for the exchange it starts
// is exact.
func (c *conn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	h := &c.halves[dir]
	pos := 0
	for pos < len(data) {
		if pos > 0 && h.st == stFrames && len(data)-pos >= frameHeaderLen {
			if t := data[pos+3]; t == frameHeaders || t == framePushPromise {
				return pos, 0
			}
		}
		ts := first
		if pos > 0 {
			ts = last
		}
		n, need := c.step(dir, h, data[pos:], ts, last)
		if n == 0 {
			if need > 0 {
				need += pos
			}
			return pos, need
		}
		pos += n
	}
	return pos, 0
}

// step advances one direction by one frame or part of one. It returns the
// bytes consumed and, when that is zero, how many it needs.
func (c *conn) step(dir sdk.Direction, h *half, data []byte, ts, last int64) (int, int) {
	switch h.st {
	case stStart:
		if len(data) < prefaceLen && bytes.HasPrefix([]byte(preface), data) {
			return 0, prefaceLen
		}
		if bytes.HasPrefix(data, []byte(preface)) {
			if !c.clientSure {
				c.clientDir, c.clientSure = dir, true
			}
			h.st = stFrames
			return prefaceLen, 0
		}
		if len(data) < frameHeaderLen {
			return 0, frameHeaderLen
		}
		// A capture that began mid-connection: trust a first frame that
		// looks right (the host's probe saw it), otherwise search.
		h.st = stResync
		if len(data) >= frameHeaderLen && parseFrameHeader(data).wellFormed() && data[3] <= frameContinuation {
			h.st = stFrames
		}
		return c.step(dir, h, data, ts, last)
	case stFrames:
		return c.frameStart(dir, h, data, ts, last)
	case stData:
		n := min(uint32(len(data)), h.dataLeft+h.padLeft)
		d := min(n, h.dataLeft)
		h.dataLeft -= d
		h.padLeft -= n - d
		s := c.stream(h.fh.stream, false)
		if s != nil {
			m := s.side(dir)
			m.size += int64(n)
			c.appendBody(s, m, data[:d])
		}
		if h.dataLeft == 0 && h.padLeft == 0 {
			h.st = stFrames
			c.dataEnd(dir, h.fh, last)
		}
		return int(n), 0
	case stSkip:
		n := min(uint32(len(data)), h.skipLeft)
		h.skipLeft -= n
		if h.skipLeft == 0 {
			h.st = stFrames
		}
		return int(n), 0
	case stResync:
		i, found := findFrame(data, max(h.maxFrame, defaultMaxFrame))
		if found {
			h.st = stFrames
			if i == 0 {
				return c.step(dir, h, data, ts, last)
			}
		}
		if i == 0 {
			return 0, len(data) + 1
		}
		return i, 0
	}
	return 0, 0
}

// findFrame looks for a frame boundary: a plausible frame header whose
// successor is plausible too. Where the data happens to end must not decide
// (records may not depend on segmentation), so a candidate whose successor
// has not arrived is kept until it has. It returns how many bytes can be
// dropped when nothing was found.
func findFrame(data []byte, maxFrame uint32) (int, bool) {
	for i := 0; i+frameHeaderLen <= len(data); i++ {
		h := parseFrameHeader(data[i:])
		if !h.plausible(maxFrame) {
			continue
		}
		next := i + frameHeaderLen + int(h.length)
		switch {
		case next+frameHeaderLen <= len(data):
			if parseFrameHeader(data[next:]).plausible(maxFrame) {
				return i, true
			}
		default:
			// Cannot tell yet: keep these bytes until more arrive.
			return i, false
		}
	}
	return max(0, len(data)-frameHeaderLen+1), false
}

func (c *conn) frameStart(dir sdk.Direction, h *half, data []byte, ts, last int64) (int, int) {
	if len(data) < frameHeaderLen {
		return 0, frameHeaderLen
	}
	fh := parseFrameHeader(data)
	if len(c.resets) > 0 {
		c.settleResets(dir, fh)
	}
	if !fh.wellFormed() {
		// Bytes that cannot be a frame here: the stream is damaged.
		c.lostSync(dir, h, "malformed frame header")
		return c.step(dir, h, data, ts, last)
	}
	if fh.typ == frameData {
		off := uint32(frameHeaderLen)
		var pad uint32
		if fh.flags&flagPadded != 0 {
			if len(data) < frameHeaderLen+1 {
				return 0, frameHeaderLen + 1
			}
			pad = uint32(data[frameHeaderLen])
			off++
			if pad > fh.length-1 {
				h.st, h.skipLeft = stSkip, fh.length
				return frameHeaderLen, 0
			}
		}
		h.fh = fh
		h.dataLeft = fh.length - (off - frameHeaderLen) - pad
		h.padLeft = pad
		if s := c.stream(fh.stream, false); s != nil {
			s.side(dir).size += int64(off)
		}
		h.st = stData
		if h.dataLeft == 0 && h.padLeft == 0 {
			h.st = stFrames
			c.dataEnd(dir, fh, last)
		}
		return int(off), 0
	}
	if fh.length > maxControlFrame {
		// Too big to hold; a header block lost this way leaves the HPACK
		// table unknown.
		if fh.typ == frameHeaders || fh.typ == framePushPromise || fh.typ == frameContinuation {
			c.blockLost(dir, h, fh.stream, "header block larger than "+fmt.Sprint(maxControlFrame)+" bytes skipped")
		}
		h.st, h.skipLeft = stSkip, fh.length
		return frameHeaderLen, 0
	}
	total := frameHeaderLen + int(fh.length)
	if len(data) < total {
		return 0, total
	}
	c.frame(dir, h, fh, data[frameHeaderLen:total], ts, last)
	return total, 0
}

// lostSync starts a search for the next frame boundary. Header blocks may
// be among the lost bytes, so the HPACK table starts over.
func (c *conn) lostSync(dir sdk.Direction, h *half, why string) {
	h.st = stResync
	if h.blk.active {
		c.blockLost(dir, h, h.blk.stream, why)
	}
	h.dec.reset(lenientTable)
	for _, s := range c.streams {
		m := s.side(dir)
		if m.seen && !m.ended {
			m.note(why)
			m.grpc.broken = true
		}
	}
}

// blockLost accounts for a header block that could not be decoded.
func (c *conn) blockLost(dir sdk.Direction, h *half, id uint32, why string) {
	h.blk = headerBlock{buf: h.blk.buf[:0]}
	h.dec.reset(lenientTable)
	if s := c.stream(id, false); s != nil {
		s.side(dir).note(why)
	}
}

func (c *conn) frame(dir sdk.Direction, h *half, fh frameHeader, p []byte, ts, last int64) {
	if h.blk.active && fh.typ != frameContinuation {
		// RFC 9113 §6.10: nothing may interleave with a header block.
		c.endBlock(dir, h, last, "header block missing its CONTINUATION")
	}
	switch fh.typ {
	case frameHeaders, framePushPromise:
		off, pad := 0, 0
		if fh.flags&flagPadded != 0 {
			pad = int(p[0])
			off++
		}
		if fh.flags&flagPriority != 0 && fh.typ == frameHeaders {
			off += 5
		}
		var promised uint32
		if fh.typ == framePushPromise {
			if off+4 > len(p) {
				c.blockLost(dir, h, fh.stream, "malformed PUSH_PROMISE")
				return
			}
			promised = binary.BigEndian.Uint32(p[off:]) & 0x7fffffff
			off += 4
			if promised == 0 {
				c.blockLost(dir, h, fh.stream, "malformed PUSH_PROMISE")
				return
			}
		}
		if off+pad > len(p) {
			c.blockLost(dir, h, fh.stream, "header block padding exceeds the frame")
			return
		}
		h.blk = headerBlock{active: true, stream: fh.stream, promised: promised,
			endStream: fh.typ == frameHeaders && fh.flags&flagEndStream != 0,
			start:     ts, size: int64(frameHeaderLen + len(p)), buf: append(h.blk.buf[:0], p[off:len(p)-pad]...)}
		if fh.flags&flagEndHeaders != 0 {
			c.endBlock(dir, h, last, "")
		}
	case frameContinuation:
		if !h.blk.active || h.blk.stream != fh.stream {
			// The block's start was lost: this fragment cannot be decoded
			// and the table may have missed insertions.
			c.blockLost(dir, h, fh.stream, "CONTINUATION without its HEADERS")
			return
		}
		h.blk.size += int64(frameHeaderLen + len(p))
		if len(h.blk.buf)+len(p) > maxHeaderBlock {
			h.blk.overflow = true
		} else {
			h.blk.buf = append(h.blk.buf, p...)
		}
		if fh.flags&flagEndHeaders != 0 {
			c.endBlock(dir, h, last, "")
		}
	case frameRSTStream:
		s := c.stream(fh.stream, false)
		if s == nil || s.reset != "" {
			return
		}
		code := binary.BigEndian.Uint32(p)
		s.reset = errorCodeName(code)
		s.resetBy = "server"
		if dir == s.reqDir {
			s.resetBy = "client"
		}
		s.side(dir).errCode = &code
		if s.side(dir.Reverse()).ended {
			c.emit(s, "")
			return
		}
		// Frames the peer sent before the reset reached it are still on
		// their way (a response to a cancelled request): the record waits
		// until the peer has moved on.
		s.resetDir = dir
		c.resets = append(c.resets, s)
	case frameSettings:
		if fh.flags&flagAck != 0 {
			return
		}
		other := &c.halves[dir.Reverse()]
		for i := 0; i+6 <= len(p); i += 6 {
			v := binary.BigEndian.Uint32(p[i+2:])
			switch binary.BigEndian.Uint16(p[i:]) {
			case settingHeaderTableSize:
				other.dec.setAllowed(v)
			case settingMaxFrameSize:
				if validSetting(settingMaxFrameSize, v) {
					other.maxFrame = v
				}
			}
		}
	case frameGoAway:
		c.goAway(dir, binary.BigEndian.Uint32(p)&0x7fffffff, binary.BigEndian.Uint32(p[4:]))
	}
}

// goAway ends the streams the GOAWAY's sender will not process (those its
// peer opened above the last stream id) and marks the others when the
// connection is going away because of an error.
func (c *conn) goAway(dir sdk.Direction, lastID, code uint32) {
	// Clients open odd streams; the GOAWAY's receiver opened the refused
	// ones.
	receiverOdd := dir != c.clientDir
	name := errorCodeName(code)
	for _, id := range c.openIDs() {
		s := c.streams[id]
		if id > lastID && (id%2 == 1) == receiverOdd {
			s.goaway = "not processed: GOAWAY (" + name + ") with last stream " + fmt.Sprint(lastID)
			c.emit(s, "")
		} else if code != 0 {
			s.goaway = "connection closing with GOAWAY (" + name + ")"
		}
	}
}

func (c *conn) openIDs() []uint32 {
	ids := make([]uint32, 0, len(c.streams))
	for id := range c.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// stream finds a stream, opening it when create is set and it was not
// already emitted.
func (c *conn) stream(id uint32, create bool) *stream {
	if s, ok := c.streams[id]; ok {
		return s
	}
	if _, done := c.closed[id]; done || !create {
		return nil
	}
	if len(c.streams) >= maxStreams {
		c.emit(c.streams[c.openIDs()[0]], "too many concurrent streams to track")
	}
	s := &stream{id: id, reqDir: c.clientDir}
	c.streams[id] = s
	return s
}

func (c *conn) appendBody(s *stream, m *message, p []byte) {
	m.bodySize += int64(len(p))
	if !m.seen {
		m.grpc.broken = true
	}
	m.grpc.feed(p)
	room := min(m.bodyCap-len(m.body), maxRetained-c.retained)
	if room <= 0 || len(p) == 0 {
		return
	}
	if len(p) > room {
		p = p[:room]
	}
	m.body = append(m.body, p...)
	c.retained += len(p)
	s.retained += len(p)
}

func (c *conn) dataEnd(dir sdk.Direction, fh frameHeader, last int64) {
	if fh.flags&flagEndStream == 0 {
		return
	}
	s := c.stream(fh.stream, false)
	if s == nil {
		return
	}
	m := s.side(dir)
	m.ended, m.end = true, last
	if s.done() {
		c.emit(s, "")
	}
}

// settleResets emits the reset streams whose peer is now sending something
// else, or has ended its side.
func (c *conn) settleResets(dir sdk.Direction, fh frameHeader) {
	keep := c.resets[:0]
	var ready []*stream
	for _, s := range c.resets {
		if c.streams[s.id] != s {
			continue // already emitted
		}
		if s.resetDir != dir && fh.stream != s.id {
			ready = append(ready, s)
			continue
		}
		keep = append(keep, s)
	}
	clear(c.resets[len(keep):])
	c.resets = keep
	for _, s := range ready {
		c.emit(s, "")
	}
}

// emit hands a stream over as a record and forgets it.
func (c *conn) emit(s *stream, why string) {
	delete(c.streams, s.id)
	if len(c.closed) >= maxClosed {
		clear(c.closed)
	}
	c.closed[s.id] = struct{}{}
	c.retained -= s.retained
	if !s.req.seen && !s.resp.seen {
		// Only DATA of a stream whose headers the capture missed: there is
		// nothing to say what the exchange was.
		return
	}
	for _, m := range []*message{&s.req, &s.resp} {
		if m.grpc.partial() && !m.grpc.broken && m.ended {
			m.note("DATA ends inside a gRPC message")
		}
		if m.unknown > 0 {
			m.note(fmt.Sprintf("%d header fields refer to HPACK table entries the capture did not see", m.unknown))
		}
	}
	c.out.Emit(s.record(why, &c.previews))
	if s.isDoH() {
		if r := s.dohRecord(); r != nil {
			c.out.Emit(r)
		}
	}
}

// Gap accounts for lost bytes. Inside a DATA payload the loss is just
// missing body; elsewhere frame alignment and the HPACK table are lost.
func (c *conn) Gap(dir sdk.Direction, n int, ts int64) {
	h := &c.halves[dir]
	lost := uint32(min(n, 1<<30))
	switch h.st {
	case stData:
		if total := h.dataLeft + h.padLeft; lost <= total {
			d := min(lost, h.dataLeft)
			h.dataLeft -= d
			h.padLeft -= lost - d
			if s := c.stream(h.fh.stream, false); s != nil {
				m := s.side(dir)
				m.size += int64(lost)
				m.bodySize += int64(d)
				m.missing += int64(d)
				if d > 0 {
					m.grpc.broken = true
				}
			}
			if h.dataLeft == 0 && h.padLeft == 0 {
				h.st = stFrames
				c.dataEnd(dir, h.fh, ts)
			}
			return
		}
	case stSkip:
		if lost <= h.skipLeft {
			h.skipLeft -= lost
			if h.skipLeft == 0 {
				h.st = stFrames
			}
			return
		}
	}
	c.lostSync(dir, h, fmt.Sprintf("%d bytes lost from the capture", n))
}

// Close emits every stream still open.
func (c *conn) Close(ts int64) {
	for d := range c.halves {
		h := &c.halves[d]
		if h.blk.active {
			c.endBlock(sdk.Direction(d), h, ts, "connection ended inside a header block")
		}
	}
	for _, id := range c.openIDs() {
		c.emit(c.streams[id], "connection closed before the stream ended")
	}
}
