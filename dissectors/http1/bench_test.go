package http1

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// BenchmarkHTTPNative runs a keep-alive connection of 1000 GET/200 JSON
// exchanges of about 1 KiB each, one segment per message.
func BenchmarkHTTPNative(b *testing.B) {
	const exchanges = 1000
	body := `{"items":[` + strings.TrimSuffix(strings.Repeat(`{"id":12345,"name":"widget","price":9.99,"tags":["a","b"]},`, 12), ",") + `]}`
	reqs := make([][]byte, exchanges)
	resps := make([][]byte, exchanges)
	total := 0
	for i := range exchanges {
		reqs[i] = fmt.Appendf(nil, "GET /api/v1/items/%d?expand=true HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: bench/1.0\r\nAccept: application/json\r\nAccept-Encoding: identity\r\nConnection: keep-alive\r\n\r\n", i)
		resps[i] = fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nServer: bench\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		total += len(reqs[i]) + len(resps[i])
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
		ts := int64(1)
		for i := range exchanges {
			dr.Feed(sdk.DirA, reqs[i], ts)
			dr.Feed(sdk.DirB, resps[i], ts+1)
			ts += 2
		}
		dr.Close(ts)
		if len(dr.Records) != exchanges {
			b.Fatalf("%d records", len(dr.Records))
		}
		records += len(dr.Records)
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
