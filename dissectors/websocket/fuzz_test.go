package websocket

import (
	"encoding/json"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// FuzzWebSocket drives a connection with arbitrary client and server bytes cut
// into arbitrary deliveries and losses: no panic, no hang, sane Feed
// results, bounded previews, records that serialise.
func FuzzWebSocket(f *testing.F) {
	f.Add([]byte("\x81\x85\x12\x34\x56\x78\x7a\x51\x3a\x14\x7d\x89\x80\x01\x02\x03\x04\x01\x80\x00\x00\x00\x00"), []byte("\x82\x03abc\x8a\x00\x88\x02\x03\xe8"), []byte{0x10, 0x90, 0x05, 0x85})
	f.Add([]byte("\x01\x7e\x00\x7e"), []byte("\x82\x7f\x00\x00\x01\x00\x00\x00\x00\x00abc"), []byte{0x01, 0x81, 0x41})
	f.Add([]byte("\x09\x7e\x00\x00"), []byte("\x00\x05hello\xf2\x00"), []byte{0x7f, 0xff, 0x4b, 0x01})
	// permessage-deflate: RFC 7692's "Hello" twice (the second refers to
	// the first), fragmented, and a reserved block type.
	f.Add([]byte("\xc1\x87\x00\x00\x00\x00\xf2\x48\xcd\xc9\xc9\x07\x00\xc1\x83\x00\x00\x00\x00\xff\xff\xff"), []byte("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00\xc1\x05\xf2\x00\x11\x00\x00\x41\x03\xf2\x48\xcd\x80\x04\xc9\xc9\x07\x00"), []byte{0x03, 0x85, 0x11})
	f.Fuzz(func(t *testing.T, client, server, chunks []byte) {
		d := New()
		d.Probe(sdk.DirA, client)
		d.Probe(sdk.DirB, server)
		dr := sdktest.Open(d, sdk.ConnInfo{ID: 1, Oriented: true})
		dr.MaxBuffer = 4096
		ts := sdktest.Schedule(client, server, chunks, func(dir sdk.Direction, data []byte, lost bool, ts int64) {
			if lost {
				dr.Gap(dir, len(data), ts)
			} else {
				dr.Feed(dir, data, ts)
			}
		})
		dr.Close(ts)
		if dr.Misbehaved != "" {
			t.Fatal(dr.Misbehaved)
		}
		for _, r := range dr.Records {
			for _, m := range []*sdk.Message{r.Request, r.Response} {
				if m != nil && (m.Size < 0 || m.BodySize < 0 || len(m.Body) > 4*bodyPreview/3+4) {
					t.Fatalf("message sizes %d %d preview %d", m.Size, m.BodySize, len(m.Body))
				}
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}
