package tls

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
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

// FuzzTLS cuts client and server byte streams at arbitrary points, with
// gaps, and checks that segmentation never changes the records.
func FuzzTLS(f *testing.F) {
	ch := realClientHello(f, "example.com", []string{"h2"})
	sh := buildServerHello(0x0304, 0x1301, "h2", false)
	hrr := buildServerHello(0x0304, 0x1301, "", true)
	f.Add(ch, sh, []byte{0x10, 0x90})
	f.Add(append(ch, ch...), append(hrr, sh...), []byte{0x03, 0x83, 0x20})
	f.Add(ch, record(21, []byte{2, 40}), []byte{0x7f})
	f.Add(record(23, []byte{1, 2, 3}), []byte("HTTP/1.1 200 OK\r\n\r\n"), []byte{0x41, 0xc1})
	f.Fuzz(func(t *testing.T, client, server, chunks []byte) {
		New().Probe(0, client)
		New().Probe(1, server)
		dr := sdktest.Open(checked{New(), t}, sdk.ConnInfo{ID: 1, Oriented: true})
		bytewise := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
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
				bytewise.Gap(dir, n, ts)
			} else {
				dr.Feed(dir, streams[dir][:n], ts)
				for _, c := range streams[dir][:n] {
					bytewise.Feed(dir, []byte{c}, ts)
				}
			}
			streams[dir] = streams[dir][n:]
			ts++
		}
		dr.Close(ts)
		bytewise.Close(ts)
		if !reflect.DeepEqual(dr.Records, bytewise.Records) {
			t.Fatalf("records depend on segmentation:\n%+v\n%+v", dr.Records, bytewise.Records)
		}
		for _, r := range dr.Records {
			if r.Protocol != "tls" || r.Method != "ClientHello" {
				t.Fatalf("record %s %s", r.Protocol, r.Method)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}
