package amqp

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Frame types.
const (
	frameMethod    = 1
	frameHeader    = 2
	frameBody      = 3
	frameHeartbeat = 8
	frameEnd       = 0xCE
)

var protocolHeader = []byte("AMQP\x00\x00\x09\x01")

type half struct {
	skip   int  // bytes of an oversized frame still to skip
	resync bool // the frame boundary is unknown
}

// pending is a synchronous method waiting for its reply.
type pending struct {
	ch  uint16
	dir sdk.Direction
	m   *method
	rec *sdk.Record
}

// content collects the header and body frames that follow a method.
type content struct {
	ch       uint16
	dir      sdk.Direction
	rec      *sdk.Record
	msg      *sdk.Message // the message the content belongs to
	header   bool
	bodySize uint64
	got      uint64
	preview  []byte
}

type conn struct {
	out      sdk.Emitter
	halves   [2]half
	pending  []*pending
	contents []*content
}

func newConn(_ sdk.ConnInfo, out sdk.Emitter) *conn { return &conn{out: out} }

func nanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Feed consumes one frame (or the protocol header) per call, so the host's
// first timestamp is exactly the frame's.
func (c *conn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	h := &c.halves[dir]
	if h.skip > 0 {
		n := min(len(data), h.skip)
		h.skip -= n
		return n, 0
	}
	if len(data) > 0 && data[0] == 'A' {
		// The protocol header opens a connection (or, from a broker,
		// refuses the version the client asked for).
		if len(data) < len(protocolHeader) && bytes.HasPrefix(protocolHeader, data) {
			return 0, len(protocolHeader)
		}
		if len(data) >= 8 && bytes.Equal(data[:4], protocolHeader[:4]) {
			h.resync = false
			return 8, 0
		}
	}
	if h.resync {
		if n, need := c.resync(h, data); n > 0 || h.resync {
			return n, need
		}
		// A frame starts right here: parse it now. Returning nothing
		// consumed would leave it unparsed when no more bytes come.
	}
	if len(data) < 7 {
		return 0, 7
	}
	typ := data[0]
	size := int(binary.BigEndian.Uint32(data[3:]))
	if !knownFrame(typ) || size > maxFrame {
		h.resync = true
		return c.resync(h, data)
	}
	total := 8 + size
	if len(data) < total && len(data) < holdLimit {
		return 0, min(total, holdLimit)
	}
	cut := len(data) < total || total > holdLimit
	if !cut && data[total-1] != frameEnd {
		h.resync = true
		return c.resync(h, data)
	}
	ch := binary.BigEndian.Uint16(data[1:])
	payload := data[7:min(7+size, holdLimit)]
	c.frame(dir, typ, ch, payload, size, first, last)
	if cut {
		n := min(len(data), holdLimit)
		h.skip = total - n
		return n, 0
	}
	return total, 0
}

func knownFrame(t byte) bool {
	return t == frameMethod || t == frameHeader || t == frameBody || t == frameHeartbeat
}

func (c *conn) frame(dir sdk.Direction, typ byte, ch uint16, payload []byte, size int, first, last int64) {
	switch typ {
	case frameMethod:
		c.method(dir, ch, parseMethod(payload), size+8, first, last)
	case frameHeader:
		ct := c.content(dir, ch)
		if ct == nil || ct.header {
			return
		}
		ct.header = true
		bodySize, props, ok := parseContentHeader(payload)
		ct.bodySize = bodySize
		ct.msg.Size += int64(size + 8)
		if len(props) > 0 {
			ct.msg.Set("amqp_properties", props)
			if v, _ := props.Get("headers"); v != nil {
				hs, _ := v.(sdk.Object)
				for _, h := range hs.Sorted() {
					s, ok := h.Value.(string)
					if !ok {
						// A table value reads as Go prints a map, as it did
						// before tables became sdk.Objects.
						s = fmt.Sprint(sdk.AsMaps(h.Value))
					}
					ct.msg.Headers = append(ct.msg.Headers, sdk.Header{Name: h.Key, Value: s})
				}
			}
		}
		if !ok {
			ct.rec.Error = "malformed content header"
		}
		if bodySize == 0 || !ok {
			c.finishContent(ct, last, "")
		}
	case frameBody:
		ct := c.content(dir, ch)
		if ct == nil || !ct.header {
			return
		}
		ct.msg.Size += int64(size + 8)
		if room := bodyPreview - len(ct.preview); room > 0 {
			ct.preview = append(ct.preview, payload[:min(room, len(payload))]...)
		}
		ct.got += uint64(size)
		if ct.got >= ct.bodySize {
			c.finishContent(ct, last, "")
		}
	}
}

