package redis

import (
	"encoding/base64"
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

// strs turns element previews into JSON-friendly strings.
func strs(elems [][]byte) []string {
	out := make([]string, len(elems))
	for i, e := range elems {
		if e == nil {
			out[i] = "[…]"
			continue
		}
		out[i] = strings.ToValidUTF8(string(e), "\uFFFD")
	}
	return out
}

// commandMessage renders a command for the record.
func commandMessage(m *msg) *sdk.Message {
	out := &sdk.Message{Size: m.size, BodySize: int64(len(m.render))}
	out.Body, out.BodyTruncated = string(m.render), m.truncated
	method, _, args := describe(m.elems)
	out.Set("redis_command", method)
	out.Set("redis_args", strs(args))
	if m.inline {
		out.Set("redis_inline", true)
	}
	if m.missing > 0 {
		out.Set("redis_missing_bytes", m.missing)
	}
	return out
}

// replyMessage renders a reply for the record. A bulk string's body is the
// value itself (base64 when binary); anything else is the text rendering.
func replyMessage(m *msg) *sdk.Message {
	out := &sdk.Message{Size: m.size}
	out.Set("redis_response_type", typeName(m.typ))
	out.Set("redis_response", strings.ToValidUTF8(string(m.render[:min(len(m.render), 1024)]), "\uFFFD"))
	if m.attrs {
		out.Set("redis_attributes", true)
	}
	if m.streamed {
		out.Set("redis_streamed", true)
	}
	if m.missing > 0 {
		out.Set("redis_missing_bytes", m.missing)
	}
	switch m.typ {
	case '$', '=', '!', '+', '-', ':', ',', '(':
		out.BodySize = m.scalarSize
		out.BodyTruncated = int64(len(m.scalar)) < m.scalarSize
		if utf8.Valid(m.scalar) && plainText(m.scalar) {
			out.Body = string(m.scalar)
		} else {
			out.Body, out.Encoding = base64.StdEncoding.EncodeToString(m.scalar), "base64"
		}
	default:
		out.Body, out.BodyTruncated, out.BodySize = string(m.render), m.truncated, int64(len(m.render))
	}
	return out
}

// plainText accepts text without control characters other than whitespace.
func plainText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

// errorPrefix is the code that starts a Redis error ("ERR", "WRONGTYPE").
func errorPrefix(s string) string {
	w, _, _ := strings.Cut(s, " ")
	if w == "" || len(w) > 32 {
		return "ERR"
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return "ERR"
		}
	}
	return w
}

// exchange pairs a command with its reply into a record.
func exchange(req, resp *msg, clientDir sdk.Direction) *sdk.Record {
	r := &sdk.Record{Protocol: "redis", RequestDir: clientDir}
	var problems []string
	if req != nil {
		r.Method, r.Path, _ = describe(req.elems)
		r.Timestamp = nanos(req.start)
		r.Request = commandMessage(req)
		if req.problem != "" {
			problems = append(problems, "request: "+req.problem)
			r.Failed = r.Failed || strings.HasPrefix(req.problem, "malformed")
		}
	}
	if resp != nil {
		r.Response = replyMessage(resp)
		r.End = nanos(resp.end)
		if req == nil {
			r.Timestamp = nanos(resp.start)
			problems = append(problems, "request not captured")
		}
		if resp.typ == '-' || resp.typ == '!' {
			r.Failed = true
			r.StatusText = errorPrefix(resp.errText)
		}
		if resp.problem != "" {
			problems = append(problems, "response: "+resp.problem)
			r.Failed = r.Failed || strings.HasPrefix(resp.problem, "malformed")
		}
	} else {
		problems = append(problems, "no response captured")
	}
	r.Error = strings.Join(problems, "; ")
	r.Summary = summary(r, resp)
	return r
}

// pushRecord is a one-way record for a message the server sent unasked.
func (c *conn) pushRecord(m *msg, kind string) *sdk.Record {
	r := &sdk.Record{Protocol: "redis", RequestDir: c.clientDir.Reverse(), Timestamp: nanos(m.start)}
	r.Method = strings.ToUpper(kind)
	if r.Method == "" {
		r.Method = "PUSH"
	}
	// The channel follows the kind; a pattern message names the pattern
	// first.
	ch := 1
	if kind == "pmessage" {
		ch = 2
	}
	if len(m.elems) > ch && m.elems[ch] != nil {
		r.Path = string(m.elems[ch])
	}
	r.Request = replyMessage(m)
	if m.problem != "" {
		r.Error = m.problem
		r.Failed = strings.HasPrefix(m.problem, "malformed")
	}
	r.Summary = clip(r.Method+" "+r.Path, 160)
	return r
}

func summary(r *sdk.Record, resp *msg) string {
	var b strings.Builder
	if r.Request != nil {
		b.WriteString(r.Method)
		if r.Path != "" {
			b.WriteByte(' ')
			b.WriteString(clip(r.Path, 80))
		}
	} else {
		b.WriteString("(request not captured)")
	}
	b.WriteString(" → ")
	if resp == nil {
		b.WriteString("(no response)")
		return b.String()
	}
	b.WriteString(clip(string(resp.render), 80))
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

// clip shortens s to about n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
