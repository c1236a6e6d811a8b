package http1

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"fmt"
	"github.com/kubeshark-wasm/kubeshark/sdk/preview"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

const (
	cli = sdk.DirA // the client on an oriented connection
	srv = sdk.DirB
)

func open(t testing.TB, oriented bool) *sdktest.Driver {
	return sdktest.Open(under(t), sdk.ConnInfo{ID: 1, PortA: 40000, PortB: 80, Oriented: oriented})
}

// brief renders the fields most tests care about in one comparable line.
func brief(r *sdk.Record) string {
	line := strings.TrimSpace(r.Method + " " + string(clip([]byte(r.Path))))
	s := fmt.Sprintf("%s -> %d", line, r.Status)
	if r.Response == nil {
		s = line + " -> none"
	}
	if r.Failed {
		s += " failed"
	}
	return s
}

func briefs(rs []*sdk.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = brief(r)
	}
	return out
}

func wantBriefs(t *testing.T, dr *sdktest.Driver, want ...string) {
	t.Helper()
	got := briefs(dr.Records)
	if len(want) == 0 {
		want = []string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records:\n got  %q\n want %q", got, want)
	}
	for _, r := range dr.Records {
		if r.Protocol != "http" {
			t.Fatalf("protocol %q", r.Protocol)
		}
	}
}

