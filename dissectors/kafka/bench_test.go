package kafka

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// BenchmarkKafkaNative runs a connection of 1000 Produce v9 exchanges with
// a 1 KiB record batch each.
func BenchmarkKafkaNative(b *testing.B) {
	const exchanges = 1000
	batch := make([]byte, 1024)
	reqs := make([][]byte, exchanges)
	resps := make([][]byte, exchanges)
	total := 0
	for i := range exchanges {
		e := reqHeader(0, 9, int32(i), "bench-producer")
		e.str("").i16(-1).i32(30000).arr(1).str("bench-topic").arr(1).i32(0).bytes(batch).tags().tags()
		reqs[i] = e.tags().frame()
		resps[i] = produceResp(9, int32(i), 0, "bench-topic")
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
