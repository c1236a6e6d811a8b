package http1

import (
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/preview"
)

// message is one request or response being parsed.
type message struct {
	start, end int64

	method, target, version string // request line
	status                  int    // status line
	reason                  string

	text     []byte // the head's bytes, kept for reuse when the emitter copies
	headers  []sdk.Header
	trailers []sdk.Header
	size     int64 // wire bytes
	bodySize int64 // transfer-decoded body bytes
	body     []byte
	bodyCap  int
	encoding string // Content-Encoding, for the preview
	missing  int64  // body bytes lost to capture gaps
	interim  []int
	problem  string // why the message is malformed or incomplete
	upgrade  string // Upgrade header when Connection: upgrade
	lost     bool   // stands in the queue for a request a capture gap swallowed
	answered bool   // a response came before the request ended
}

func (m *message) header(name string) (string, bool) {
	for _, h := range m.headers {
		if isName(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// appendBody keeps the start of the body for the preview. Encoded bodies keep
// more, since the preview is decoded from them at the end.
func (m *message) appendBody(p []byte) {
	m.bodySize += int64(len(p))
	if room := m.bodyCap - len(m.body); room > 0 {
		if len(p) > room {
			p = p[:room]
		}
		m.body = append(m.body, p...)
	}
}

func (m *message) toSDK(out *sdk.Message, previews *preview.Decoder) *sdk.Message {
	out.Reset()
	out.Headers, out.Size, out.BodySize = m.headers, m.size, m.bodySize
	switch m.version {
	case "":
	case "HTTP/1.1":
		// A constant in an interface needs no allocation; the substring of
		// the head would (one of a guest's costliest operations).
		out.Set("version", "HTTP/1.1")
	case "HTTP/1.0":
		out.Set("version", "HTTP/1.0")
	default:
		out.Set("version", m.version)
	}
	if len(m.trailers) > 0 {
		t := make(map[string]string, len(m.trailers))
		for _, h := range m.trailers {
			t[h.Name] = h.Value
		}
		out.Set("trailers", t)
	}
	if len(m.interim) > 0 {
		out.Set("interim", m.interim)
	}
	if m.missing > 0 {
		out.Set("missing_bytes", m.missing)
	}
	if len(m.body) > 0 {
		previews.Set(out, m.body, m.encoding, int64(len(m.body)) < m.bodySize)
	}
	return out
}

// exchangeRecord is a record and its two messages, allocated together.
type exchangeRecord struct {
	rec       sdk.Record
	req, resp sdk.Message
}

// exchange pairs a request with its response into a new record.
func exchange(req, resp *message, clientDir sdk.Direction, previews *preview.Decoder) *sdk.Record {
	return fillExchange(&exchangeRecord{}, nil, req, resp, clientDir, previews)
}

// fillExchange pairs a request with its response into x's record. The
// summary is written into sum's memory when it is not nil (reuse, for an
// emitter that copies), into a new buffer otherwise.
func fillExchange(x *exchangeRecord, sum *[]byte, req, resp *message, clientDir sdk.Direction, previews *preview.Decoder) *sdk.Record {
	r := &x.rec
	*r = sdk.Record{Protocol: "http", RequestDir: clientDir}
	var problems []string
	if req != nil {
		r.Method, r.Path = req.method, req.target
		r.Timestamp = nanos(req.start)
		r.Request = req.toSDK(&x.req, previews)
		if req.problem != "" {
			problems = append(problems, "request: "+req.problem)
		} else if req.missing > 0 {
			problems = append(problems, fmt.Sprintf("request: %d body bytes missing from the capture", req.missing))
		}
	}
	if resp != nil {
		r.Status, r.StatusText = resp.status, resp.reason
		r.Response = resp.toSDK(&x.resp, previews)
		r.End = nanos(resp.end)
		if req == nil {
			r.Timestamp = nanos(resp.start)
			problems = append(problems, "request not captured")
		}
		if resp.problem != "" {
			problems = append(problems, "response: "+resp.problem)
		} else if resp.missing > 0 {
			problems = append(problems, fmt.Sprintf("response: %d body bytes missing from the capture", resp.missing))
		}
		r.Failed = resp.status >= 400
	} else {
		problems = append(problems, "no response captured")
	}
	if req != nil && req.problem != "" && strings.HasPrefix(req.problem, "malformed") {
		r.Failed = true
	}
	if resp != nil && strings.HasPrefix(resp.problem, "malformed") {
		r.Failed = true
	}
	r.Error = strings.Join(problems, "; ")
	var b []byte
	if sum != nil {
		b = (*sum)[:0]
	} else {
		// One allocation instead of growing: each costs microseconds inside
		// WebAssembly.
		b = make([]byte, 0, 160)
	}
	b = appendSummary(b, req, resp)
	if sum != nil {
		*sum = b
	}
	// b is not written again until the record has been emitted (reuse) or
	// ever (a new buffer), so the string may share it.
	r.Summary = unsafe.String(unsafe.SliceData(b), len(b))
	return r
}

func appendSummary(b []byte, req, resp *message) []byte {
	if req != nil {
		b = append(b, req.method...)
		b = append(b, ' ')
		if t := req.target; len(t) > 120 {
			b = append(b, t[:117]...)
			b = append(b, "..."...)
		} else {
			b = append(b, t...)
		}
	} else {
		b = append(b, "(request not captured)"...)
	}
	b = append(b, " → "...)
	if resp == nil {
		return append(b, "(no response)"...)
	}
	b = strconv.AppendInt(b, int64(resp.status), 10)
	if resp.reason != "" {
		b = append(b, ' ')
		b = append(b, resp.reason...)
	}
	return b
}
