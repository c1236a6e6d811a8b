package websocket

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func nanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func (c *conn) message(m *message) *sdk.Message {
	out := &sdk.Message{Size: m.size, BodySize: m.length}
	out.Set("websocket_opcode", int(m.op))
	out.Set("websocket_masked", m.masked)
	out.Set("websocket_payload_length", m.length)
	if m.fragments > 1 {
		out.Set("websocket_fragments", m.fragments)
	}
	if m.compressed {
		out.Set("websocket_compressed", true)
	}
	if m.missing > 0 {
		out.Set("websocket_missing_bytes", m.missing)
	}
	body := m.payload[:min(len(m.payload), bodyPreview)]
	truncated := int64(len(body)) < m.length
	text := !m.compressed
	if inf := m.inflated; inf != nil {
		if inf.err != "" {
			out.Set("websocket_inflate_error", inf.err)
		} else {
			body, text = inf.preview, true
			truncated = !inf.whole || inf.size > int64(len(body))
			if inf.whole {
				out.Set("websocket_decompressed_length", inf.size)
			}
		}
	}
	if m.op == opClose {
		code, reason := closeInfo(m)
		if code != 0 {
			out.Set("websocket_close_code", code)
			out.Set("websocket_close_reason", reason)
		}
		return out
	}
	out.BodyTruncated = truncated
	if len(body) == 0 {
		return out
	}
	t := body
	if out.BodyTruncated {
		// A character the preview cap cut in half does not make it binary.
		for i := len(t) - 1; i >= 0 && i >= len(t)-utf8.UTFMax+1; i-- {
			if utf8.RuneStart(t[i]) {
				if !utf8.FullRune(t[i:]) {
					t = t[:i]
				}
				break
			}
		}
	}
	if text && utf8.Valid(t) && !strings.ContainsFunc(string(t), func(r rune) bool {
		return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f
	}) {
		out.Body = string(t)
		return out
	}
	out.Body, out.Encoding = base64.StdEncoding.EncodeToString(body), "base64"
	return out
}

// record makes a one-way record of a message, or of a PING and its PONG.
func (c *conn) record(m, pong *message) *sdk.Record {
	r := &sdk.Record{Protocol: "websocket", Method: opName(m.op), RequestDir: m.dir, Timestamp: nanos(m.start)}
	if m.op == opCont {
		r.Method = "CONTINUATION"
	}
	r.Request = c.message(m)
	var problems []string
	if m.problem != "" {
		problems = append(problems, m.problem)
		r.Failed = strings.HasPrefix(m.problem, "malformed")
	}
	if inf := m.inflated; inf != nil && inf.err+inf.note != "" {
		// Not a failure of the exchange: the sender's peer may well have
		// decoded what the capture could not.
		problems = append(problems, inf.err+inf.note)
	}
	if m.op == opClose {
		code, reason := closeInfo(m)
		r.Status, r.StatusText = code, reason
		if code >= 1002 && code != 1005 && code != 1006 && code < 3000 {
			r.Failed = true
		}
	}
	if pong != nil {
		r.Response = c.message(pong)
		r.End = nanos(pong.end)
	} else if m.op == opPing {
		problems = append(problems, "no response captured")
	}
	r.Error = strings.Join(problems, "; ")
	var b strings.Builder
	b.WriteString(r.Method)
	if m.masked {
		b.WriteString(" from client")
	} else {
		b.WriteString(" from server")
	}
	b.WriteString(", ")
	b.WriteString(strconv.FormatInt(m.length, 10))
	b.WriteString(" bytes")
	if r.Status != 0 {
		b.WriteString(", code ")
		b.WriteString(strconv.Itoa(r.Status))
	}
	if pong != nil {
		b.WriteString(" → PONG")
	}
	r.Summary = b.String()
	return r
}
