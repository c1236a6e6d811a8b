package http1

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/preview"
)

type state uint8

const (
	stStart      state = iota // expecting a start line
	stBody                    // Content-Length body
	stChunkSize               // chunk-size line
	stChunkData               // chunk data
	stChunkEnd                // CRLF after chunk data
	stTrailers                // trailer section after the last chunk
	stUntilClose              // body delimited by the connection closing
	stResync                  // looking for the next start line after damage
	stPaused                  // request side waiting on the answer to Upgrade or CONNECT
)

type role uint8

const (
	roleUnknown role = iota
	roleRequest
	roleResponse
)

// half is the parser for one direction.
type half struct {
	role      role
	st        state
	cur       *message
	remaining int64
	midLine   bool // resync is inside a line, so what follows cannot start a message
}

type conn struct {
	out         sdk.Emitter
	halves      [2]half
	clientDir   sdk.Direction
	clientKnown bool
	pending     []*message // requests waiting for their response, oldest first
	orphans     int        // responses filed without a request, whose request a later gap may report
	interim     []int      // 1xx statuses seen before the final response
	done        bool       // the connection left HTTP (upgrade, tunnel)
	// previews decodes compressed bodies; its decompressors are kept from
	// one body to the next, since allocating them cost more than the rest
	// of a small exchange.
	previews preview.Decoder

	// When the emitter copies records (inside a wasm guest), a record's
	// memory is reused for the next: its messages, with their head, header
	// and body buffers, the record itself and its summary. Each allocation
	// saved is worth more there than parsing a header line.
	copies bool
	free   []*message
	rec    *exchangeRecord
	sum    []byte
}

// Bounds on what a connection keeps for reuse.
const (
	maxFree      = 2
	maxKeptText  = 8 << 10
	maxKeptBody  = 4 << 10
	maxKeptLines = 64
)

func newConn(info sdk.ConnInfo, out sdk.Emitter) *conn {
	c := &conn{out: out, copies: sdk.Copies(out)}
	c.previews.Share = c.copies
	if info.Oriented {
		c.setClient(sdk.DirA)
	}
	return c
}

func (c *conn) setClient(d sdk.Direction) {
	c.clientDir, c.clientKnown = d, true
	c.halves[d].role = roleRequest
	c.halves[d.Reverse()].role = roleResponse
}

func nanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Feed parses as far as the data allows, returning after each complete
// message so that the host's timestamp for the next message is exact.
func (c *conn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	if c.done {
		return len(data), 0
	}
	h := &c.halves[dir]
	pos := 0
	for pos < len(data) && !c.done {
		before := h.st
		// Held-back bytes are ones that could not be parsed alone, so once
		// some are consumed here, whatever starts next came in the newest.
		ts := first
		if pos > 0 {
			ts = last
		}
		n, complete := c.step(dir, h, data[pos:], ts)
		pos += n
		if complete {
			if m := h.cur; m != nil {
				// Bytes held back from an earlier Feed could not complete a
				// message on their own, so its last byte is among the newest.
				m.end = last
				h.cur = nil
				c.finish(dir, m)
			}
			return pos, 0
		}
		if n == 0 && h.st == before {
			break
		}
	}
	if h.cur != nil && pos > 0 {
		// A message cut short (or ended by the connection closing) ends with
		// the last byte seen, not when the capture noticed.
		h.cur.end = last
	}
	return pos, 0
}