func hdr(m *sdk.Message, name string) string {
	v, _ := m.Header(name)
	return v
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestSimpleGet(t *testing.T) {
	dr := open(t, true)
	req := "GET /api/v1/items?limit=10&x=%20 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\n"
	resp := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"ok\": true}\n"
	dr.Feed(cli, []byte(req), 1000)
	dr.Feed(srv, []byte(resp), 2000)
	wantBriefs(t, dr, "GET /api/v1/items?limit=10&x=%20 -> 200")
	r := dr.Records[0]
	if r.StatusText != "OK" || r.Failed || r.Error != "" {
		t.Errorf("status text %q failed %v error %q", r.StatusText, r.Failed, r.Error)
	}
	if r.Timestamp != time.Unix(0, 1000).UTC() || r.End != time.Unix(0, 2000).UTC() {
		t.Errorf("times %v %v", r.Timestamp, r.End)
	}
	if r.RequestDir != cli {
		t.Errorf("request dir %v", r.RequestDir)
	}
	wantHeaders := []sdk.Header{{Name: "Host", Value: "example.com"}, {Name: "Accept", Value: "*/*"}, {Name: "X-Dup", Value: "1"}, {Name: "X-Dup", Value: "2"}}
	if !reflect.DeepEqual(r.Request.Headers, wantHeaders) {
		t.Errorf("request headers %v", r.Request.Headers)
	}
	if r.Request.Size != int64(len(req)) || r.Request.BodySize != 0 || r.Request.Body != "" {
		t.Errorf("request size %d body size %d body %q", r.Request.Size, r.Request.BodySize, r.Request.Body)
	}
	if r.Response.Size != int64(len(resp)) || r.Response.BodySize != 13 || r.Response.Body != "{\"ok\": true}\n" || r.Response.Encoding != "" || r.Response.BodyTruncated {
		t.Errorf("response %+v", r.Response)
	}
	if r.Request.Fields["version"] != "HTTP/1.1" {
		t.Errorf("version %v", r.Request.Fields["version"])
	}
	dr.Close(3000)
	if len(dr.Records) != 1 {
		t.Errorf("close added records: %q", briefs(dr.Records))
	}
}

func TestKeepAlive(t *testing.T) {
	dr := open(t, true)
	for i := range 3 {
		ts := int64(i+1) * 1000
		dr.Feed(cli, fmt.Appendf(nil, "GET /%d HTTP/1.1\r\nHost: h\r\n\r\n", i), ts)
		dr.Feed(srv, fmt.Appendf(nil, "HTTP/1.1 %d X\r\nContent-Length: 2\r\n\r\nok", 200+i), ts+500)
	}
	dr.Close(9000)
	wantBriefs(t, dr, "GET /0 -> 200", "GET /1 -> 201", "GET /2 -> 202")
	for i, r := range dr.Records {
		ts := int64(i+1) * 1000
		if r.Timestamp.UnixNano() != ts || r.End.UnixNano() != ts+500 {
			t.Errorf("record %d times %d %d", i, r.Timestamp.UnixNano(), r.End.UnixNano())
		}
	}
}

func TestPipelining(t *testing.T) {
	dr := open(t, true)
	var reqs, resps string
	for i := range 3 {
		reqs += fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
		resps += fmt.Sprintf("HTTP/1.1 %d X\r\nContent-Length: 3\r\n\r\nr%02d", 200+i, i)
	}
	dr.Feed(cli, []byte(reqs), 1000)
	dr.Feed(srv, []byte(resps), 2000)
	wantBriefs(t, dr, "GET /0 -> 200", "GET /1 -> 201", "GET /2 -> 202")
	for i, r := range dr.Records {
		if r.Response.Body != fmt.Sprintf("r%02d", i) {
			t.Errorf("record %d body %q", i, r.Response.Body)
		}
	}
}

func TestContentLengthBodies(t *testing.T) {
	dr := open(t, true)
	body := `{"name":"x","values":[1,2,3]}`
	dr.Feed(cli, []byte(fmt.Sprintf("POST /items HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)), 1)
	dr.Feed(srv, []byte("HTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\ncreated"), 2)
	dr.Feed(cli, []byte("GET /next HTTP/1.1\r\n\r\n"), 3)
	dr.Feed(srv, []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), 4)
	wantBriefs(t, dr, "POST /items -> 201", "GET /next -> 404 failed")
	r := dr.Records[0]
	if r.Request.Body != body || r.Request.BodySize != int64(len(body)) || r.Response.Body != "created" || r.StatusText != "Created" {
		t.Errorf("bodies %q %d %q", r.Request.Body, r.Request.BodySize, r.Response.Body)
	}
}

func TestChunked(t *testing.T) {
	dr := open(t, true)
	reqWire := "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5;name=value\r\nhello\r\n" +
		"6\r\n world\r\n" +
		"0\r\nX-Checksum: abc\r\n\r\n"
	respWire := "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Type: text/plain\r\n\r\n" +
		"a\r\n0123456789\r\n" +
		"A; ext\r\nabcdefghij\r\n" +
		"0\r\n\r\n"
	dr.Feed(cli, []byte(reqWire), 1)
	dr.Feed(srv, []byte(respWire), 2)
	dr.Feed(cli, []byte("GET /after HTTP/1.1\r\n\r\n"), 3)
	dr.Feed(srv, []byte("HTTP/1.1 204 No Content\r\n\r\n"), 4)
	wantBriefs(t, dr, "POST /upload -> 200", "GET /after -> 204")
	r := dr.Records[0]
	if r.Request.Body != "hello world" || r.Request.BodySize != 11 || r.Request.Size != int64(len(reqWire)) {
		t.Errorf("request body %q size %d wire %d/%d", r.Request.Body, r.Request.BodySize, r.Request.Size, len(reqWire))
	}
	if tr, _ := r.Request.Fields["trailers"].(map[string]any); tr["X-Checksum"] != "abc" {
		t.Errorf("trailers %v", r.Request.Fields["trailers"])
	}
	if r.Response.Body != "0123456789abcdefghij" || r.Response.BodySize != 20 || r.Response.Size != int64(len(respWire)) {
		t.Errorf("response body %q size %d wire %d/%d", r.Response.Body, r.Response.BodySize, r.Response.Size, len(respWire))
	}
}

func TestResponseUntilClose(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("GET /old HTTP/1.0\r\n\r\n"), 1000)
	dr.Feed(srv, []byte("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part "), 2000)
	dr.Feed(srv, []byte("second part"), 3000)
	if len(dr.Records) != 0 {
		t.Fatalf("record before close: %q", briefs(dr.Records))
	}
	dr.Close(4000)
	wantBriefs(t, dr, "GET /old -> 200")
	r := dr.Records[0]
	if r.Response.Body != "first part second part" || r.Response.BodySize != 22 || r.Error != "" {
		t.Errorf("body %q size %d error %q", r.Response.Body, r.Response.BodySize, r.Error)
	}
	if r.End.UnixNano() != 3000 {
		t.Errorf("end %d, want the time of the last body byte", r.End.UnixNano())
	}
	if r.Request.Fields["version"] != "HTTP/1.0" {
		t.Errorf("version %v", r.Request.Fields["version"])
	}
}

func TestNoBodyResponses(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("HEAD /file HTTP/1.1\r\n\r\n"), 1)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n"), 2)
	dr.Feed(cli, []byte("DELETE /x HTTP/1.1\r\n\r\n"), 3)
	dr.Feed(srv, []byte("HTTP/1.1 204 No Content\r\n\r\n"), 4)
	dr.Feed(cli, []byte("GET /cached HTTP/1.1\r\nIf-None-Match: \"a\"\r\n\r\n"), 5)
	dr.Feed(srv, []byte("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: \"a\"\r\n\r\n"), 6)
	dr.Feed(cli, []byte("GET /last HTTP/1.1\r\n\r\n"), 7)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast"), 8)
	dr.Close(9)
	wantBriefs(t, dr, "HEAD /file -> 200", "DELETE /x -> 204", "GET /cached -> 304", "GET /last -> 200")
	if r := dr.Records[0]; r.Response.BodySize != 0 || r.End.UnixNano() != 2 || r.Error != "" {
		t.Errorf("HEAD response body size %d end %d error %q", r.Response.BodySize, r.End.UnixNano(), r.Error)
	}
	if dr.Records[3].Response.Body != "last" {
		t.Errorf("body %q", dr.Records[3].Response.Body)
	}
}

func TestContinue(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("PUT /big HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"), 1)
	dr.Feed(srv, []byte("HTTP/1.1 100 Continue\r\n\r\n"), 2)
	dr.Feed(cli, []byte("data"), 3)
	dr.Feed(srv, []byte("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 4)
	wantBriefs(t, dr, "PUT /big -> 200")
	r := dr.Records[0]
	if !reflect.DeepEqual(r.Response.Fields["interim"], []any{float64(100), float64(103)}) {
		t.Errorf("interim %v", r.Response.Fields["interim"])
	}
	if r.Request.Body != "data" {
		t.Errorf("body %q", r.Request.Body)
	}
}

func TestUpgradeWebSocket(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n"), 1)
	// A client that does not wait sends a frame right away.
	dr.Feed(cli, []byte("\x81\x85GET / HTTP/1.1\r\n\r\n"), 2)
	if len(dr.Records) != 0 || dr.Switched() != "" {
		t.Fatalf("early records %q switch %q", briefs(dr.Records), dr.Switched())
	}
	dr.Feed(srv, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello"+"HTTP/1.1 200 OK\r\n\r\n"), 3)
	if dr.Switched() != "websocket" {
		t.Fatalf("switch %q", dr.Switched())
	}
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 4)
	dr.Feed(cli, []byte("GET /x HTTP/1.1\r\n\r\n"), 5)
	dr.Close(6)
	wantBriefs(t, dr, "GET /chat -> 101")
}

func TestUpgradeDeclined(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), 1)
	dr.Feed(srv, []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), 2)
	dr.Feed(cli, []byte("GET /plain HTTP/1.1\r\n\r\n"), 3)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 4)
	wantBriefs(t, dr, "GET /chat -> 400 failed", "GET /plain -> 200")
	if dr.Switched() != "" {
		t.Errorf("switch %q", dr.Switched())
	}
}

