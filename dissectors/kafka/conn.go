package kafka

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// half is the framing state of one direction.
type half struct {
	skip   int64       // bytes of an oversized message still to skip
	held   *sdk.Record // a response record waiting for its skipped tail
	resync bool        // the position in the stream is unknown
}

type conn struct {
	out         sdk.Emitter
	halves      [2]half
	clientDir   sdk.Direction
	clientKnown bool
	pending     []*request // requests waiting for a response, oldest first
}

func newConn(info sdk.ConnInfo, out sdk.Emitter) *conn {
	c := &conn{out: out}
	if info.Oriented {
		c.clientDir, c.clientKnown = sdk.DirA, true
	}
	return c
}

func nanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Feed consumes at most one message per call so that the host's first
// timestamp for the next message is exact.
func (c *conn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	h := &c.halves[dir]
	if h.skip > 0 {
		n := int(min(int64(len(data)), h.skip))
		h.skip -= int64(n)
		if h.skip == 0 && h.held != nil {
			h.held.End = nanos(last)
			c.out.Emit(h.held)
			h.held = nil
		}
		return n, 0
	}
	if h.resync {
		return c.resync(dir, h, data)
	}
	if len(data) < 4 {
		return 0, 4
	}
	size := int64(binary.BigEndian.Uint32(data))
	if size > maxMessage || size < 4 {
		h.resync = true
		return c.resync(dir, h, data)
	}
	total := 4 + size
	if int64(len(data)) < total && len(data) < holdLimit {
		return 0, int(min(total, holdLimit))
	}
	msg := data[4:min(int64(len(data)), total, holdLimit)]
	cut := int64(len(msg))+4 < total
	consumed := 4 + len(msg)
	if !c.clientKnown {
		c.clientDir = dir
		if validRequest(data) != lookRequest {
			c.clientDir = dir.Reverse()
		}
		c.clientKnown = true
	}
	if dir == c.clientDir {
		c.onRequest(dir, msg, total, cut, first, last)
	} else {
		rec := c.onResponse(msg, total, cut, last)
		if rec != nil && cut {
			h.held = rec
		} else if rec != nil {
			c.out.Emit(rec)
		}
	}
	if cut {
		h.skip = total - int64(consumed)
	}
	return consumed, 0
}

func (c *conn) onRequest(dir sdk.Direction, msg []byte, total int64, cut bool, first, last int64) {
	req, r, ok := parseHeader(msg)
	if !ok {
		// Not a request header where requests flow: the stream is damaged
		// or was never Kafka. Resynchronise on the next plausible header.
		c.halves[dir].resync = true
		return
	}
	req.start, req.end, req.size, req.cut = first, last, total, cut
	req.parseTopics(r)
	req.preview = append([]byte(nil), msg[min(req.bodyAt, len(msg)):min(len(msg), req.bodyAt+bodyPreview)]...)
	if req.noResponse {
		c.emit(req, nil)
		return
	}
	if len(c.pending) >= maxPending {
		c.emit(c.pending[0], nil)
		c.pending = c.pending[1:]
	}
	c.pending = append(c.pending, req)
}

// response is the parsed part of a response.
type response struct {
	code   int16
	parsed bool
	size   int64
	end    int64
	cut    bool
}

func (c *conn) onResponse(msg []byte, total int64, cut bool, last int64) *sdk.Record {
	if len(msg) < 4 {
		return nil
	}
	corr := int32(binary.BigEndian.Uint32(msg))
	idx := -1
	for i, p := range c.pending {
		if p.corr == corr {
			idx = i
			break
		}
	}
	if idx < 0 {
		// A response to a request the capture missed: without the request
		// its API is unknown, so there is nothing to report.
		return nil
	}
	// Brokers answer in order, so requests queued before this one will
	// never be answered.
	for _, p := range c.pending[:idx] {
		c.emit(p, nil)
	}
	req := c.pending[idx]
	c.pending = c.pending[idx+1:]
	r := &reader{b: msg, pos: 4, flex: flexibleResponseHeader(req.key, req.version)}
	r.tags()
	r.flex = req.flex
	resp := &response{size: total, end: last, cut: cut}
	resp.code, resp.parsed = parseResponse(r, req.key, req.version)
	return c.record(req, resp)
}

func (c *conn) emit(req *request, resp *response) {
	c.out.Emit(c.record(req, resp))
}

