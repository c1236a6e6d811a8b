package http1

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/preview"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// checked wraps the dissector to police every Feed the driver makes.
type checked struct {
	sdk.Dissector
	t     *testing.T
	feeds *int
}

func (d checked) Open(info sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	return checkedConn{d.Dissector.Open(info, out), d.t, d.feeds}
}

type checkedConn struct {
	sdk.Conn
	t     *testing.T
	feeds *int
}

func (c checkedConn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	*c.feeds++
	n, need := c.Conn.Feed(dir, data, first, last)
	if n > len(data) || n < -1 {
		c.t.Fatalf("Feed of %d bytes consumed %d", len(data), n)
	}
	if need < 0 {
		c.t.Fatalf("Feed need %d", need)
	}
	return n, need
}

func FuzzHTTP(f *testing.F) {
	client, server := conversation(f)
	f.Add(client, server, []byte{0x10, 0x90, 0x05, 0x85}, true)
	f.Add(client, server, []byte{0x00}, false)
	f.Add(client, server, []byte{0x7f, 0xff, 0x4b, 0x01}, true)
	f.Add([]byte("GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x80"),
		[]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x00"), []byte{0x3f, 0xbf}, true)
	f.Add([]byte("CONNECT h:443 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 407 Proxy Auth\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"), []byte{0x20, 0xa0}, false)
	f.Add([]byte("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n"), []byte("HTTP/1.0 200 OK\r\nContent-Encoding: gzip, deflate\r\n\r\n\x1f\x8b\x08"), []byte{0x01, 0x81, 0x41}, true)
	f.Add([]byte("HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 NM\r\n\r\n"), []byte{0x02, 0x82, 0x62, 0xe2}, true)

	f.Fuzz(func(t *testing.T, client, server, chunks []byte, oriented bool) {
		feeds := 0
		// The built-in module through the host (under): a fault, a trap or
		// a call the host rejects fails the run.
		d := under(t)
		for _, p := range [][]byte{client, server, client[:len(client)/2], server[:len(server)/3]} {
			d.Probe(sdk.DirA, p)
		}
		dr := sdktest.Open(checked{d, t, &feeds}, sdk.ConnInfo{ID: 1, Oriented: oriented})
		// The same deliveries again, each one byte at a time: segmentation
		// must not change the records.
		bytewise := sdktest.Open(d, sdk.ConnInfo{ID: 1, Oriented: oriented})
		// And whole to an emitter that copies each record at once: the
		// records must be the same.
		copying := sdktest.OpenCopying(d, sdk.ConnInfo{ID: 1, Oriented: oriented})
		drives := 0
		ts := sdktest.Schedule(client, server, chunks, func(dir sdk.Direction, data []byte, lost bool, ts int64) {
			drives++
			if lost {
				dr.Gap(dir, len(data), ts)
				bytewise.Gap(dir, len(data), ts)
				copying.Gap(dir, len(data), ts)
				return
			}
			dr.Feed(dir, data, ts)
			copying.Feed(dir, data, ts)
			for _, c := range data {
				bytewise.Feed(dir, []byte{c}, ts)
			}
		})
		dr.Close(ts)
		bytewise.Close(ts)
		copying.Close(ts)
		if len(copying.Encoded) != len(dr.Records) || copying.Switched() != dr.Switched() {
			t.Fatalf("%d records and switch %q while reusing memory, %d and %q without", len(copying.Encoded), copying.Switched(), len(dr.Records), dr.Switched())
		}
		for i, r := range dr.Records {
			if want := sdk.AppendRecord(nil, r); !bytes.Equal(copying.Encoded[i], want) {
				got, _ := sdk.DecodeRecord(copying.Encoded[i])
				t.Fatalf("record %d differs when memory is reused:\n reused %+v\n fresh  %+v", i, got, r)
			}
		}
		if bytewise.Misbehaved != "" {
			t.Fatal(bytewise.Misbehaved)
		}
		if !reflect.DeepEqual(dr.Records, bytewise.Records) || dr.Switched() != bytewise.Switched() {
			for i := range max(len(dr.Records), len(bytewise.Records)) {
				if i >= len(dr.Records) || i >= len(bytewise.Records) || !reflect.DeepEqual(dr.Records[i], bytewise.Records[i]) {
					t.Fatalf("record %d depends on segmentation:\n whole    %+v\n bytewise %+v", i, at(dr.Records, i), at(bytewise.Records, i))
				}
			}
			t.Fatalf("switch %q vs %q", dr.Switched(), bytewise.Switched())
		}
		if feeds > len(client)+len(server)+2*drives+2 {
			t.Fatalf("%d Feed calls for %d bytes in %d deliveries", feeds, len(client)+len(server), drives)
		}
		for _, r := range dr.Records {
			if r.Protocol != "http" {
				t.Fatalf("protocol %q", r.Protocol)
			}
			for _, m := range []*sdk.Message{r.Request, r.Response} {
				if m == nil {
					continue
				}
				if m.Size < 0 || m.BodySize < 0 || len(m.Body) > 4*preview.MaxBytes/3+4 {
					t.Fatalf("message sizes %d %d preview %d", m.Size, m.BodySize, len(m.Body))
				}
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}