func TestUpgradeH2C(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"), 1)
	dr.Feed(srv, []byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"), 2)
	if dr.Switched() != "http2" {
		t.Fatalf("switch %q", dr.Switched())
	}
	wantBriefs(t, dr, "GET / -> 101")
}

func TestConnect(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x00\x05hello"), 1)
	dr.Feed(srv, []byte("HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x03\x00\x02hi"), 2)
	if dr.Switched() != "tls" {
		t.Fatalf("switch %q", dr.Switched())
	}
	wantBriefs(t, dr, "CONNECT example.com:443 -> 200")
	if dr.Records[0].Response.BodySize != 0 {
		t.Errorf("tunnel bytes counted as body")
	}
}

func TestStartsWithResponse(t *testing.T) {
	dr := open(t, true)
	dr.Feed(srv, []byte("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\n\r\nerr"), 1)
	dr.Feed(cli, []byte("GET /b HTTP/1.1\r\n\r\n"), 2)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 3)
	wantBriefs(t, dr, " -> 500 failed", "GET /b -> 200")
	r := dr.Records[0]
	if r.Timestamp.UnixNano() != 1 || r.Request != nil || r.Error == "" {
		t.Errorf("response-only record %+v", r)
	}
}

func TestUnorientedResponseFirst(t *testing.T) {
	dr := open(t, false)
	// The capture joined mid-connection: DirA's first bytes are a response,
	// so DirA is the server.
	dr.Feed(sdk.DirA, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"), 1)
	dr.Feed(sdk.DirB, []byte("GET /next HTTP/1.1\r\n\r\n"), 2)
	dr.Feed(sdk.DirA, []byte("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"), 3)
	wantBriefs(t, dr, " -> 200", "GET /next -> 201")
	for _, r := range dr.Records {
		if r.RequestDir != sdk.DirB {
			t.Errorf("request dir %v, want DirB", r.RequestDir)
		}
	}
}

func TestUnorientedRequestOnB(t *testing.T) {
	dr := open(t, false)
	dr.Feed(sdk.DirB, []byte("GET /x HTTP/1.1\r\n\r\n"), 1)
	dr.Feed(sdk.DirA, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 2)
	wantBriefs(t, dr, "GET /x -> 200")
	if dr.Records[0].RequestDir != sdk.DirB {
		t.Errorf("request dir %v", dr.Records[0].RequestDir)
	}
}

func TestCompressedBodies(t *testing.T) {
	text := []byte(strings.Repeat("compressible text ", 50))
	var zbuf, fbuf bytes.Buffer
	zw := zlib.NewWriter(&zbuf)
	zw.Write(text)
	zw.Close()
	fw, _ := flate.NewWriter(&fbuf, flate.DefaultCompression)
	fw.Write(text)
	fw.Close()
	tests := []struct {
		name, encoding string
		body           []byte
	}{
		{"gzip", "gzip", gz(t, text)},
		{"x-gzip", "x-gzip", gz(t, text)},
		{"deflate zlib", "deflate", zbuf.Bytes()},
		{"deflate raw", "deflate", fbuf.Bytes()},
		{"gzip gzip", "gzip, gzip", gz(t, gz(t, text))},
		{"identity gzip", "identity, gzip", gz(t, text)},
		// Codings are compared lower-cased as strings.ToLower does it,
		// which turns U+0130 into i.
		{"unicode case", "X-GZ\u0130P ,  \u0130DENTITY", gz(t, text)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dr := open(t, true)
			dr.Feed(cli, []byte("GET /c HTTP/1.1\r\nAccept-Encoding: gzip, deflate\r\n\r\n"), 1)
			resp := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n", tt.encoding, len(tt.body))
			dr.Feed(srv, append(resp, tt.body...), 2)
			wantBriefs(t, dr, "GET /c -> 200")
			m := dr.Records[0].Response
			if m.Body != string(text) || m.Encoding != "" || m.BodyTruncated {
				t.Errorf("body %q encoding %q truncated %v", clip([]byte(m.Body)), m.Encoding, m.BodyTruncated)
			}
			if m.BodySize != int64(len(tt.body)) {
				t.Errorf("body size %d, want the encoded size %d", m.BodySize, len(tt.body))
			}
			if m.Fields["content_encoding"] != tt.encoding {
				t.Errorf("content_encoding %v", m.Fields["content_encoding"])
			}
		})
	}
}