// step advances the parser of one direction by one state. It returns the
// bytes consumed and whether the current message is now complete.
func (c *conn) step(dir sdk.Direction, h *half, data []byte, ts int64) (int, bool) {
	m := h.cur
	switch h.st {
	case stPaused:
		return 0, false
	case stStart:
		return c.startLine(dir, h, data, ts)
	case stResync:
		return c.resync(h, data)
	case stBody:
		n := int(min(int64(len(data)), h.remaining))
		m.appendBody(data[:n])
		m.size += int64(n)
		h.remaining -= int64(n)
		if h.remaining == 0 {
			h.st = stStart
			return n, true
		}
		return n, false
	case stUntilClose:
		m.appendBody(data)
		m.size += int64(len(data))
		return len(data), false
	case stChunkSize:
		// Limits hold whether or not the line end has arrived yet, so that
		// how the stream was segmented does not change the outcome.
		i := bytes.IndexByte(data, '\n')
		if i < 0 && len(data) > 1024 || i > 1024 {
			return c.malformed(h, "chunk-size line longer than 1 KiB")
		}
		if i < 0 {
			return 0, false
		}
		size, err := parseChunkSize(data[:i])
		if err != nil {
			return c.malformed(h, err.Error())
		}
		m.size += int64(i + 1)
		if size == 0 {
			h.st = stTrailers
		} else {
			h.st, h.remaining = stChunkData, size
		}
		return i + 1, false
	case stChunkData:
		n := int(min(int64(len(data)), h.remaining))
		m.appendBody(data[:n])
		m.size += int64(n)
		h.remaining -= int64(n)
		if h.remaining == 0 {
			h.st = stChunkEnd
		}
		return n, false
	case stChunkEnd:
		switch {
		case data[0] == '\n':
			m.size++
			h.st = stChunkSize
			return 1, false
		case data[0] == '\r' && len(data) == 1:
			return 0, false
		case data[0] == '\r' && data[1] == '\n':
			m.size += 2
			h.st = stChunkSize
			return 2, false
		}
		return c.malformed(h, "chunk data not followed by CRLF")
	case stTrailers:
		i := bytes.IndexByte(data, '\n')
		if i < 0 && len(data) > maxHeaderBlock || i > maxHeaderBlock {
			return c.malformed(h, "trailer section too long")
		}
		if i < 0 {
			return 0, false
		}
		line := bytes.TrimRight(data[:i], "\r")
		m.size += int64(i + 1)
		if len(line) == 0 {
			h.st = stStart
			return i + 1, true
		}
		if k := bytes.IndexByte(line, ':'); k > 0 && len(m.trailers) < maxHeaders {
			m.trailers = append(m.trailers, sdk.Header{Name: string(line[:k]), Value: string(bytes.TrimSpace(line[k+1:]))})
		}
		return i + 1, false
	}
	return 0, false
}

// malformed ends the current message as failed and looks for the next start
// line. One byte is consumed so that the parser always makes progress.
func (c *conn) malformed(h *half, why string) (int, bool) {
	if h.cur != nil {
		h.cur.problem = "malformed: " + why
	}
	h.st = stResync
	// The rest of a bad line ("ET /a HTTP/1.1" after a too-long head) would
	// otherwise read as a new start line.
	h.midLine = true
	if h.cur == nil {
		return 1, false
	}
	h.cur.size++
	return 1, true
}

func (c *conn) startLine(dir sdk.Direction, h *half, data []byte, ts int64) (int, bool) {
	// RFC 9112 §2.2: ignore empty lines before a start line.
	skip := 0
	for skip < len(data) && (data[skip] == '\r' || data[skip] == '\n') {
		skip++
	}
	if skip > 0 {
		return skip, false
	}
	kind := classifyStart(data)
	if kind == startNone && h.role == roleRequest && lenientRequest(data) {
		// Where requests are known to flow and the previous message ended
		// cleanly, a request line without a version ("GET /HTTP/1.1",
		// "OPTIONS") is still a request: servers answer it (usually 400)
		// and the exchange belongs in the record.
		kind = startRequest
	}
	switch kind {
	case startMaybe:
		return 0, false
	case startNone:
		h.st = stResync
		return c.resync(h, data)
	}
	end, lines := headerEnd(data)
	if end < 0 && len(data) < maxHeaderBlock {
		// Decide nothing on a partial start line: the bytes still to come
		// can change what it is.
		return 0, false
	}
	switch {
	case h.role == roleUnknown && !c.clientKnown:
		if kind == startRequest {
			c.setClient(dir)
		} else {
			c.setClient(dir.Reverse())
		}
	case h.role == roleRequest && kind == startResponse, h.role == roleResponse && kind == startRequest:
		// A response where requests flow (or the reverse) means our guess
		// of the client was wrong or the stream is damaged: resynchronise.
		h.st = stResync
		return c.resync(h, data)
	}
	if end < 0 || end > maxHeaderBlock {
		h.cur = &message{start: ts}
		h.cur.method = "?"
		return c.malformed(h, "header block exceeds 64 KiB")
	}
	m := c.newMessage()
	err := m.parseHead(data[:end], lines, h.role == roleRequest, c.copies)
	m.start = ts
	m.size = int64(end)
	h.cur = m
	if err != nil {
		// The head is complete, so its framing fields still say where the
		// next message starts; if they are garbage, resync recovers.
		m.problem = "malformed: " + err.Error()
	}
	if h.role == roleRequest {
		return end, c.requestBody(h, m)
	}
	return end, c.responseBody(h, m)
}

