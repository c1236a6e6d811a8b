package http2

import (
	"strconv"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// endBlock decodes a complete header block and files it on its stream.
// Every block is decoded, whatever its stream, since each one can change
// the HPACK table.
func (c *conn) endBlock(dir sdk.Direction, h *half, last int64, problem string) {
	blk := h.blk
	h.blk = headerBlock{buf: blk.buf[:0]}
	var fields []sdk.Header
	var unknown int
	if blk.overflow {
		problem = "header block larger than " + strconv.Itoa(maxHeaderBlock) + " bytes"
		h.dec.reset(lenientTable)
	} else {
		var err error
		fields, unknown, err = h.dec.decode(blk.buf)
		if err != nil {
			if problem == "" {
				problem = "HPACK: " + err.Error()
			}
			// A broken block may have left insertions half done.
			h.dec.reset(lenientTable)
		}
	}
	id := blk.stream
	if blk.promised != 0 {
		id = blk.promised
	}
	s := c.stream(id, true)
	if s == nil {
		return
	}
	var method, path, status string
	for _, f := range fields {
		switch f.Name {
		case ":method":
			method = f.Value
		case ":path":
			path = f.Value
		case ":status":
			status = f.Value
		}
	}
	isReq := blk.promised != 0 || method != "" || path != ""
	if isReq && method == "" && path == "" {
		isReq = false
	}
	switch {
	case blk.promised != 0:
		// The server sent the promised request on the client's behalf.
		s.reqDir, s.dirSure = dir.Reverse(), true
	case !s.dirSure && isReq:
		s.reqDir, s.dirSure = dir, true
	case !s.dirSure && status != "":
		s.reqDir, s.dirSure = dir.Reverse(), true
	}
	if !c.clientSure && blk.promised == 0 && (isReq || status != "") {
		c.clientDir, c.clientSure = s.reqDir, true
	}
	m := &s.req
	if blk.promised == 0 {
		m = s.side(dir)
	}
	if m == &s.resp && !s.req.seen && s.reqImplicit == "" {
		if id == 1 {
			s.reqImplicit = "request sent as HTTP/1.1 with Upgrade: h2c, or not captured"
		} else {
			s.reqImplicit = "request not captured"
		}
	}
	if !m.seen {
		m.seen, m.start = true, blk.start
		if m.bodySize > 0 {
			// DATA arrived before the headers (they were lost).
			m.grpc.broken = true
		}
	}
	m.size += blk.size
	m.unknown += unknown
	if problem != "" {
		m.note(problem)
	}
	fields = c.budget(s, fields)
	code := 0
	if status != "" {
		code, _ = strconv.Atoi(status)
	}
	switch {
	case status != "" && code >= 100 && code < 200 && code != 101:
		m.interim = append(m.interim, code)
	case !m.headersDone():
		m.headers = fields
		if m.headers == nil {
			m.headers = []sdk.Header{}
		}
		m.method, m.path, m.status = method, path, code
		if status != "" && code == 0 {
			m.note("malformed :status " + strconv.Quote(status))
		}
		m.bodyCap = bodyPreview
		if enc, ok := m.header("content-encoding"); ok && !strings.EqualFold(strings.TrimSpace(enc), "identity") {
			m.encoding, m.bodyCap = enc, maxCompressed
		}
		if enc, ok := m.header("grpc-encoding"); ok && !strings.EqualFold(strings.TrimSpace(enc), "identity") {
			// Compressed gRPC messages are decoded for the preview, which
			// takes more of their bytes than the preview will show.
			m.bodyCap = maxCompressed
		}
		if m.isDNSMessage() {
			// A DoH message is kept whole for its dns record.
			m.bodyCap = maxDNSMessage
		}
	default:
		m.trailerBlock = true
		m.trailers = append(m.trailers, fields...)
	}
	if blk.promised != 0 || blk.endStream {
		m.ended, m.end = true, last
	}
	if s.done() {
		c.emit(s, "")
	}
}

func (m *message) headersDone() bool { return m.headers != nil }

// budget keeps a connection's held header bytes bounded: past the budget
// only the fields that identify the exchange are kept.
func (c *conn) budget(s *stream, fields []sdk.Header) []sdk.Header {
	n := 0
	for _, f := range fields {
		n += len(f.Name) + len(f.Value)
	}
	if c.retained+n <= maxRetained {
		c.retained += n
		s.retained += n
		return fields
	}
	kept := fields[:0:0]
	for _, f := range fields {
		if strings.HasPrefix(f.Name, ":") || f.Name == "content-type" || strings.HasPrefix(f.Name, "grpc-") {
			kept = append(kept, f)
		}
	}
	s.side(s.reqDir).note("headers dropped: connection memory budget exhausted")
	return kept
}
