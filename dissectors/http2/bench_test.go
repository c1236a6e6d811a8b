package http2

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// BenchmarkHTTP2Native runs one connection of 1000 GET/200 JSON exchanges of
// about 1 KiB each, one segment per message, with HPACK doing its usual
// work (repeated fields become table references).
func BenchmarkHTTP2Native(b *testing.B) {
	const exchanges = 1000
	body := []byte(`{"items":[` + strings.TrimSuffix(strings.Repeat(`{"id":12345,"name":"widget","price":9.99,"tags":["a","b"]},`, 12), ",") + `]}`)
	c, s := newSide(), newSide()
	reqs := make([][]byte, exchanges)
	resps := make([][]byte, exchanges)
	total := 0
	for i := range exchanges {
		id := uint32(2*i + 1)
		reqs[i] = c.headers(id, true, ":method", "GET", ":scheme", "http", ":path", fmt.Sprintf("/api/v1/items/%d?expand=true", i),
			":authority", "api.example.com", "user-agent", "bench/1.0", "accept", "application/json")
		resps[i] = cat(s.headers(id, false, ":status", "200", "content-type", "application/json", "server", "bench",
			"content-length", fmt.Sprint(len(body))), data(id, true, body))
		total += len(reqs[i]) + len(resps[i])
	}
	reqs[0] = cat([]byte(preface), reqs[0])
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
