package http2

import (
	"github.com/kubeshark-wasm/kubeshark/sdk/preview"
	"strconv"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// message is one side of a stream: its header blocks and DATA.
type message struct {
	seen       bool // a header block or DATA of this side was captured
	start, end int64
	ended      bool // END_STREAM seen

	headers  []sdk.Header
	trailers []sdk.Header
	// trailerBlock is set once a trailing block arrived, even if none of
	// its fields could be decoded.
	trailerBlock bool
	method       string
	path         string
	status       int
	interim      []int
	size         int64 // frame bytes on the wire
	bodySize     int64
	body         []byte
	bodyCap      int
	encoding     string // Content-Encoding, for the preview
	missing      int64  // DATA bytes lost to capture gaps
	unknown      int    // header fields that referred to unseen HPACK entries
	problems     []string
	grpc         grpcCounter
	errCode      *uint32 // RST_STREAM this side sent
}

func (m *message) header(name string) (string, bool) {
	for _, h := range m.headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// trailer looks in the trailers first, then in the headers: a gRPC server
// that fails at once sends its status in the only header block.
func (m *message) trailer(name string) (string, bool) {
	for _, h := range m.trailers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return m.header(name)
}

func (m *message) note(p string) {
	if len(m.problems) < 8 {
		m.problems = append(m.problems, p)
	}
}

// stream is one HTTP/2 stream, which carries one exchange.
type stream struct {
	id      uint32
	reqDir  sdk.Direction
	dirSure bool // reqDir comes from the stream's own headers
	req     message
	resp    message
	// reqImplicit marks a request the capture cannot contain: the
	// HTTP/1.1 request that carried an h2c Upgrade, or one sent before the
	// capture began.
	reqImplicit string
	reset       string // RST_STREAM error code name
	resetBy     string
	resetDir    sdk.Direction
	goaway      string
	retained    int // bytes counted against the connection's budget
}

func (s *stream) side(dir sdk.Direction) *message {
	if dir == s.reqDir {
		return &s.req
	}
	return &s.resp
}

func (s *stream) done() bool {
	if s.reset != "" {
		return s.side(s.resetDir.Reverse()).ended
	}
	return (s.req.ended || s.reqImplicit != "") && s.resp.ended
}

func (s *stream) isGRPC() bool {
	for _, m := range []*message{&s.req, &s.resp} {
		if ct, ok := m.header("content-type"); ok && strings.HasPrefix(strings.ToLower(ct), "application/grpc") {
			return true
		}
	}
	return false
}

func nanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// record turns a stream into the record contract. why explains a stream
// that did not finish (connection closed, too many streams).
func (s *stream) record(why string, previews *preview.Decoder) *sdk.Record {
	grpc := s.isGRPC()
	r := &sdk.Record{Protocol: "http2", RequestDir: s.reqDir}
	if grpc {
		r.Protocol = "grpc"
	}
	var problems []string
	req, resp := &s.req, &s.resp
	if req.seen {
		r.Method, r.Path = req.method, req.path
		r.Timestamp = nanos(req.start)
		r.Request = req.toSDK(s.id, grpc, previews)
		for _, p := range req.problems {
			problems = append(problems, "request: "+p)
		}
		if !req.ended && s.reset == "" && why != "" {
			problems = append(problems, "request incomplete: "+why)
		}
	} else if s.reqImplicit != "" {
		problems = append(problems, s.reqImplicit)
	}
	if grpc {
		r.Method = "POST"
		if !req.seen {
			r.Method = ""
		}
	}
	hasResp := resp.seen && (resp.status != 0 || len(resp.interim) > 0)
	var grpcStatus int
	var grpcKnown bool
	if grpc && resp.seen {
		grpcStatus, grpcKnown = s.grpcStatus()
		hasResp = grpcKnown
	}
	if hasResp {
		r.Response = resp.toSDK(s.id, grpc, previews)
		r.End = nanos(resp.end)
		r.Status = resp.status
		r.Failed = resp.status >= 400
		if !req.seen {
			r.Timestamp = nanos(resp.start)
			if s.reqImplicit == "" {
				problems = append(problems, "request not captured")
			}
		}
		for _, p := range resp.problems {
			problems = append(problems, "response: "+p)
		}
		if !resp.ended && s.reset == "" && why != "" {
			problems = append(problems, "response incomplete: "+why)
		}
	} else if resp.seen {
		// A response whose status was never captured (HPACK entries lost,
		// or a gRPC call cut off before its trailers) says nothing about
		// the outcome; it is described in Error rather than shown as a
		// status.
		what := "response status not captured"
		if grpc {
			what = "no grpc-status captured"
			if resp.status != 0 {
				what += " (HTTP :status " + strconv.Itoa(resp.status) + ")"
			}
		}
		if why != "" {
			what += ": " + why
		}
		problems = append(problems, what)
		if !req.seen {
			r.Timestamp = nanos(resp.start)
		}
	} else if s.reset == "" {
		problems = append(problems, "no response captured")
	}
	if grpc {
		s.grpcFields(r, grpcStatus, grpcKnown)
	}
	if s.reset != "" {
		failed := s.reset != "NO_ERROR" || !resp.ended
		r.Failed = r.Failed || failed
		if r.StatusText == "" && failed {
			r.StatusText = s.reset
		}
		problems = append(problems, "stream reset by "+s.resetBy+" ("+s.reset+")")
	}
	if s.goaway != "" {
		problems = append(problems, s.goaway)
		r.Failed = true
	}
	if r.Timestamp.IsZero() && r.End.IsZero() {
		r.Timestamp = nanos(max(req.start, resp.start))
	}
	r.Error = strings.Join(problems, "; ")
	r.Summary = s.summary(r, grpc)
	return r
}

func (m *message) toSDK(id uint32, grpc bool, previews *preview.Decoder) *sdk.Message {
	out := &sdk.Message{Headers: m.headers, Size: m.size, BodySize: m.bodySize}
	out.Set("http2_stream_id", id)
	if len(m.trailers) > 0 {
		t := make(map[string]string, len(m.trailers))
		for _, h := range m.trailers {
			if prev, ok := t[h.Name]; ok {
				t[h.Name] = prev + ", " + h.Value
			} else {
				t[h.Name] = h.Value
			}
		}
		out.Set("trailers", t)
	}
	if len(m.interim) > 0 {
		out.Set("interim", m.interim)
	}
	if m.missing > 0 {
		out.Set("missing_bytes", m.missing)
	}
	if m.unknown > 0 {
		out.Set("hpack_unknown_fields", m.unknown)
	}
	if m.errCode != nil {
		out.Set("http2_error_code", errorCodeName(*m.errCode))
	}
	switch {
	case grpc && m.grpc.compressed > 0 && m.encoding == "":
		m.grpcPreview(out)
	case len(m.body) > 0:
		previews.Set(out, m.body, m.encoding, int64(len(m.body)) < m.bodySize)
	}
	return out
}

func (s *stream) summary(r *sdk.Record, grpc bool) string {
	var b strings.Builder
	switch {
	case r.Method != "" || r.Path != "":
		b.WriteString(strings.TrimSpace(r.Method + " " + clip(r.Path, 120)))
	case s.reqImplicit != "":
		b.WriteString("(HTTP/1.1 upgrade request)")
	default:
		b.WriteString("(request not captured)")
	}
	b.WriteString(" → ")
	switch {
	case r.Response != nil && grpc:
		b.WriteString(r.StatusText)
		if v, _ := r.Response.Get("grpc_message"); v != nil {
			if msg, _ := v.(string); msg != "" {
				b.WriteString(": " + clip(msg, 80))
			}
		}
	case r.Response != nil:
		b.WriteString(strconv.Itoa(r.Status))
	case s.reset != "":
		b.WriteString("reset " + s.reset)
	default:
		b.WriteString("(no response)")
	}
	return b.String()
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
