package redis

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

// FuzzRedis drives a connection with arbitrary client and server bytes cut
// into arbitrary deliveries and losses: no panic, no hang, sane Feed
// results, bounded previews, records that serialise.
func FuzzRedis(f *testing.F) {
	f.Add([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nhi\r\nPING\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n"), []byte("+OK\r\n+PONG\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nx\r\n"), []byte{0x10, 0x90, 0x05, 0x85})
	f.Add([]byte("*1\r\n$4\r\nPING\r\n"), []byte("|1\r\n+a\r\n:1\r\n%1\r\n~1\r\n#t\r\n,1.5\r\n>2\r\n$1\r\na\r\n=5\r\ntxt:a\r\n!3\r\nERR\r\n(123\r\n_\r\n"), []byte{0x01, 0x81, 0x41})
	f.Add([]byte("*99999999\r\n$-1\r\n$99999999\r\nab"), []byte("*-1\r\n$-1\r\n*64\r\n*64\r\n*64\r\n"), []byte{0x7f, 0xff, 0x4b, 0x01})
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
