package websocket

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// BenchmarkWebSocketNative runs 1000 masked client text messages of 1 KiB
// and 1000 server replies, one segment per frame.
func BenchmarkWebSocketNative(b *testing.B) {
	const messages = 1000
	text := make([]byte, 1024)
	for i := range text {
		text[i] = 'a' + byte(i%26)
	}
	cf := frame(true, opText, true, text)
	sf := frame(true, opText, false, text)
	b.SetBytes(int64(messages * (len(cf) + len(sf))))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
		for i := range messages {
			dr.Feed(sdk.DirA, cf, int64(2*i+1))
			dr.Feed(sdk.DirB, sf, int64(2*i+2))
		}
		dr.Close(2*messages + 1)
		if len(dr.Records) != 2*messages {
			b.Fatalf("%d records", len(dr.Records))
		}
		records += len(dr.Records)
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