// record builds the record of one exchange; resp is nil when no response
// was captured or none is expected.
func (c *conn) record(req *request, resp *response) *sdk.Record {
	name := apiName(req.key)
	rec := &sdk.Record{
		Protocol:   "kafka",
		Method:     name,
		Path:       strings.Join(req.topics, ","),
		Timestamp:  nanos(req.start),
		RequestDir: c.clientDir,
	}
	m := &sdk.Message{Size: req.size, BodySize: req.size - 4 - int64(req.bodyAt)}
	m.Set("kafka_api_key", int(req.key)).Set("kafka_api_key_name", name).
		Set("kafka_api_version", int(req.version)).Set("kafka_correlation_id", int(req.corr))
	if req.clientID != "" {
		m.Set("kafka_client_id", req.clientID)
	}
	if len(req.topics) > 0 {
		m.Set("kafka_topics", req.topics)
	}
	if req.allTopics {
		m.Set("kafka_all_topics", true)
	}
	if req.topicNote != "" {
		m.Set("kafka_topics_note", req.topicNote)
	}
	if len(req.preview) > 0 {
		m.Body = base64.StdEncoding.EncodeToString(req.preview)
		m.Encoding = "base64"
		m.BodyTruncated = int64(len(req.preview)) < m.BodySize
	}
	rec.Request = m
	summary := name + " v" + itoa(int(req.version))
	if rec.Path != "" {
		summary += " " + rec.Path
	}
	switch {
	case resp != nil:
		rm := &sdk.Message{Size: resp.size}
		rm.Set("kafka_error_code", int(resp.code))
		if !resp.parsed {
			rm.Set("kafka_response_parsed", false)
		}
		rec.Response = rm
		rec.End = nanos(resp.end)
		rec.Status = int(resp.code)
		rec.StatusText = errorName(resp.code)
		rec.Failed = resp.code != 0
		if resp.code != 0 {
			rm.Set("kafka_error_name", rec.StatusText)
		}
		summary += " → " + rec.StatusText
		if resp.cut {
			rec.Error = "response larger than the parse window: errors searched in its first 64 KiB"
		}
	case req.noResponse:
		summary += " (acks=0, no response expected)"
	default:
		rec.Error = "no response captured"
	}
	if req.cut && rec.Error == "" {
		rec.Error = "request larger than the parse window: parsed its first 64 KiB"
	}
	rec.Summary = summary
	return rec
}

// resync looks for the next message start after damage: a request header
// where requests flow, or a response to a pending correlation id.
func (c *conn) resync(dir sdk.Direction, h *half, data []byte) (int, int) {
	isReq := c.clientKnown && dir == c.clientDir
	for i := 0; i < len(data); i++ {
		d := data[i:]
		if isReq {
			switch validRequest(d) {
			case lookRequest:
				h.resync = false
				return i, 0
			case lookMaybe:
				return i, 0
			}
			continue
		}
		if len(d) < 8 {
			return i, 0
		}
		size := binary.BigEndian.Uint32(d)
		corr := int32(binary.BigEndian.Uint32(d[4:]))
		if size >= 4 && size <= maxMessage && c.isPending(corr) {
			h.resync = false
			return i, 0
		}
	}
	return len(data), 0
}

func (c *conn) isPending(corr int32) bool {
	for _, p := range c.pending {
		if p.corr == corr {
			return true
		}
	}
	return false
}

// Gap accounts for lost bytes: inside a skipped tail they cost nothing,
// anywhere else the parser resynchronises.
func (c *conn) Gap(dir sdk.Direction, n int, ts int64) {
	h := &c.halves[dir]
	if h.skip > 0 && int64(n) < h.skip {
		h.skip -= int64(n)
		return
	}
	if h.held != nil {
		h.held.End = nanos(ts)
		h.held.Error = "response partly missing from the capture"
		c.out.Emit(h.held)
		h.held = nil
	}
	h.skip = 0
	h.resync = true
}

// Close reports requests that never saw a response.
func (c *conn) Close(ts int64) {
	for d := range c.halves {
		if h := &c.halves[d]; h.held != nil {
			h.held.End = nanos(ts)
			h.held.Error = "connection ended inside the response"
			c.out.Emit(h.held)
			h.held = nil
		}
	}
	for _, p := range c.pending {
		c.emit(p, nil)
	}
	c.pending = nil
}