func TestCompressedUnknownCoding(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("GET /c HTTP/1.1\r\n\r\n"), 1)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 4\r\n\r\n\x8b\x01\x80\x00"), 2)
	m := dr.Records[0].Response
	if m.Encoding != "base64" || m.Fields["content_encoding_error"] == nil {
		t.Errorf("body %q encoding %q fields %v", m.Body, m.Encoding, m.Fields)
	}
}

func TestBinaryBody(t *testing.T) {
	bin := []byte{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0xff}
	dr := open(t, true)
	dr.Feed(cli, []byte("GET /img.png HTTP/1.1\r\n\r\n"), 1)
	dr.Feed(srv, append(fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n", len(bin)), bin...), 2)
	m := dr.Records[0].Response
	if m.Encoding != "base64" || m.Body != base64.StdEncoding.EncodeToString(bin) || m.BodySize != int64(len(bin)) {
		t.Errorf("body %q encoding %q size %d", m.Body, m.Encoding, m.BodySize)
	}
}

func TestBodyPreviewCap(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 5000) // 80000 bytes
	t.Run("plain", func(t *testing.T) {
		dr := open(t, true)
		dr.Feed(cli, []byte(fmt.Sprintf("POST /up HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s", len(big), big)), 1)
		dr.Feed(srv, []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(big), big)), 2)
		wantBriefs(t, dr, "POST /up -> 200")
		for _, m := range []*sdk.Message{dr.Records[0].Request, dr.Records[0].Response} {
			if len(m.Body) != preview.MaxBytes || m.Body != big[:preview.MaxBytes] || !m.BodyTruncated || m.BodySize != int64(len(big)) {
				t.Errorf("preview %d truncated %v size %d", len(m.Body), m.BodyTruncated, m.BodySize)
			}
		}
	})
	t.Run("gzip", func(t *testing.T) {
		z := gz(t, []byte(big))
		dr := open(t, true)
		dr.Feed(cli, []byte("GET /big HTTP/1.1\r\n\r\n"), 1)
		dr.Feed(srv, append(fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", len(z)), z...), 2)
		m := dr.Records[0].Response
		if len(m.Body) != preview.MaxBytes || m.Body != big[:preview.MaxBytes] || !m.BodyTruncated || m.BodySize != int64(len(z)) {
			t.Errorf("preview %d truncated %v size %d", len(m.Body), m.BodyTruncated, m.BodySize)
		}
	})
	t.Run("chunked exactly at cap", func(t *testing.T) {
		body := big[:preview.MaxBytes]
		dr := open(t, true)
		dr.Feed(cli, []byte("GET /big HTTP/1.1\r\n\r\n"), 1)
		dr.Feed(srv, []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)), 2)
		m := dr.Records[0].Response
		if m.Body != body || m.BodyTruncated || m.BodySize != int64(len(body)) {
			t.Errorf("preview %d truncated %v size %d", len(m.Body), m.BodyTruncated, m.BodySize)
		}
	})
}

// conversation is a keep-alive connection with most framings, used to
// check that any split of the byte streams yields the same records.
func conversation(t testing.TB) (client, server []byte) {
	z := gz(t, []byte(`{"compressed":true}`))
	client = []byte("GET /one?q=1 HTTP/1.1\r\nHost: h\r\n\r\n" +
		"POST /two HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" +
		"PUT /three HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n" +
		"\r\nHEAD /four HTTP/1.1\r\n\r\n" +
		"GET /five HTTP/1.1\r\n\r\n" +
		"GET /six HTTP/1.1\r\n\r\n")
	server = []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" +
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nmade\r\n0\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
	server = append(server, fmt.Appendf(nil, "HTTP/1.1 404 Not Found\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", len(z))...)
	server = append(server, z...)
	server = append(server, "HTTP/1.0 200 OK\r\n\r\nuntil the end"...)
	return client, server
}

func feedSplit(dr *sdktest.Driver, dir sdk.Direction, data []byte, sizes func() int) {
	for len(data) > 0 {
		n := min(sizes(), len(data))
		dr.Feed(dir, data[:n], 1)
		data = data[n:]
	}
}

