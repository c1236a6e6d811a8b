package http1

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func gzipResponse(b *testing.B) []byte {
	var body bytes.Buffer
	body.WriteString(`{"year":2024,"rows":[`)
	for k := range 60 {
		if k > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"month":%d,"region":"eu-west-%d","revenue":%d.%02d,"orders":%d}`, k%12+1, k%3, 1000+k*37, k%100, 40+k)
	}
	body.WriteString(`]}`)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(body.Bytes())
	zw.Close()
	return []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: application/json\r\nVary: Accept-Encoding\r\nContent-Length: %d\r\n\r\n%s", z.Len(), z.String()))
}

func BenchmarkPartFeedGzipExchange(b *testing.B) {
	resp := gzipResponse(b)
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
