package dns

import (
	"fmt"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
	"golang.org/x/net/dns/dnsmessage"
)

// BenchmarkDNSNative runs 1000 A queries and two-answer responses over one
// UDP flow, one datagram per message.
func BenchmarkDNSNative(b *testing.B) {
	const exchanges = 1000
	qs := make([][]byte, exchanges)
	rs := make([][]byte, exchanges)
	total := 0
	for i := range exchanges {
		name := fmt.Sprintf("host-%d.svc.cluster.local.", i)
		qs[i] = buildQuery(b, uint16(i), name, dnsmessage.TypeA)
		rs[i] = buildResponse(b, uint16(i), name, dnsmessage.TypeA, 0, "10.0.0.1", "10.0.0.2")
		total += len(qs[i]) + len(rs[i])
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true, UDP: true})
		ts := int64(1)
		for i := range exchanges {
			dr.Feed(sdk.DirA, qs[i], ts)
			dr.Feed(sdk.DirB, rs[i], ts+1)
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
