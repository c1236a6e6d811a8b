package wasm_test

import (
	"context"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

type countSink struct{ n int }

func (c *countSink) Record(uint64, *sdk.Record) { c.n++ }
func (c *countSink) Switch(uint64, string)      {}

// BenchmarkHTTPExchange is one keep-alive request/response through the
// sandbox: two feeds, one record crossing back.
func BenchmarkHTTPExchange(b *testing.B) {
	benchExchange(b, []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60\r\nDate: Wed, 25 Nov 2026 20:00:31 GMT\r\n\r\n{\"id\":1000,\"name\":\"user-1000\",\"email\":\"u1000@example.com\"}\n\n"))
}

// BenchmarkHTTPGzipExchange is the same with the sample server's gzipped
// JSON report, whose preview the host inflates for the guest.
func BenchmarkHTTPGzipExchange(b *testing.B) {
	benchExchange(b, synth.GzipReportResponse())
}

func benchExchange(b *testing.B, resp []byte) {
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	mod, err := rt.Load(ctx, "built-in", dissectortest.Wasm(b, "http1"))
	if err != nil {
		b.Fatal(err)
	}
	s := &countSink{}
	in, err := mod.NewInstance(ctx, s)
	if err != nil {
		b.Fatal(err)
	}
	if err := in.Open(ctx, sdk.ConnInfo{ID: 1, Oriented: true}); err != nil {
		b.Fatal(err)
	}
	req := []byte("GET /api/users/1000?fields=name HTTP/1.1\r\nHost: api\r\nUser-Agent: Go-http-client/1.1\r\nAccept: application/json\r\n\r\n")
	b.SetBytes(int64(len(req) + len(resp)))
	var treq, tresp time.Duration
	defer func() {
		b.ReportMetric(float64(treq.Nanoseconds())/float64(b.N), "req-ns/op")
		b.ReportMetric(float64(tresp.Nanoseconds())/float64(b.N), "resp-ns/op")
	}()
	for b.Loop() {
		t0 := time.Now()
		if _, _, err := in.Feed(ctx, 1, sdk.DirA, req, 1, 1); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		treq += t1.Sub(t0)
		if _, _, err := in.Feed(ctx, 1, sdk.DirB, resp, 2, 2); err != nil {
			b.Fatal(err)
		}
		tresp += time.Since(t1)
	}
	if s.n < b.N {
		b.Fatalf("%d records for %d exchanges", s.n, b.N)
	}
}

// BenchmarkProbeCall is the cost of one cheap call into the guest.
func BenchmarkProbeCall(b *testing.B) {
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	mod, err := rt.Load(ctx, "built-in", dissectortest.Wasm(b, "http1"))
	if err != nil {
		b.Fatal(err)
	}
	in, err := mod.NewInstance(ctx, &countSink{})
	if err != nil {
		b.Fatal(err)
	}
	data := []byte("GET / HTTP/1.1\r\n")
	for b.Loop() {
		if _, err := in.Probe(ctx, sdk.DirA, data); err != nil {
			b.Fatal(err)
		}
	}
}