func TestEveryByteSplit(t *testing.T) {
	client, server := conversation(t)
	run := func(sizes func() int) []*sdk.Record {
		dr := open(t, true)
		// All requests first, then all responses: the pipelined worst case.
		feedSplit(dr, cli, client, sizes)
		feedSplit(dr, srv, server, sizes)
		dr.Close(1)
		return dr.Records
	}
	want := run(func() int { return 1 << 20 })
	if got := briefs(want); !reflect.DeepEqual(got, []string{"GET /one?q=1 -> 200", "POST /two -> 201", "PUT /three -> 204", "HEAD /four -> 200", "GET /five -> 404 failed", "GET /six -> 200"}) {
		t.Fatalf("whole-stream records %q", got)
	}
	if want[4].Response.Body != `{"compressed":true}` || want[5].Response.Body != "until the end" {
		t.Fatalf("bodies %q %q", want[4].Response.Body, want[5].Response.Body)
	}
	check := func(name string, got []*sdk.Record) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			for i := range max(len(got), len(want)) {
				if i >= len(got) || i >= len(want) || !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("%s: record %d differs:\n got  %+v\n want %+v", name, i, at(got, i), at(want, i))
				}
			}
		}
	}
	check("one byte", run(func() int { return 1 }))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		limit := 1 + rng.IntN(64)
		check(fmt.Sprintf("random %d", i), run(func() int { return 1 + rng.IntN(limit) }))
	}
	// Interleaved exchange by exchange, one byte at a time.
	dr := open(t, true)
	for _, ex := range [][2]string{
		{"GET /a HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"},
		{"GET /b HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\ny\r\n0\r\n\r\n"},
	} {
		feedSplit(dr, cli, []byte(ex[0]), func() int { return 1 })
		feedSplit(dr, srv, []byte(ex[1]), func() int { return 1 })
	}
	wantBriefs(t, dr, "GET /a -> 200", "GET /b -> 200")
}

func at(rs []*sdk.Record, i int) any {
	if i < len(rs) {
		return *rs[i]
	}
	return nil
}

func TestTimestamps(t *testing.T) {
	dr := open(t, true)
	// The request line arrives in two segments: the first byte's time wins.
	dr.Feed(cli, []byte("GET /slow HT"), 100)
	dr.Feed(cli, []byte("TP/1.1\r\nHost: h\r\n\r\n"), 200)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Le"), 300)
	dr.Feed(srv, []byte("ngth: 4\r\n\r\nab"), 400)
	dr.Feed(srv, []byte("cd"), 500)
	// The response's end arrives together with the next response.
	dr.Feed(cli, []byte("GET /two HTTP/1.1\r\n\r\nGET /three HTTP/1.1\r\n\r\n"), 600)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Le"), 700)
	dr.Feed(srv, []byte("ngth: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 800)
	wantBriefs(t, dr, "GET /slow -> 200", "GET /two -> 200", "GET /three -> 200")
	want := [][2]int64{{100, 500}, {600, 800}, {600, 800}}
	for i, r := range dr.Records {
		if got := [2]int64{r.Timestamp.UnixNano(), r.End.UnixNano()}; got != want[i] {
			t.Errorf("record %d times %v, want %v", i, got, want[i])
		}
	}
}

func TestRequestWithoutResponse(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345"), 1)
	dr.Close(2)
	wantBriefs(t, dr, "GET /a -> none", "POST /b -> none")
	if dr.Records[0].Error == "" || !dr.Records[0].End.IsZero() {
		t.Errorf("record %+v", dr.Records[0])
	}
	if r := dr.Records[1]; r.Request.BodySize != 5 || !strings.Contains(r.Error, "ended") {
		t.Errorf("partial request %+v", r)
	}
}

func TestGapInBody(t *testing.T) {
	for _, dir := range []sdk.Direction{cli, srv} {
		t.Run(fmt.Sprint(dir), func(t *testing.T) {
			dr := open(t, true)
			reqHead, respHead := "GET /a HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
			if dir == cli {
				reqHead = "POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n"
				respHead = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
			}
			dr.Feed(cli, []byte(reqHead), 1)
			if dir == cli {
				dr.Feed(cli, []byte("012"), 2)
				dr.Gap(cli, 4, 3)
				dr.Feed(cli, []byte("789"), 4)
			}
			dr.Feed(srv, []byte(respHead), 5)
			if dir == srv {
				dr.Feed(srv, []byte("012"), 6)
				dr.Gap(srv, 4, 7)
				dr.Feed(srv, []byte("789"), 8)
			}
			dr.Feed(cli, []byte("GET /b HTTP/1.1\r\n\r\n"), 9)
			dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), 10)
			method := "GET"
			if dir == cli {
				method = "POST"
			}
			wantBriefs(t, dr, method+" /a -> 200", "GET /b -> 200")
			m := dr.Records[0].Response
			if dir == cli {
				m = dr.Records[0].Request
			}
			if m.Fields["missing_bytes"] != float64(4) || m.BodySize != 10 || !m.BodyTruncated {
				t.Errorf("message %+v", m)
			}
			if dr.Records[1].Response.Body != "ok" || dr.Records[1].Error != "" {
				t.Errorf("next record %+v", dr.Records[1])
			}
		})
	}
}