func (c *conn) requestBody(h *half, m *message) bool {
	m.bodyCap = previewCap(m)
	if te, ok := m.header("Transfer-Encoding"); ok && lastCodingChunked(te) {
		h.st = stChunkSize
		return false
	}
	if n, ok, err := contentLength(m); err != nil {
		m.problem = "malformed: " + err.Error()
	} else if ok && n > 0 {
		h.st, h.remaining = stBody, n
		return false
	}
	h.st = stStart
	return true
}

func (c *conn) responseBody(h *half, m *message) bool {
	m.bodyCap = previewCap(m)
	h.st = stStart
	var req *message
	if len(c.pending) > 0 {
		req = c.pending[0]
	}
	switch {
	case m.status >= 100 && m.status < 200, m.status == 204, m.status == 304:
		return true
	case req != nil && req.method == "HEAD":
		return true
	case req != nil && req.method == "CONNECT" && m.status >= 200 && m.status < 300:
		return true
	}
	if te, ok := m.header("Transfer-Encoding"); ok && lastCodingChunked(te) {
		h.st = stChunkSize
		return false
	}
	n, ok, err := contentLength(m)
	if err != nil {
		m.problem = "malformed: " + err.Error()
		return true
	}
	if ok {
		if n == 0 {
			return true
		}
		h.st, h.remaining = stBody, n
		return false
	}
	h.st = stUntilClose
	return false
}

func previewCap(m *message) int {
	if enc, ok := m.header("Content-Encoding"); ok && !strings.EqualFold(strings.TrimSpace(enc), "identity") {
		m.encoding = enc
		return maxCompressed
	}
	return bodyPreview
}

// finish files a complete message: a request joins the queue, a final
// response pairs with the oldest queued request and becomes a record.
func (c *conn) finish(dir sdk.Direction, m *message) {
	h := &c.halves[dir]
	if h.role == roleRequest {
		if m.answered {
			// Its record went out with the response.
			c.recycle(m)
			return
		}
		if m.method == "CONNECT" || m.upgrade != "" {
			if h.st == stStart {
				h.st = stPaused
			}
		}
		c.queue(m)
		return
	}
	if m.status >= 100 && m.status < 200 && m.status != 101 {
		c.interim = append(c.interim, m.status)
		c.recycle(m)
		return
	}
	var req *message
	queued := false
	if len(c.pending) > 0 {
		req = c.popPending()
		if req.lost {
			req = nil
		}
		queued = true
	} else if q := &c.halves[c.clientDir]; q.cur == nil {
		c.orphans++
	} else {
		// A final response before the request's body ended (a refused
		// upload, say) answers that request; it must not wait in the queue
		// for the next response.
		req = q.cur
		req.answered = true
	}
	m.interim, c.interim = c.interim, nil
	c.emit(req, m)
	reqHalf := &c.halves[c.clientDir]
	switch {
	case m.status == 101:
		c.leave(upgradeHint(m, req))
	case req != nil && req.method == "CONNECT" && m.status >= 200 && m.status < 300:
		c.leave("tls")
	case reqHalf.st == stPaused && len(c.pending) == 0:
		reqHalf.st = stStart
	}
	c.recycle(m)
	if queued {
		// An answered request is still being parsed; it is recycled when
		// it ends.
		c.recycle(req)
	}
}

// emit hands the exchange of req and resp (either may be nil) to the
// emitter.
func (c *conn) emit(req, resp *message) {
	if !c.copies {
		c.out.Emit(exchange(req, resp, c.clientDir, &c.previews))
		return
	}
	if c.rec == nil {
		c.rec = &exchangeRecord{}
	}
	c.out.Emit(fillExchange(c.rec, &c.sum, req, resp, c.clientDir, &c.previews))
}

// newMessage returns a message to parse into: a recycled one when there is
// one.
func (c *conn) newMessage() *message {
	if n := len(c.free); n > 0 {
		m := c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
		return m
	}
	return &message{}
}

