package http1

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func BenchmarkPartFeedGzipExchange(b *testing.B) {
	resp := synth.GzipReportResponse()
	d := New()
	c := d.Open(sdk.ConnInfo{ID: 1, Oriented: true}, discard{})
	for b.Loop() {
		c.Feed(sdk.DirA, benchReq, 1, 1)
		c.Feed(sdk.DirB, resp, 2, 2)
	}
}

func BenchmarkPartFeedChunkedExchange(b *testing.B) {
	var resp strings.Builder
	resp.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
	for k := range 5 {
		line := fmt.Sprintf(`{"event":%d,"type":"tick"}`+"\n", k)
		fmt.Fprintf(&resp, "%x\r\n%s\r\n", len(line), line)
	}
	resp.WriteString("0\r\n\r\n")
	d := New()
	c := d.Open(sdk.ConnInfo{ID: 1, Oriented: true}, discard{})
	r := []byte(resp.String())
	for b.Loop() {
		c.Feed(sdk.DirA, benchReq, 1, 1)
		c.Feed(sdk.DirB, r, 2, 2)
	}
}
