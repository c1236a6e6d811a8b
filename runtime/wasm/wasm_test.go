package wasm_test

import (
	"context"
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