// recycle keeps a message whose record has been emitted, with its buffers
// unless they grew large, for the next message. Only an emitter that
// copies is done with a record when Emit returns; any other may still hold
// strings that point into the message's buffers.
func (c *conn) recycle(m *message) {
	if !c.copies || m == nil || m.lost || len(c.free) >= maxFree {
		return
	}
	text, headers, body := m.text[:0], m.headers[:0], m.body[:0]
	if cap(text) > maxKeptText {
		text = nil
	}
	if cap(headers) > maxKeptLines {
		headers = nil
	}
	if cap(body) > maxKeptBody {
		body = nil
	}
	*m = message{text: text, headers: headers, body: body}
	c.free = append(c.free, m)
}

func (c *conn) queue(req *message) {
	if len(c.pending) >= maxPending {
		c.unanswered(c.popPending())
	}
	c.pending = append(c.pending, req)
}

// popPending takes the oldest request off the queue. It shifts the rest
// down rather than reslicing, so the queue keeps its storage: usually it
// holds one request, and an allocation per exchange costs a guest more than
// the shift ever does.
func (c *conn) popPending() *message {
	req := c.pending[0]
	n := copy(c.pending, c.pending[1:])
	c.pending[n] = nil
	c.pending = c.pending[:n]
	return req
}

// unanswered emits a request that will get no response; the caller drops
// it from the queue.
func (c *conn) unanswered(req *message) {
	if !req.lost {
		c.emit(req, nil)
		c.recycle(req)
	}
}

// lostStart accounts for a message whose start a gap swallowed. Without it
// every later response would pair with the request before its own.
func (c *conn) lostStart(h *half) {
	switch h.role {
	case roleRequest:
		if c.orphans > 0 {
			// The reassembler reports a hole only once it sees what follows
			// it, which can be after the lost request's response was
			// already filed without a request: that response was its
			// answer.
			c.orphans--
			return
		}
		c.queue(&message{lost: true})
	case roleResponse:
		if len(c.pending) > 0 {
			c.unanswered(c.popPending())
		}
		c.interim = nil
		// The lost response may have declined an Upgrade or CONNECT; a
		// request side left paused would never be parsed again.
		if q := &c.halves[c.clientDir]; q.st == stPaused && len(c.pending) == 0 {
			q.st = stStart
		}
	}
}

// leave hands the connection back to the host: what follows is not HTTP/1.
func (c *conn) leave(hint string) {
	for _, req := range c.pending {
		c.unanswered(req)
	}
	c.pending = nil
	c.done = true
	c.out.Switch(hint)
}

func upgradeHint(resp, req *message) string {
	u, _ := resp.header("Upgrade")
	if u == "" && req != nil {
		u = req.upgrade
	}
	u = strings.ToLower(strings.TrimSpace(u))
	switch {
	case strings.HasPrefix(u, "websocket"):
		return "websocket"
	case strings.HasPrefix(u, "h2c"), strings.HasPrefix(u, "http/2"):
		return "http2"
	}
	return u
}

// resync skips to the next line that starts a message this half can carry.
func (c *conn) resync(h *half, data []byte) (int, bool) {
	for i := 0; i < len(data); {
		if i > 0 || !h.midLine {
			h.midLine = false
			switch classifyStart(data[i:]) {
			case startRequest:
				if h.role != roleResponse {
					h.st = stStart
					return i, false
				}
			case startResponse:
				if h.role != roleRequest {
					h.st = stStart
					return i, false
				}
			case startMaybe:
				return i, false
			}
		}
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			h.midLine = true
			return len(data), false
		}
		i += j + 1
	}
	h.midLine = false
	return len(data), false
}

