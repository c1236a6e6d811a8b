package postgres

import (
	"fmt"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// BenchmarkPostgresNative runs a connection of 1000 simple queries, each
// answered with a 10-row result, one segment per message batch.
func BenchmarkPostgresNative(b *testing.B) {
	const exchanges = 1000
	reqs := make([][]byte, exchanges)
	resps := make([][]byte, exchanges)
	total := 0
	for i := range exchanges {
		reqs[i] = msg('Q', cs(fmt.Sprintf("SELECT id, name, price FROM items WHERE category = %d ORDER BY id LIMIT 10", i)))
		r := rowDesc("id", "name", "price")
		for j := range 10 {
			r = append(r, dataRow(fmt.Sprint(j), "widget", "9.99")...)
		}
		resps[i] = cat(r, msg('C', cs("SELECT 10")), msg('Z', []byte("I")))
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
