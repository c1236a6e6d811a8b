package mcp

import (
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Call is a record as the tools return it. It mirrors the record contract
// but keeps protocol-specific fields under "fields" (rather than inline as
// the CLI's JSON does) so that one output schema describes every protocol.
type Call struct {
	ID        string       `json:"id"`
	Protocol  string       `json:"protocol"`
	Timestamp time.Time    `json:"timestamp"`
	ElapsedMs *float64     `json:"elapsed_ms,omitempty"`
	Src       sdk.Endpoint `json:"src"`
	Dst       sdk.Endpoint `json:"dst"`
	Stream    string       `json:"stream" jsonschema:"the L4 flow (connection) that carried the call; see get_tcp_insights"`
	Method    string       `json:"method,omitempty"`
	Path      string       `json:"path,omitempty"`
	// Template is the endpoint template of the call, as stats and
	// anomalies group it and KFL's template variable reads it.
	Template   string       `json:"template,omitempty" jsonschema:"endpoint template (/users/{id}), as get_api_stats and find_anomalies group calls; filter with KFL template == \"...\""`
	Status     int          `json:"status"`
	StatusText string       `json:"status_text,omitempty"`
	Failed     bool         `json:"failed"`
	Error      string       `json:"error,omitempty"`
	Summary    string       `json:"summary,omitempty"`
	Dissector  string       `json:"dissector,omitempty"`
	Request    *CallMessage `json:"request,omitempty"`
	Response   *CallMessage `json:"response,omitempty"`
}

// CallMessage is one side of a call.
type CallMessage struct {
	Headers map[string]string `json:"headers,omitempty"`
	// Fields are the dissector's protocol fields (dns_questions,
	// redis_command, grpc_status, ...).
	Fields        map[string]any `json:"fields,omitempty"`
	Body          string         `json:"body,omitempty"`
	Encoding      string         `json:"encoding,omitempty" jsonschema:"base64 when body holds binary data"`
	BodySize      int64          `json:"body_size"`
	BodyTruncated bool           `json:"body_truncated,omitempty" jsonschema:"the body shown is shorter than the payload (capture preview or max_payload_size)"`
	Size          int64          `json:"size"`
}

// callView controls how much of a record a Call carries.
type callView struct {
	headers bool
	fields  bool
	// body is the most body characters to include; 0 drops bodies, <0
	// keeps them whole.
	body int
}

var (
	compactView = callView{}
	fullView    = callView{headers: true, fields: true, body: 1024}
)

func toCall(r *sdk.Record, v callView) Call {
	c := Call{
		ID: r.ID, Protocol: r.Protocol, Timestamp: r.Timestamp.UTC(), ElapsedMs: r.ElapsedMs,
		Src: r.Src, Dst: r.Dst, Stream: r.Stream, Method: r.Method, Path: r.Path,
		Status: r.Status, StatusText: r.StatusText, Failed: r.Failed, Error: r.Error, Summary: r.Summary,
	}
	if v.headers || v.fields || v.body != 0 {
		c.Dissector = r.Dissector
		c.Request = toMessage(r.Request, v)
		c.Response = toMessage(r.Response, v)
	}
	return c
}

func toMessage(m *sdk.Message, v callView) *CallMessage {
	if m == nil {
		return nil
	}
	out := &CallMessage{BodySize: m.BodySize, Size: m.Size, BodyTruncated: m.BodyTruncated}
	if v.headers && len(m.Headers) > 0 {
		out.Headers = make(map[string]string, len(m.Headers))
		for _, h := range m.Headers {
			if prev, ok := out.Headers[h.Name]; ok {
				out.Headers[h.Name] = prev + ", " + h.Value
			} else {
				out.Headers[h.Name] = h.Value
			}
		}
	}
	if v.fields && len(m.Fields) > 0 {
		out.Fields = m.Fields
	}
	if v.body != 0 && m.Body != "" {
		out.Body, out.Encoding = m.Body, m.Encoding
		if v.body > 0 && len(out.Body) > v.body {
			n := v.body
			if out.Encoding == "base64" {
				n -= n % 4 // keep it decodable
			}
			out.Body = cutUTF8(out.Body, n)
			out.BodyTruncated = true
		}
	}
	return out
}

// cutUTF8 cuts s to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
