package mysql

import (
	"fmt"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// BenchmarkMySQLNative runs a connection of 1000 COM_QUERY commands, each
// answered with a 10-row result set, one segment per direction and
// exchange.
func BenchmarkMySQLNative(b *testing.B) {
	const exchanges = 1000
	reqs := make([][]byte, exchanges)
	resps := make([][]byte, exchanges)
	total := 0
	for i := range exchanges {
		reqs[i] = query(fmt.Sprintf("SELECT id, name, price FROM items WHERE category = %d ORDER BY id LIMIT 10", i))
		r := cat(pkt(1, []byte{3}), colDef(2, "id"), colDef(3, "name"), colDef(4, "price"), eofPkt(5))
		for j := range 10 {
			r = append(r, rowPkt(byte(6+j), fmt.Sprint(j), "widget", "9.99")...)
		}
		resps[i] = append(r, eofPkt(16)...)
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
