package mongodb

import (
	"strconv"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

type half struct {
	skip   int64 // bytes of an oversized message still to skip
	resync bool
}

// exchange is a request waiting for its reply.
type exchange struct {
	m   *message
	rec *sdk.Record
}

type conn struct {
	out     sdk.Emitter
	halves  [2]half
	pending []*exchange
}

func newConn(_ sdk.ConnInfo, out sdk.Emitter) *conn { return &conn{out: out} }

func nanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Feed consumes one message per call so that the host's first timestamp
// for the next one is exact.
func (c *conn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	h := &c.halves[dir]
	if h.skip > 0 {
		n := int(min(int64(len(data)), h.skip))
		h.skip -= int64(n)
		return n, 0
	}
	if h.resync {
		return c.resync(h, data)
	}
	if len(data) < 16 {
		return 0, 16
	}
	hdr := parseHeader(data)
	if _, ok := opName(hdr.opCode); !ok || hdr.length < 16 || hdr.length > maxMessage {
		h.resync = true
		return c.resync(h, data)
	}
	total := int(hdr.length)
	if len(data) < total && len(data) < holdLimit {
		return 0, min(total, holdLimit)
	}
	n := min(len(data), total, holdLimit)
	m := parseMessage(hdr, data[16:n])
	if n < total {
		h.skip = int64(total - n)
		if m.problem == "" {
			m.problem = "message larger than the parse window: parsed its first " + strconv.Itoa(holdLimit>>10) + " KiB"
		}
	}
	c.message(dir, m, first, last)
	return n, 0
}

func isReply(m *message) bool {
	switch m.opCode {
	case opReply, opCommandReply:
		return true
	case opMsg:
		return m.hdr.responseTo != 0
	}
	return false
}

func (c *conn) message(dir sdk.Direction, m *message, first, last int64) {
	if isReply(m) {
		for i, x := range c.pending {
			if x.m.hdr.requestID == m.hdr.responseTo {
				c.pending = append(c.pending[:i], c.pending[i+1:]...)
				c.answer(x, m, last)
				return
			}
		}
		// The request was before the capture started, or this is a later
		// reply of an exhaust cursor.
		return
	}
	rec := newRecord(dir, m, first)
	switch m.opCode {
	case opInsert, opUpdate, opDelete, opKillCursors:
		// Legacy writes are fire-and-forget.
		c.out.Emit(rec)
		return
	}
	if m.opCode == opMsg && m.moreToCome {
		c.out.Emit(rec)
		return
	}
	if len(c.pending) >= maxPending {
		c.unanswered(c.pending[0])
		c.pending = c.pending[1:]
	}
	c.pending = append(c.pending, &exchange{m: m, rec: rec})
}

func newRecord(dir sdk.Direction, m *message, first int64) *sdk.Record {
	rec := &sdk.Record{Protocol: "mongodb", Timestamp: nanos(first), RequestDir: dir, Error: m.problem}
	switch {
	case m.command != "":
		rec.Method = m.command
	default:
		rec.Method = m.op
	}
	switch {
	case m.database != "" && m.collection != "":
		rec.Path = m.database + "." + m.collection
	case m.database != "":
		rec.Path = m.database
	default:
		rec.Path = m.fullName
	}
	req := &sdk.Message{Size: int64(m.hdr.length)}
	req.Set("mongodb_op", m.op).Set("mongodb_request_id", int(m.hdr.requestID))
	if m.command != "" {
		req.Set("mongodb_command", m.command)
	}
	if m.database != "" {
		req.Set("mongodb_database", m.database)
	}
	if m.collection != "" {
		req.Set("mongodb_collection", m.collection)
	}
	if m.compressor != "" {
		req.Set("mongodb_compressor", m.compressor)
	}
	if len(m.sequences) > 0 {
		req.Set("mongodb_sequences", m.sequences)
	}
	if m.doc != nil {
		req.Body, req.BodyTruncated = extJSON(m.doc)
		req.BodySize = int64(len(m.doc))
	}
	rec.Request = req
	rec.Summary = rec.Method
	if rec.Path != "" {
		rec.Summary += " " + rec.Path
	}
	return rec
}

// answer completes a request's record with its reply.
func (c *conn) answer(x *exchange, m *message, last int64) {
	rec := x.rec
	resp := &sdk.Message{Size: int64(m.hdr.length)}
	resp.Set("mongodb_op", m.op).Set("mongodb_request_id", int(m.hdr.requestID))
	if m.compressor != "" {
		resp.Set("mongodb_compressor", m.compressor)
	}
	rec.Response = resp
	rec.End = nanos(last)
	if m.problem != "" && rec.Error == "" {
		rec.Error = m.problem
	}
	doc := m.doc
	if doc != nil {
		resp.Body, resp.BodyTruncated = extJSON(doc)
		resp.BodySize = int64(len(doc))
	}
	ok, hasOK := 1.0, false
	if e, found := lookup(doc, "ok"); found {
		ok, hasOK = e.number()
		if !hasOK {
			ok = 0
		}
		hasOK = true
	}
	code := 0
	if e, found := lookup(doc, "code"); found {
		f, _ := e.number()
		code = int(f)
	}
	text := ""
	if e, found := lookup(doc, "codeName"); found {
		text, _ = e.str()
	}
	if e, found := lookup(doc, "errmsg"); found && text == "" {
		text, _ = e.str()
	}
	if e, found := lookup(doc, "$err"); found && text == "" {
		text, _ = e.str()
	}
	if code == 0 && hasOK && ok == 1 {
		// Write commands report per-document failures with ok: 1.
		if e, found := lookup(doc, "writeErrors"); found && e.typ == tArray {
			if w, found := first(e.raw); found && w.typ == tDocument {
				if ce, found := lookup(w.raw, "code"); found {
					f, _ := ce.number()
					code = int(f)
				}
				if me, found := lookup(w.raw, "errmsg"); found && text == "" {
					text, _ = me.str()
				}
			}
		}
	}
	if hasOK {
		resp.Set("mongodb_ok", ok)
	}
	if e, found := lookup(doc, "n"); found {
		if f, ok := e.number(); ok {
			resp.Set("mongodb_n", int64(f))
		}
	}
	if m.opCode == opReply {
		resp.Set("mongodb_documents", m.numDocs)
	}
	failed := hasOK && ok != 1 || code != 0 || m.queryFail
	if failed && code == 0 && !m.queryFail {
		code = 0
	}
	rec.Status = code
	rec.Failed = failed
	if failed {
		rec.StatusText = text
		if code != 0 {
			resp.Set("mongodb_error_code", code)
		}
		if text != "" {
			resp.Set("mongodb_error", text)
		}
		rec.Summary += " → error"
		if text != "" {
			rec.Summary += ": " + text
		}
	} else {
		rec.StatusText = "ok"
		rec.Summary += " → ok"
	}
	c.out.Emit(rec)
}

func (c *conn) unanswered(x *exchange) {
	if x.rec.Error == "" {
		x.rec.Error = "no response captured"
	}
	c.out.Emit(x.rec)
}

// resync looks for the next plausible message header.
func (c *conn) resync(h *half, data []byte) (int, int) {
	for i := 0; i < len(data); i++ {
		d := data[i:]
		if len(d) < 16 {
			return i, 0
		}
		if plausibleHeader(d) {
			h.resync = false
			return i, 0
		}
	}
	return len(data), 0
}

func plausibleHeader(d []byte) bool {
	hdr := parseHeader(d)
	if _, ok := opName(hdr.opCode); !ok || hdr.length < 16 || hdr.length > maxMessage {
		return false
	}
	return hdr.opCode != opReply || hdr.responseTo != 0
}

// Gap resynchronises: a loss inside a skipped tail costs nothing.
func (c *conn) Gap(dir sdk.Direction, n int, _ int64) {
	h := &c.halves[dir]
	if h.skip > 0 && int64(n) < h.skip {
		h.skip -= int64(n)
		return
	}
	h.skip = 0
	h.resync = true
}

// Close reports requests that never saw a reply.
func (c *conn) Close(int64) {
	for _, x := range c.pending {
		c.unanswered(x)
	}
	c.pending = nil
}
