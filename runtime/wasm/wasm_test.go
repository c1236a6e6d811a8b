package wasm_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

type sink struct {
	recs     []*sdk.Record
	switched string
}

func (s *sink) Record(_ uint64, r *sdk.Record) { s.recs = append(s.recs, r) }
func (s *sink) Switch(_ uint64, h string)      { s.switched = h }

func TestHTTPRoundTrip(t *testing.T) {
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	start := time.Now()
	mod, err := rt.Load(ctx, "built-in", dissectortest.Wasm(t, "http1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load took %s", time.Since(start))
	if got := mod.Manifest().Name; got != "http" {
		t.Fatalf("manifest name %q", got)
	}
	s := &sink{}
	in, err := mod.NewInstance(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy(ctx)
	p, err := in.Probe(ctx, sdk.DirA, []byte("GET / HTTP/1.1\r\n"))
	if err != nil || p.Confidence < 50 || p.FromServer {
		t.Fatalf("probe %+v %v", p, err)
	}
	if err := in.Open(ctx, sdk.ConnInfo{ID: 7, Oriented: true}); err != nil {
		t.Fatal(err)
	}
	req := []byte("GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n")
	n, _, err := in.Feed(ctx, 7, sdk.DirA, req, 1000, 1000)
	if err != nil || n != len(req) {
		t.Fatalf("feed req: n=%d err=%v", n, err)
	}
	resp := []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nhello")
	n, _, err = in.Feed(ctx, 7, sdk.DirB, resp, 3000000, 3000000)
	if err != nil || n != len(resp) {
		t.Fatalf("feed resp: n=%d err=%v", n, err)
	}
	if len(s.recs) != 1 {
		t.Fatalf("got %d records", len(s.recs))
	}
	r := s.recs[0]
	if r.Method != "GET" || r.Path != "/a?b=1" || r.Status != 503 || !r.Failed || r.Response.Body != "hello" {
		t.Fatalf("record %+v resp %+v", r, r.Response)
	}
}

// A gzip body's preview is decoded by the host (the inflate import) for a
// wasm guest and by Go's readers for the same dissector built natively: the
// records must agree, over several bodies on one connection, a corrupt one
// in between.
func TestCompressedPreviewWasm(t *testing.T) {
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	mod, err := rt.Load(ctx, "built-in", dissectortest.Wasm(t, "http1"))
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	in, err := mod.NewInstance(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy(ctx)
	if err := in.Open(ctx, sdk.ConnInfo{ID: 1, Oriented: true}); err != nil {
		t.Fatal(err)
	}
	pack := func(s string, newWriter func(io.Writer) io.WriteCloser) []byte {
		var b bytes.Buffer
		w := newWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	gz := func(s string) []byte { return pack(s, func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }) }
	zl := func(s string) []byte { return pack(s, func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) }) }
	bodies := []struct {
		encoding string
		body     []byte
	}{
		{"gzip", gz(strings.Repeat(`{"row":1,"name":"first"},`, 40))},
		{"gzip", []byte("\x1f\x8b\x08\x00not gzip at all")},
		{"deflate", zl(`{"second":true}`)},
		{"gzip", gz(strings.Repeat("x", 40000))}, // decodes past the preview cap
		{"deflate, gzip", gz(string(zl(`{"stacked":"yes"}`)))},
	}
	ts := int64(1000)
	for _, b := range bodies {
		req := []byte("GET /report HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
		resp := append([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n", b.encoding, len(b.body))), b.body...)
		for _, f := range []struct {
			dir  sdk.Direction
			data []byte
		}{{sdk.DirA, req}, {sdk.DirB, resp}} {
			ts += 1000
			if n, _, err := in.Feed(ctx, 1, f.dir, f.data, ts, ts); err != nil || n != len(f.data) {
				t.Fatalf("wasm feed: n=%d err=%v", n, err)
			}
		}
	}
	if len(s.recs) != len(bodies) {
		t.Fatalf("wasm made %d records, want %d", len(s.recs), len(bodies))
	}
	if got := s.recs[2].Response.Body; got != `{"second":true}` {
		t.Errorf("deflate body previewed as %q", got)
	}
	if r := s.recs[3].Response; !r.BodyTruncated || r.Body == "" || strings.Trim(r.Body, "x") != "" {
		t.Errorf("gzip body past the preview cap: truncated %v, preview %.40q", r.BodyTruncated, r.Body)
	}
	if got := s.recs[0].Response.Body; !strings.HasPrefix(got, `{"row":1`) {
		t.Errorf("first gzip body previewed as %.40q, want the decoded JSON", got)
	}
	if _, ok := s.recs[1].Response.Fields["content_encoding_error"]; !ok {
		t.Errorf("corrupt gzip body: fields %v, want content_encoding_error", s.recs[1].Response.Fields)
	}
	if got := s.recs[4].Response.Body; got != `{"stacked":"yes"}` {
		t.Errorf("stacked codings previewed as %q", got)
	}
}
