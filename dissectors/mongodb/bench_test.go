package mongodb

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// BenchmarkMongoDBNative runs 1000 find/reply OP_MSG exchanges, the reply
// carrying a batch of ten small documents.
func BenchmarkMongoDBNative(b *testing.B) {
	const n = 1000
	var batch []any
	for i := range 10 {
		batch = append(batch, []kv{{"_id", int32(i)}, {"name", "widget"}, {"price", 9.99}, {"tags", []any{"a", "b"}}})
	}
	reqs := make([][]byte, n)
	resps := make([][]byte, n)
	total := 0
	for i := range n {
		reqs[i] = opMsgMsg(int32(i+1), 0, 0, bsonDoc(kv{"find", "items"}, kv{"filter", []kv{{"price", []kv{{"$gt", 5.0}}}}}, kv{"limit", int32(10)}, kv{"$db", "shop"}))
		resps[i] = opMsgMsg(int32(n+i+1), int32(i+1), 0, bsonDoc(kv{"cursor", []kv{{"firstBatch", batch}, {"id", int64(0)}, {"ns", "shop.items"}}}, kv{"ok", 1.0}))
		total += len(reqs[i]) + len(resps[i])
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
		ts := int64(1)
		for i := range n {
			dr.Feed(sdk.DirA, reqs[i], ts)
			dr.Feed(sdk.DirB, resps[i], ts+1)
			ts += 2
		}
		dr.Close(ts)
		if len(dr.Records) != n {
			b.Fatalf("%d records", len(dr.Records))
		}
		records += len(dr.Records)
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
