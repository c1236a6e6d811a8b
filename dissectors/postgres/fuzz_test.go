package postgres

import (
	"encoding/json"
	"reflect"
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
		c.t.Fatalf("Feed of %d bytes returned %d, need %d", len(data), n, need)
	}
	return n, need
}

// FuzzPostgres drives a connection with arbitrary bytes, segmentation and
// gaps: no panics, no out-of-range consumption, and the records must not
// depend on how the streams were cut.
func FuzzPostgres(f *testing.F) {
	client := cat(startup("user", "a", "database", "b"), msg('Q', cs("SELECT 1")), parse("s", "SELECT $1"), bindMsg("", "s", "x"), execute(""), msg('S'), msg('X'))
	server := cat(loginOK(), rowDesc("a"), dataRow("1"), msg('C', cs("SELECT 1")), msg('Z', []byte("I")), msg('1'), msg('2'), dataRow("x"), msg('C', cs("SELECT 1")), msg('Z', []byte("I")))
	f.Add(client, server, []byte{0x10, 0x90, 0x05, 0x85})
	f.Add(cat(sslRequest(), startup("user", "u")), cat([]byte("N"), errResp("28000", "no")), []byte{0x03, 0x81, 0x7f})
	f.Add(sslRequest(), []byte("S\x16\x03\x01"), []byte{0x08, 0x81})
	f.Add(msg('Q', cs("COPY t FROM STDIN")), cat(msg('G', []byte{0}, u16(0)), msg('C', cs("COPY 1")), msg('Z', []byte("I"))), []byte{0x41, 0xc1, 0x02})
	f.Fuzz(func(t *testing.T, client, server, chunks []byte) {
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
		if !reflect.DeepEqual(dr.Records, bytewise.Records) || dr.Switched() != bytewise.Switched() {
			t.Fatalf("records depend on segmentation:\n whole    %+v\n bytewise %+v", dr.Records, bytewise.Records)
		}
		for _, r := range dr.Records {
			if r.Protocol != "postgres" || len(r.Path) > maxSQL {
				t.Fatalf("record %+v", r)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}
