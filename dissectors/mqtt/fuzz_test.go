package mqtt

import (
	"encoding/json"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// checked wraps the dissector to police every Feed the driver makes.
type checked struct {
	*Dissector
	t *testing.T
}

func (d checked) Open(info sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	return checkedConn{d.Dissector.Open(info, out), d.t}
}

type checkedConn struct {
	sdk.Conn
	t *testing.T
}

func (c checkedConn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	n, need := c.Conn.Feed(dir, data, first, last)
	if n > len(data) || n < -1 || need < 0 {
		c.t.Fatalf("Feed of %d bytes returned consumed %d need %d", len(data), n, need)
	}
	return n, need
}

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
		dr := sdktest.Open(checked{d, t}, sdk.ConnInfo{ID: 1, Oriented: true})
		dr.MaxBuffer = 4096
		if len(chunks) == 0 {
			chunks = []byte{0xff}
		}
		streams := [2][]byte{client, server}
		ts := int64(1)
		for i := 0; len(streams[0])+len(streams[1]) > 0; i++ {
			b := chunks[i%len(chunks)]
			dir := sdk.Direction(b >> 7)
			if len(streams[dir]) == 0 {
				dir = dir.Reverse()
			}
			n := min(int(b&0x3f)+1, len(streams[dir]))
			if i >= len(chunks) {
				n = len(streams[dir])
			}
			if b&0x40 != 0 && b&1 == 1 {
				dr.Gap(dir, n, ts)
			} else {
				dr.Feed(dir, streams[dir][:n], ts)
			}
			streams[dir] = streams[dir][n:]
			ts++
		}
		dr.Close(ts)
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
