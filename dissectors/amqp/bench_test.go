package amqp

import (
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// BenchmarkAMQPNative runs 1000 Basic.Publish messages with a 1 KiB JSON
// body and 1000 Basic.Deliver messages back.
func BenchmarkAMQPNative(b *testing.B) {
	const n = 1000
	body := `{"items":[` + strings.TrimSuffix(strings.Repeat(`{"id":12345,"name":"widget","price":9.99,"tags":["a","b"]},`, 17), ",") + `]}`
	pub := publish(1, "orders", "order.created", body)
	del := append(meth(1, 60, 60, func(e *enc) { e.short("ctag").u64(1).u8(0).short("orders").short("order.created") }), pub[len(meth(1, 60, 40, func(e *enc) { e.u16(0).short("orders").short("order.created").u8(0) })):]...)
	b.SetBytes(int64(n * (len(pub) + len(del))))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
		ts := int64(1)
		for range n {
			dr.Feed(sdk.DirA, pub, ts)
			dr.Feed(sdk.DirB, del, ts+1)
			ts += 2
		}
		dr.Close(ts)
		if len(dr.Records) != 2*n {
			b.Fatalf("%d records", len(dr.Records))
		}
		records += len(dr.Records)
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