func (c *conn) content(dir sdk.Direction, ch uint16) *content {
	for _, ct := range c.contents {
		if ct.dir == dir && ct.ch == ch {
			return ct
		}
	}
	return nil
}

// method files a method: a reply completes its request's record, a
// request starts one.
func (c *conn) method(dir sdk.Direction, ch uint16, m *method, size int, first, last int64) {
	if ct := c.content(dir, ch); ct != nil {
		// A method where content was due: the content was cut short.
		c.finishContent(ct, first, "content incomplete before the next method")
	}
	if isReply(m.cls, m.id) {
		c.reply(dir, ch, m, size, last)
		return
	}
	rec := c.newRecord(dir, ch, m, size, first)
	switch {
	case carriesContent(m.cls, m.id):
		c.expectContent(dir, ch, rec, rec.Request)
	case asynchronous(m.cls, m.id) || m.noWait:
		c.out.Emit(rec)
	default:
		if len(c.pending) >= maxPending {
			c.unanswered(c.pending[0])
			c.pending = c.pending[1:]
		}
		c.pending = append(c.pending, &pending{ch: ch, dir: dir, m: m, rec: rec})
	}
}

func (c *conn) expectContent(dir sdk.Direction, ch uint16, rec *sdk.Record, msg *sdk.Message) {
	if len(c.contents) >= maxPending {
		c.finishContent(c.contents[0], 0, "too many channels with content in flight")
	}
	c.contents = append(c.contents, &content{ch: ch, dir: dir, rec: rec, msg: msg})
}

func (c *conn) reply(dir sdk.Direction, ch uint16, m *method, size int, last int64) {
	idx := -1
	for i, p := range c.pending {
		if p.ch == ch && p.dir != dir && p.m.cls == m.cls && answers(m.cls, p.m.id, m.id) {
			idx = i
			break
		}
	}
	if idx < 0 {
		// The request was before the capture started.
		return
	}
	p := c.pending[idx]
	c.pending = append(c.pending[:idx], c.pending[idx+1:]...)
	resp := &sdk.Message{Size: int64(size)}
	describe(resp, ch, m)
	p.rec.Response = resp
	p.rec.End = nanos(last)
	if m.malformed {
		p.rec.Error = "malformed " + m.name + " arguments"
	}
	if m.cls == classBasic && m.id == basicGetOk {
		p.rec.Summary += " → " + m.exchange + "/" + m.routingKey
		c.expectContent(dir, ch, p.rec, resp)
	} else {
		c.out.Emit(p.rec)
	}
	// Nothing else on a closed channel (or connection) will be answered.
	if m.cls == classConnection && m.id == 51 || m.cls == classChannel && m.id == 41 {
		kept := c.pending[:0]
		for _, q := range c.pending {
			if m.cls == classConnection || q.ch == ch {
				c.unanswered(q)
				continue
			}
			kept = append(kept, q)
		}
		c.pending = kept
	}
}

func (c *conn) newRecord(dir sdk.Direction, ch uint16, m *method, size int, first int64) *sdk.Record {
	rec := &sdk.Record{
		Protocol:   "amqp",
		Method:     m.name,
		Path:       m.path(),
		Timestamp:  nanos(first),
		RequestDir: dir,
	}
	req := &sdk.Message{Size: int64(size)}
	describe(req, ch, m)
	rec.Request = req
	if m.malformed {
		rec.Error = "malformed " + m.name + " arguments"
	}
	if (m.cls == classConnection || m.cls == classChannel) && m.replyCode != 0 {
		rec.Status = m.replyCode
		rec.StatusText = m.replyText
		rec.Failed = m.replyCode >= 300
	}
	s := m.name
	if rec.Path != "" {
		s += " " + rec.Path
	}
	if m.replyCode != 0 {
		s += " " + itoa(m.replyCode) + " " + m.replyText
	}
	rec.Summary = s
	return rec
}

