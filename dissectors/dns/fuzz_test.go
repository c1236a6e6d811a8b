package dns

import (
	"encoding/json"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
	"golang.org/x/net/dns/dnsmessage"
)

type checkedConn struct {
	sdk.Conn
	t *testing.T
}

func (c checkedConn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	n, need := c.Conn.Feed(dir, data, first, last)
	if n > len(data) || n < -1 || need < 0 {
		c.t.Fatalf("Feed of %d bytes: consumed %d need %d", len(data), n, need)
	}
	return n, need
}

type checked struct {
	*Dissector
	t *testing.T
}

func (d checked) Open(info sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	return checkedConn{d.Dissector.Open(info, out), d.t}
}

// FuzzDNS feeds arbitrary bytes as datagrams and as TCP streams cut at
// arbitrary points, with gaps.
func FuzzDNS(f *testing.F) {
	q := buildQuery(f, 1, "example.com.", dnsmessage.TypeA)
	r := buildResponse(f, 1, "example.com.", dnsmessage.TypeA, 0, "192.0.2.1", "2001:db8::1")
	f.Add(q, r, []byte{0x10, 0x90}, false)
	f.Add(q, r, []byte{0x01}, true)
	f.Add(tcpFrame(q), append(tcpFrame(r), tcpFrame(r)...), []byte{0x05, 0x85, 0x45}, false)
	f.Add([]byte{0xff, 0xff, 0, 1}, []byte{0, 12, 0, 0, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0xc0, 0x0c}, []byte{0x3f}, false)
	f.Fuzz(func(t *testing.T, client, server, chunks []byte, udp bool) {
		New().Probe(0, client)
		New().Probe(1, server)
		dr := sdktest.Open(checked{New(), t}, sdk.ConnInfo{ID: 1, Oriented: true, UDP: udp})
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
			if r.Protocol != "dns" {
				t.Fatalf("protocol %q", r.Protocol)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}
