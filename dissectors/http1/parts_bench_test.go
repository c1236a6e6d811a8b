package http1

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/preview"
)

// These split the cost of one exchange into its parts, to find what is
// expensive when the dissector runs as WebAssembly (see BENCHMARKS.md).
var (
	benchReq  = []byte("GET /api/users/1000?fields=name HTTP/1.1\r\nHost: api\r\nUser-Agent: Go-http-client/1.1\r\nAccept: application/json\r\nAccept-Encoding: gzip\r\n\r\n")
	benchResp = []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60\r\nDate: Wed, 25 Nov 2026 20:00:31 GMT\r\n\r\n{\"id\":1000,\"name\":\"user-1000\",\"email\":\"u1000@example.com\"}\n\n")
)

func BenchmarkPartClassify(b *testing.B) {
	for b.Loop() {
		classifyStart(benchReq)
	}
}

func BenchmarkPartHeaderEnd(b *testing.B) {
	for b.Loop() {
		headerEnd(benchReq)
	}
}

func BenchmarkPartParseHead(b *testing.B) {
	end, lines := headerEnd(benchReq)
	for b.Loop() {
		parseHead(benchReq[:end], lines, true)
	}
}

func BenchmarkPartExchange(b *testing.B) {
	req, resp := benchHeads()
	resp.body = []byte(`{"id":1000,"name":"user-1000","email":"u1000@example.com"}`)
	for b.Loop() {
		exchange(req, resp, sdk.DirA, new(preview.Decoder))
	}
}

func BenchmarkPartEncodeRecord(b *testing.B) {
	req, resp := benchHeads()
	resp.body = []byte(`{"id":1000,"name":"user-1000","email":"u1000@example.com"}`)
	r := exchange(req, resp, sdk.DirA, new(preview.Decoder))
	var buf []byte
	for b.Loop() {
		buf = sdk.AppendRecord(buf[:0], r)
	}
}

func BenchmarkPartFeedExchange(b *testing.B) {
	for _, tc := range []struct {
		name string
		out  sdk.Emitter
	}{{"keeping", discard{}}, {"copying", encoder{new([]byte)}}} {
		b.Run(tc.name, func(b *testing.B) {
			c := New().Open(sdk.ConnInfo{ID: 1, Oriented: true}, tc.out)
			for b.Loop() {
				c.Feed(sdk.DirA, benchReq, 1, 1)
				c.Feed(sdk.DirB, benchResp, 2, 2)
			}
		})
	}
}

// encoder encodes each record as the guest's emitter does, and so may be
// handed reused memory (sdk.Copier).
type encoder struct{ buf *[]byte }

func (e encoder) Emit(r *sdk.Record) {
	if e.buf == nil {
		return
	}
	*e.buf = sdk.AppendRecord((*e.buf)[:0], r)
}
func (encoder) Switch(string)       {}
func (encoder) CopiesRecords() bool { return true }

func benchHeads() (req, resp *message) {
	end, lines := headerEnd(benchReq)
	req, _ = parseHead(benchReq[:end], lines, true)
	end, lines = headerEnd(benchResp)
	resp, _ = parseHead(benchResp[:end], lines, false)
	return req, resp
}

type discard struct{}

func (discard) Emit(*sdk.Record) {}
func (discard) Switch(string)    {}