func TestGapEndsBody(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("GET /a HTTP/1.1\r\n\r\n"), 1)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"), 2)
	dr.Gap(srv, 5, 3)
	wantBriefs(t, dr, "GET /a -> 200")
	if r := dr.Records[0]; r.Response.Fields["missing_bytes"] != float64(5) || r.End.UnixNano() != 3 || r.Error == "" {
		t.Errorf("record %+v", r)
	}
}

func TestGapInHeaders(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"), 1)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 2)
	dr.Feed(cli, []byte("GET /b HTTP/1.1\r\nHo"), 3)
	dr.Gap(cli, 10, 4)
	dr.Feed(cli, []byte("-Agent: x\r\nAccept: */*\r\n\r\n"), 5)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 6)
	dr.Feed(cli, []byte("GET /c HTTP/1.1\r\n\r\n"), 7)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 8)
	dr.Close(9)
	wantBriefs(t, dr, "GET /a -> 200", " -> 200", "GET /c -> 200")
}

func TestGapSwallowsRequest(t *testing.T) {
	t.Run("sequential", func(t *testing.T) {
		dr := open(t, true)
		dr.Feed(cli, []byte("GET /a HTTP/1.1\r\n\r\n"), 1)
		dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 2)
		dr.Gap(cli, len("GET /b HTTP/1.1\r\n\r\n"), 3)
		dr.Feed(srv, []byte("HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n"), 4)
		dr.Feed(cli, []byte("GET /c HTTP/1.1\r\n\r\n"), 5)
		dr.Feed(srv, []byte("HTTP/1.1 202 OK\r\nContent-Length: 0\r\n\r\n"), 6)
		dr.Close(7)
		wantBriefs(t, dr, "GET /a -> 200", " -> 201", "GET /c -> 202")
	})
	t.Run("pipelined", func(t *testing.T) {
		dr := open(t, true)
		dr.Feed(cli, []byte("GET /a HTTP/1.1\r\n\r\n"), 1)
		dr.Gap(cli, len("GET /b HTTP/1.1\r\n\r\n"), 2)
		dr.Feed(cli, []byte("GET /c HTTP/1.1\r\n\r\n"), 3)
		dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 202 OK\r\nContent-Length: 0\r\n\r\n"), 4)
		dr.Close(5)
		wantBriefs(t, dr, "GET /a -> 200", " -> 201", "GET /c -> 202")
	})
	t.Run("lost response", func(t *testing.T) {
		dr := open(t, true)
		dr.Feed(cli, []byte("GET /a HTTP/1.1\r\n\r\n"), 1)
		dr.Gap(srv, len("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 2)
		dr.Feed(cli, []byte("GET /b HTTP/1.1\r\n\r\n"), 3)
		dr.Feed(srv, []byte("HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n"), 4)
		dr.Feed(cli, []byte("GET /c HTTP/1.1\r\n\r\n"), 5)
		dr.Feed(srv, []byte("HTTP/1.1 202 OK\r\nContent-Length: 0\r\n\r\n"), 6)
		dr.Close(7)
		wantBriefs(t, dr, "GET /a -> none", "GET /b -> 201", "GET /c -> 202")
	})
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		name   string
		client string
		server string
		want   []string
	}{
		{
			name:   "bad request line is skipped",
			client: "GET /a HTTP/1.1 trailing junk\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			server: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			want:   []string{"GET /b -> 200"},
		},
		{
			name:   "empty target",
			client: "GET  HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			server: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			want:   []string{"GET -> 400 failed", "GET /b -> 200"},
		},
		{
			name:   "header without colon",
			client: "GET /a HTTP/1.1\r\nthis is not a header\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			server: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			want:   []string{"GET /a -> 200 failed", "GET /b -> 200"},
		},
		{
			name:   "bad chunk size",
			client: "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			server: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			want:   []string{"GET /a -> 200 failed", "GET /b -> 200"},
		},
		{
			name:   "chunk size overflow",
			client: "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			server: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\nxx\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			want:   []string{"GET /a -> 200 failed", "GET /b -> 200"},
		},
		{
			name:   "chunk size 2^63",
			client: "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			server: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\nxx\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			want:   []string{"GET /a -> 200 failed", "GET /b -> 200"},
		},
		{
			name:   "chunk without CRLF",
			client: "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			server: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			want:   []string{"POST /a -> 200 failed", "GET /b -> 200"},
		},
		{
			name:   "conflicting content-length",
			client: "POST /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhelloxGET /b HTTP/1.1\r\n\r\n",
			server: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			// The body's length is unknown, so the request after it is lost.
			want: []string{"POST /a -> 400 failed", " -> 200"},
		},
		{
			name:   "repeated equal content-length",
			client: "POST /a HTTP/1.1\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n",
			server: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			want:   []string{"POST /a -> 200", "GET /b -> 200"},
		},
		{
			name:   "conflicting content-length in response",
			client: "GET /a HTTP/1.1\r\n\r\n",
			server: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
			want:   []string{"GET /a -> 200 failed"},
		},
		{
			name:   "negative content-length",
			client: "GET /a HTTP/1.1\r\n\r\n",
			server: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
			want:   []string{"GET /a -> 200 failed"},
		},
		{
			name:   "garbage only",
			client: "\x00\x01\x02 not http at all \xff\r\n\r\n\r\nlorem ipsum\n",
			server: "\x16\x03\x03\x00\x10random bytes \x00\n",
			want:   []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dr := open(t, true)
			dr.Feed(cli, []byte(tt.client), 1)
			dr.Feed(srv, []byte(tt.server), 2)
			dr.Close(3)
			// Requests the server did not answer are reported at close.
			var got []string
			for _, r := range dr.Records {
				if r.Response != nil {
					got = append(got, brief(r))
				}
			}
			if got == nil {
				got = []string{}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("records %q, want %q", briefs(dr.Records), tt.want)
			}
			for _, r := range dr.Records {
				if r.Failed && r.Error == "" && r.Status < 400 {
					t.Errorf("failed record without an error: %+v", r)
				}
			}
		})
	}
}

