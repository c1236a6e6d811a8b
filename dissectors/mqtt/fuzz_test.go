package mqtt

import (
	"encoding/json"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// FuzzMQTT drives a connection with arbitrary client and server bytes cut
// into arbitrary deliveries and losses: no panic, no hang, sane Feed
// results, bounded previews, records that serialise.
func FuzzMQTT(f *testing.F) {
	f.Add([]byte("\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04test\x82\x09\x00\x01\x00\x04a/b/\x01\x32\x05\x00\x01a\x00\x01x\xc0\x00"), []byte("\x20\x02\x00\x00\x90\x03\x00\x01\x01\x40\x02\x00\x01\xd0\x00"), []byte{0x10, 0x90, 0x05, 0x85})
	f.Add([]byte("\x10\x13\x00\x04MQTT\x05\x02\x00\x3c\x03\x21\x00\x0a\x00\x02id\x34\x0a\x00\x01t\x00\x07\x05\x26\x00\x00\x00\x00hi"), []byte("\x20\x09\x00\x00\x06\x22\x00\x0a\x21\x00\x14\x50\x04\x00\x07\x00\x00"), []byte{0x01, 0x81, 0x41})
	f.Add([]byte("\x30\xff\xff\xff\x7f\x00\x01t"), []byte("\x20\x80\x80\x80\x80\x01"), []byte{0x7f, 0xff, 0x4b, 0x01})
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
