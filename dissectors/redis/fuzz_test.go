package redis

import (
	"encoding/json"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// FuzzRedis drives a connection with arbitrary client and server bytes cut
// into arbitrary deliveries and losses: no panic, no hang, sane Feed
// results, bounded previews, records that serialise.
func FuzzRedis(f *testing.F) {
	f.Add([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nhi\r\nPING\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n"), []byte("+OK\r\n+PONG\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nx\r\n"), []byte{0x10, 0x90, 0x05, 0x85})
	f.Add([]byte("*1\r\n$4\r\nPING\r\n"), []byte("|1\r\n+a\r\n:1\r\n%1\r\n~1\r\n#t\r\n,1.5\r\n>2\r\n$1\r\na\r\n=5\r\ntxt:a\r\n!3\r\nERR\r\n(123\r\n_\r\n"), []byte{0x01, 0x81, 0x41})
	f.Add([]byte("*99999999\r\n$-1\r\n$99999999\r\nab"), []byte("*-1\r\n$-1\r\n*64\r\n*64\r\n*64\r\n"), []byte{0x7f, 0xff, 0x4b, 0x01})
	f.Add([]byte("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"), []byte("$?\r\n;4\r\nHell\r\n;1\r\no\r\n;0\r\n*2\r\n*?\r\n%?\r\n+a\r\n|?\r\n+t\r\n:1\r\n.\r\n~?\r\n.\r\n.\r\n.\r\n:1\r\n"), []byte{0x02, 0x85, 0x80, 0x43})
	f.Add([]byte("*1\r\n$4\r\nPING\r\n"), []byte("%?\r\n+a\r\n.\r\n$?\r\n;x\r\n.\r\n*?\r\n"), []byte{0x9f})
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