func TestHugeHeaderBlock(t *testing.T) {
	huge := "GET /a HTTP/1.1\r\n" + strings.Repeat("X-Filler: "+strings.Repeat("y", 100)+"\r\n", 700) + "\r\n"
	for _, piece := range []int{len(huge), 1460, 1} {
		t.Run(fmt.Sprint(piece), func(t *testing.T) {
			dr := open(t, true)
			feedSplit(dr, cli, []byte(huge), func() int { return piece })
			dr.Feed(srv, []byte("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n"), 2)
			dr.Feed(cli, []byte("GET /b HTTP/1.1\r\n\r\n"), 3)
			dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 4)
			dr.Close(5)
			if dr.Rejected() {
				t.Fatal("rejected")
			}
			wantBriefs(t, dr, "? -> 431 failed", "GET /b -> 200")
			if r := dr.Records[0]; !strings.Contains(r.Error, "64 KiB") {
				t.Errorf("error %q", r.Error)
			}
		})
	}
}

func TestLongChunkLine(t *testing.T) {
	wire := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", 2000) + "\r\nx\r\n0\r\n\r\n"
	for _, piece := range []int{len(wire), 100, 1} {
		dr := open(t, true)
		dr.Feed(cli, []byte("GET /a HTTP/1.1\r\n\r\n"), 1)
		feedSplit(dr, srv, []byte(wire), func() int { return piece })
		dr.Close(2)
		wantBriefs(t, dr, "GET /a -> 200 failed")
	}
}

func TestManyHeaders(t *testing.T) {
	dr := open(t, true)
	var b strings.Builder
	b.WriteString("POST /a HTTP/1.1\r\nContent-Length: 4\r\n")
	for i := range 300 {
		fmt.Fprintf(&b, "X-H%d: v\r\n", i)
	}
	b.WriteString("\r\nbodyGET /b HTTP/1.1\r\n\r\n")
	dr.Feed(cli, []byte(b.String()), 1)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 2)
	wantBriefs(t, dr, "POST /a -> 200 failed", "GET /b -> 200")
	if n := len(dr.Records[0].Request.Headers); n != maxHeaders {
		t.Errorf("%d headers kept", n)
	}
}

func TestLongRequestTarget(t *testing.T) {
	target := "/search?q=" + strings.Repeat("x", 12<<10)
	dr := open(t, true)
	dr.Feed(cli, []byte("GET "+target+" HTTP/1.1\r\nHost: h\r\n\r\n"), 1)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 2)
	wantBriefs(t, dr, "GET "+clip([]byte(target))+" -> 200")
}

func TestObsFoldAndBareLF(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("GET /lf HTTP/1.1\nX-Long: first\n  second\n\n"), 1)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\nContent-Length: 2\n\nok"), 2)
	wantBriefs(t, dr, "GET /lf -> 200")
	if v := hdr(dr.Records[0].Request, "x-long"); v != "first second" {
		t.Errorf("folded header %q", v)
	}
	if dr.Records[0].Response.Body != "ok" {
		t.Errorf("body %q", dr.Records[0].Response.Body)
	}
}

// A head of thousands of folded lines, two headers folded in turn and a
// fold after the header limit: the value grows line by line, and neither
// time nor memory may grow with the square of the lines.
func TestManyFoldedLines(t *testing.T) {
	var b strings.Builder
	b.WriteString("GET /fold HTTP/1.1\r\nX-A: a\r\n")
	for i := range 12000 {
		fmt.Fprintf(&b, " %d\r\n", i%10)
	}
	b.WriteString("X-B: b\r\n\t1\r\n\t 2 \r\n")
	for i := range 300 {
		fmt.Fprintf(&b, "H%d: v\r\n", i)
	}
	b.WriteString(" after-limit\r\n\r\n")
	dr := open(t, true)
	dr.Feed(cli, []byte(b.String()), 1)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 2)
	wantBriefs(t, dr, "GET /fold -> 200 failed")
	req := dr.Records[0].Request
	if v := hdr(req, "x-a"); len(v) != 1+2*12000 || !strings.HasPrefix(v, "a 0 1 2") {
		t.Errorf("folded X-A is %d bytes: %.20q", len(v), v)
	}
	if v := hdr(req, "x-b"); v != "b 1 2" {
		t.Errorf("folded X-B %q", v)
	}
}