// describe puts a method's arguments on a message as fields.
func describe(msg *sdk.Message, ch uint16, m *method) {
	cls, _ := classes[m.cls]
	msg.Set("amqp_channel", int(ch)).Set("amqp_class", cls.name).Set("amqp_method", m.name)
	if m.exchange != "" || m.path() != "" && m.cls == classBasic {
		msg.Set("amqp_exchange", m.exchange)
	}
	if m.routingKey != "" {
		msg.Set("amqp_routing_key", m.routingKey)
	}
	if m.queue != "" {
		msg.Set("amqp_queue", m.queue)
	}
	if m.consumerTag != "" {
		msg.Set("amqp_consumer_tag", m.consumerTag)
	}
	if m.replyCode != 0 {
		msg.Set("amqp_reply_code", m.replyCode).Set("amqp_reply_text", m.replyText)
	}
	if m.hasTag {
		msg.Set("amqp_delivery_tag", m.deliveryTag)
	}
	if len(m.args) > 0 {
		msg.Set("amqp_arguments", m.args)
	}
}

func (c *conn) finishContent(ct *content, end int64, problem string) {
	for i, x := range c.contents {
		if x == ct {
			c.contents = append(c.contents[:i], c.contents[i+1:]...)
			break
		}
	}
	m := ct.msg
	m.BodySize = int64(ct.got)
	m.BodyTruncated = ct.got > uint64(len(ct.preview))
	if len(ct.preview) > 0 {
		if utf8.Valid(ct.preview) {
			m.Body = string(ct.preview)
		} else {
			m.Body = base64.StdEncoding.EncodeToString(ct.preview)
			m.Encoding = "base64"
		}
	}
	if problem != "" && ct.rec.Error == "" {
		ct.rec.Error = problem
	}
	if m == ct.rec.Response && end != 0 {
		ct.rec.End = nanos(end)
	}
	c.out.Emit(ct.rec)
}

func (c *conn) unanswered(p *pending) {
	if p.rec.Error == "" {
		p.rec.Error = "no response captured"
	}
	c.out.Emit(p.rec)
}

// resync looks for the next frame boundary: a known frame type whose
// frame-end octet sits where its size says.
func (c *conn) resync(h *half, data []byte) (int, int) {
	for i := 0; i < len(data); i++ {
		d := data[i:]
		if !knownFrame(d[0]) {
			continue
		}
		if len(d) < 7 {
			return i, 0
		}
		size := int(binary.BigEndian.Uint32(d[3:]))
		if size > holdLimit-8 {
			continue
		}
		if len(d) < size+8 {
			return i, 0
		}
		if d[size+7] == frameEnd && (d[0] != frameMethod || methodKnown(d[7:7+size])) {
			h.resync = false
			return i, 0
		}
	}
	return len(data), 0
}

func methodKnown(p []byte) bool {
	if len(p) < 4 {
		return false
	}
	_, ok := methodName(binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:]))
	return ok
}

// Gap drops content in flight in that direction and resynchronises.
func (c *conn) Gap(dir sdk.Direction, n int, ts int64) {
	h := &c.halves[dir]
	if h.skip > 0 && n < h.skip {
		h.skip -= n
		return
	}
	h.skip = 0
	h.resync = true
	for _, ct := range append([]*content(nil), c.contents...) {
		if ct.dir == dir {
			c.finishContent(ct, ts, fmt.Sprintf("%d bytes missing from the capture", n))
		}
	}
}

// Close emits content still being collected and unanswered methods.
func (c *conn) Close(ts int64) {
	for len(c.contents) > 0 {
		c.finishContent(c.contents[0], ts, "connection ended before the content did")
	}
	for _, p := range c.pending {
		c.unanswered(p)
	}
	c.pending = nil
}
