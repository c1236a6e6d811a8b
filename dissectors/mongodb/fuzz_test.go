package mongodb

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

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
		c.t.Fatalf("Feed of %d bytes returned %d, %d", len(data), n, need)
	}
	return n, need
}

func FuzzMongoDB(f *testing.F) {
	find := bsonDoc(kv{"find", "users"}, kv{"$db", "app"})
	client := append(append(opMsgMsg(1, 0, 0, find), opQueryMsg(2, "admin.$cmd", bsonDoc(kv{"isMaster", int32(1)}))...), compressed(opMsgMsg(3, 0, 0, find), 1)...)
	server := append(append(opMsgMsg(9, 1, 0, okReply), opReplyMsg(10, 2, 0, okReply)...), compressed(opMsgMsg(11, 3, 0, okReply), 3)...)
	f.Add(client, server, []byte{0x10, 0x90, 0x05, 0x85}, true)
	f.Add(client, server, []byte{0x41, 0xc1}, false)
	f.Fuzz(func(t *testing.T, client, server, chunks []byte, oriented bool) {
		dr := sdktest.Open(checked{New(), t}, sdk.ConnInfo{ID: 1, Oriented: oriented})
		bytewise := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: oriented})
		if len(chunks) == 0 {
			chunks = []byte{0xff}
		}
		New().Probe(sdk.DirA, client)
		New().Probe(sdk.DirB, server)
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
		if !reflect.DeepEqual(briefs(dr.Records), briefs(bytewise.Records)) {
			t.Fatalf("records depend on segmentation:\n whole    %+v\n bytewise %+v", briefs(dr.Records), briefs(bytewise.Records))
		}
		for _, r := range dr.Records {
			if r.Protocol != "mongodb" {
				t.Fatalf("protocol %q", r.Protocol)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}