// A malformed line is quoted in the record's error as Go's %q quotes it:
// printable runes as they are, others escaped (unassigned, format, space
// and control characters, invalid bytes), cut at 64 bytes.
func TestQuotedProblem(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("GET / HTTP/1.1\r\nBad \u0378\u00ad\u00a0\u2028\U000E0001\x85\xff\u00e9\u4e16 \"q\"\\ \x01\t"+strings.Repeat("\u00e9", 20)+"\r\n\r\n"), 1)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 2)
	wantBriefs(t, dr, "GET / -> 200 failed")
	want := `request: malformed: header line without a colon: "Bad \u0378\u00ad\u00a0\u2028\U000e0001\x85\xffé世 \"q\"\\ \x01\té`
	if e := dr.Records[0].Error; !strings.HasPrefix(e, want) || !strings.HasSuffix(e, "…\"") {
		t.Errorf("error %q\nwant it to start %q", e, want)
	}
}

// The hint of a 101's protocol switch is the Upgrade value trimmed and
// lower-cased as strings.ToLower does it (Unicode, invalid bytes as
// U+FFFD), websocket, h2c and HTTP/2 named as the host's dissectors are.
func TestUpgradeHint(t *testing.T) {
	for _, tt := range []struct{ upgrade, want string }{
		{"WebSocket", "websocket"},
		{"H2C", "http2"},
		{"HTTP/2.0", "http2"},
		{" \u00c9T\u00c9\x00/1 ", "\u00e9t\u00e9\x00/1"},
		{"\xffX\u0130\u212a", "\ufffdxi\u006b"},
		{"", ""},
	} {
		dr := open(t, true)
		dr.Feed(cli, []byte("GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: "+tt.upgrade+"\r\n\r\n"), 1)
		dr.Feed(srv, []byte("HTTP/1.1 101 Switching\r\nUpgrade: "+tt.upgrade+"\r\n\r\n"), 2)
		if got := dr.Switched(); got != tt.want {
			t.Errorf("Upgrade %q: hint %q, want %q", tt.upgrade, got, tt.want)
		}
	}
}

func TestGarbageNoHang(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	junk := make([]byte, 1<<20)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	dr := open(t, false)
	dr.Feed(sdk.DirA, junk, 1)
	dr.Feed(sdk.DirB, junk, 2)
	dr.Close(3)
	if len(dr.Records) != 0 {
		t.Fatalf("records from junk: %q", briefs(dr.Records))
	}
}

func TestJSONRoundTrip(t *testing.T) {
	client, server := conversation(t)
	dr := open(t, true)
	dr.Feed(cli, client, 1)
	dr.Feed(srv, server, 2)
	dr.Close(3)
	for _, r := range dr.Records {
		if _, err := r.MarshalJSON(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPreviewText(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		truncated bool
		want      string
		base64    bool
	}{
		{"utf8", "héllo wörld\n", false, "héllo wörld\n", false},
		{"cut rune", "ab€"[:4], true, "ab", false},
		{"latin1 at end", "caf\xe9", false, "", true},
		{"latin1 inside", "caf\xe9 au lait", false, "", true},
		{"control", "a\x00b", false, "", true},
		{"binary cut", "\x00\x01\xe2", true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m sdk.Message
			preview.Set(&m, []byte(tt.body), "", tt.truncated)
			if tt.base64 {
				if m.Encoding != "base64" || m.Body != base64.StdEncoding.EncodeToString([]byte(tt.body)) {
					t.Errorf("body %q encoding %q", m.Body, m.Encoding)
				}
				return
			}
			if m.Encoding != "" || m.Body != tt.want || m.BodyTruncated != tt.truncated {
				t.Errorf("body %q encoding %q truncated %v", m.Body, m.Encoding, m.BodyTruncated)
			}
		})
	}
}

func TestUpgradeResponseLost(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), 1)
	dr.Gap(srv, 100, 2)
	dr.Feed(cli, []byte("GET /next HTTP/1.1\r\n\r\n"), 3)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 4)
	wantBriefs(t, dr, "GET /ws -> none", "GET /next -> 200")
}

func TestEarlyResponse(t *testing.T) {
	dr := open(t, true)
	dr.Feed(cli, []byte("POST /upload HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n"), 1)
	dr.Feed(srv, []byte("HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n"), 2)
	dr.Feed(cli, []byte("0123456789GET /next HTTP/1.1\r\n\r\n"), 3)
	dr.Feed(srv, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 4)
	dr.Feed(cli, []byte("PUT /cut HTTP/1.1\r\nContent-Length: 10\r\n\r\n01"), 5)
	dr.Feed(srv, []byte("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"), 6)
	dr.Close(7)
	wantBriefs(t, dr, "POST /upload -> 413 failed", "GET /next -> 200", "PUT /cut -> 401 failed")
}

// clip shortens a message for a test's failure.
func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

// maxHeaders is the C dissector's MAX_HEADERS (c/http1.c): header lines
// kept per message.
const maxHeaders = 256