// Gap accounts for lost bytes. Inside a body of known length the loss is
// just missing body; anywhere else the parser can no longer trust its
// position and resynchronises on the next start line.
func (c *conn) Gap(dir sdk.Direction, n int, ts int64) {
	if c.done {
		return
	}
	h := &c.halves[dir]
	lost := int64(n)
	m := h.cur
	// Where the data resumes is unknown; trying it as a start line is what
	// finds a message that began right after the loss.
	h.midLine = false
	switch h.st {
	case stPaused:
		return
	case stUntilClose:
		m.bodySize += lost
		m.missing += lost
		m.size += lost
		return
	case stBody, stChunkData:
		if lost < h.remaining {
			h.remaining -= lost
			m.bodySize += lost
			m.missing += lost
			m.size += lost
			return
		}
		m.missing += h.remaining
		m.bodySize += h.remaining
		m.size += h.remaining
		lost -= h.remaining
		h.remaining = 0
		if h.st == stChunkData {
			m.problem = fmt.Sprintf("%d bytes missing from the capture", m.missing+lost)
			break
		}
		m.problem = fmt.Sprintf("%d body bytes missing from the capture", m.missing)
		h.st = stStart
		h.cur = nil
		m.end = ts
		c.finish(dir, m)
		if lost > 0 {
			// The rest of the loss began the next message.
			c.lostStart(h)
			h.st = stResync
		}
		return
	case stStart, stResync:
		if h.st == stStart && lost > 0 {
			c.lostStart(h)
		}
		h.st = stResync
		return
	default:
		if m != nil {
			m.problem = fmt.Sprintf("%d bytes missing from the capture", lost)
		}
	}
	h.st = stResync
	if m != nil {
		h.cur = nil
		m.end = ts
		c.finish(dir, m)
	}
}

// Close flushes a body delimited by the connection's end and reports
// requests that never saw a response.
func (c *conn) Close(ts int64) {
	if c.done {
		return
	}
	for d := sdk.DirA; d <= sdk.DirB; d++ {
		h := &c.halves[d]
		m := h.cur
		if m == nil {
			continue
		}
		h.cur = nil
		if h.st != stUntilClose {
			m.problem = "connection ended before the message did"
		}
		if m.end == 0 {
			m.end = ts
		}
		c.finish(d, m)
	}
	for _, req := range c.pending {
		c.unanswered(req)
	}
	c.pending = nil
}

func lastCodingChunked(te string) bool {
	return strings.EqualFold(strings.TrimSpace(te[strings.LastIndexByte(te, ',')+1:]), "chunked")
}

// contentLength reads Content-Length. Repeated identical values are allowed
// (RFC 9110 §8.6); differing ones are an error.
func contentLength(m *message) (int64, bool, error) {
	var val int64 = -1
	for _, h := range m.headers {
		if !isName(h.Name, "Content-Length") {
			continue
		}
		if n, ok := plainLength(h.Value); ok {
			if val >= 0 && n != val {
				return 0, false, fmt.Errorf("conflicting Content-Length values")
			}
			val = n
			continue
		}
		for part := range strings.SplitSeq(h.Value, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
			if err != nil || n < 0 {
				return 0, false, fmt.Errorf("bad Content-Length %q", h.Value)
			}
			if val >= 0 && n != val {
				return 0, false, fmt.Errorf("conflicting Content-Length values")
			}
			val = n
		}
	}
	return val, val >= 0, nil
}

// plainLength parses the usual Content-Length, one to 18 digits, without
// the splitting and trimming the general case needs.
func plainLength(v string) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func parseChunkSize(line []byte) (int64, error) {
	line = bytes.TrimRight(line, "\r")
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return 0, fmt.Errorf("empty chunk size")
	}
	var n int64
	for i, ch := range line {
		var v byte
		switch {
		case '0' <= ch && ch <= '9':
			v = ch - '0'
		case 'a' <= ch && ch <= 'f':
			v = ch - 'a' + 10
		case 'A' <= ch && ch <= 'F':
			v = ch - 'A' + 10
		default:
			return 0, fmt.Errorf("bad chunk size %q", line)
		}
		if i >= 15 {
			return 0, fmt.Errorf("chunk size %q overflows", line)
		}
		n = n<<4 | int64(v)
	}
	return n, nil
}

// headerEnd returns the length of the header block including the blank
// line that ends it, or -1 if it is not complete yet, and how many line ends
// it holds (the blank line's included).
func headerEnd(data []byte) (end, lines int) {
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			return -1, lines
		}
		i += j + 1
		lines++
		if i < len(data) && data[i] == '\n' {
			return i + 1, lines + 1
		}
		if i+1 < len(data) && data[i] == '\r' && data[i+1] == '\n' {
			return i + 2, lines + 1
		}
		if i+1 == len(data) && data[i] == '\r' {
			return -1, lines
		}
	}
	return -1, lines
}
