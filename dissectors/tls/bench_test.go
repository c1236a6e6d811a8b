package tls

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// BenchmarkTLSNative runs 1000 connections, each a real crypto/tls
// ClientHello, a TLS 1.3 ServerHello and 16 KiB of application data per
// direction that must be skipped.
func BenchmarkTLSNative(b *testing.B) {
	const conns = 1000
	ch := realClientHello(b, "api.example.com", []string{"h2", "http/1.1"})
	sh := buildServerHello(0x0304, 0x1301, "h2", false)
	appdata := record(23, make([]byte, 16<<10))
	total := conns * (len(ch) + len(sh) + 2*len(appdata))
	b.SetBytes(int64(total))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		for i := range conns {
			dr := sdktest.Open(New(), sdk.ConnInfo{ID: uint64(i), Oriented: true})
			dr.Feed(sdk.DirA, ch, 1)
			dr.Feed(sdk.DirB, sh, 2)
			dr.Feed(sdk.DirA, appdata, 3)
			dr.Feed(sdk.DirB, appdata, 4)
			dr.Close(5)
			records += len(dr.Records)
		}
	}
	if records == 0 {
		b.Fatal("no records")
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
