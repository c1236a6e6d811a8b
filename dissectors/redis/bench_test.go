package redis

import (
	"fmt"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// BenchmarkRedisNative runs 1000 GET/SET exchanges with 1 KiB values, one
// segment per message.
func BenchmarkRedisNative(b *testing.B) {
	const exchanges = 1000
	val := make([]byte, 1024)
	for i := range val {
		val[i] = 'a' + byte(i%26)
	}
	reqs := make([][]byte, exchanges)
	resps := make([][]byte, exchanges)
	total := 0
	for i := range exchanges {
		key := fmt.Sprintf("user:session:%08d", i)
		if i%2 == 0 {
			reqs[i] = fmt.Appendf(nil, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(val), val)
			resps[i] = []byte("+OK\r\n")
		} else {
			reqs[i] = fmt.Appendf(nil, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key)
			resps[i] = fmt.Appendf(nil, "$%d\r\n%s\r\n", len(val), val)
		}
		total += len(reqs[i]) + len(resps[i])
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
		for i := range exchanges {
			dr.Feed(sdk.DirA, reqs[i], int64(2*i+1))
			dr.Feed(sdk.DirB, resps[i], int64(2*i+2))
		}
		dr.Close(2*exchanges + 1)
		if len(dr.Records) != exchanges {
			b.Fatalf("%d records", len(dr.Records))
		}
		records += len(dr.Records)
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
