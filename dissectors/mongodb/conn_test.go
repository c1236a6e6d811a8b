package mongodb

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

const (
	cli = sdk.DirA
	srv = sdk.DirB
)

// kv is one BSON element for the test encoder; values are string, int32,
// int64, float64, bool, nil, []kv (document) or []any (array).
type kv struct {
	k string
	v any
}

func bsonDoc(elems ...kv) []byte {
	var b []byte
	for _, e := range elems {
		b = appendValue(b, e.k, e.v)
	}
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(b)+5))
	return append(append(out, b...), 0)
}

func appendValue(b []byte, k string, v any) []byte {
	name := func(t byte) { b = append(append(append(b, t), k...), 0) }
	switch x := v.(type) {
	case string:
		name(tString)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(x)+1))
		b = append(append(b, x...), 0)
	case int32:
		name(tInt32)
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	case int64:
		name(tInt64)
		b = binary.LittleEndian.AppendUint64(b, uint64(x))
	case float64:
		name(tDouble)
		b = binary.LittleEndian.AppendUint64(b, mathFloat(x))
	case bool:
		name(tBool)
		if x {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case nil:
		name(tNull)
	case []kv:
		name(tDocument)
		b = append(b, bsonDoc(x...)...)
	case []any:
		name(tArray)
		var elems []kv
		for i, y := range x {
			elems = append(elems, kv{string(rune('0' + i)), y})
		}
		b = append(b, bsonDoc(elems...)...)
	}
	return b
}

func wire(reqID, respTo, op int32, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(16+len(body)))
	b = binary.LittleEndian.AppendUint32(b, uint32(reqID))
	b = binary.LittleEndian.AppendUint32(b, uint32(respTo))
	b = binary.LittleEndian.AppendUint32(b, uint32(op))
	return append(b, body...)
}

func opMsgMsg(reqID, respTo int32, flags uint32, doc []byte, seq ...[]byte) []byte {
	body := binary.LittleEndian.AppendUint32(nil, flags)
	body = append(append(body, 0), doc...)
	if len(seq) > 0 {
		s := append([]byte("documents"), 0)
		for _, d := range seq {
			s = append(s, d...)
		}
		body = append(body, 1)
		body = binary.LittleEndian.AppendUint32(body, uint32(4+len(s)))
		body = append(body, s...)
	}
	return wire(reqID, respTo, opMsg, body)
}

func opQueryMsg(reqID int32, ns string, doc []byte) []byte {
	body := binary.LittleEndian.AppendUint32(nil, 0)
	body = append(append(body, ns...), 0)
	body = binary.LittleEndian.AppendUint32(body, 0)
	body = binary.LittleEndian.AppendUint32(body, 0xffffffff)
	return wire(reqID, 0, opQuery, append(body, doc...))
}

func opReplyMsg(reqID, respTo int32, flags uint32, docs ...[]byte) []byte {
	body := binary.LittleEndian.AppendUint32(nil, flags)
	body = binary.LittleEndian.AppendUint64(body, 0)
	body = binary.LittleEndian.AppendUint32(body, 0)
	body = binary.LittleEndian.AppendUint32(body, uint32(len(docs)))
	for _, d := range docs {
		body = append(body, d...)
	}
	return wire(reqID, respTo, opReply, body)
}

func compressed(msg []byte, id byte) []byte {
	orig := int32(binary.LittleEndian.Uint32(msg[12:]))
	inner := msg[16:]
	var data []byte
	switch id {
	case 1:
		data = snappy.Encode(nil, inner)
	case 2:
		var buf bytes.Buffer
		w := zlib.NewWriter(&buf)
		w.Write(inner)
		w.Close()
		data = buf.Bytes()
	case 3:
		enc, _ := zstd.NewWriter(nil)
		data = enc.EncodeAll(inner, nil)
	}
	body := binary.LittleEndian.AppendUint32(nil, uint32(orig))
	body = binary.LittleEndian.AppendUint32(body, uint32(len(inner)))
	body = append(append(body, id), data...)
	return wire(int32(binary.LittleEndian.Uint32(msg[4:])), int32(binary.LittleEndian.Uint32(msg[8:])), opCompressed, body)
}

type brief struct {
	Method, Path string
	Status       int
	Failed       bool
	Answered     bool
	Error        string
}

func briefs(rs []*sdk.Record) []brief {
	out := []brief{}
	for _, r := range rs {
		out = append(out, brief{r.Method, r.Path, r.Status, r.Failed, r.Response != nil, r.Error})
	}
	return out
}

type msg struct {
	dir  sdk.Direction
	data []byte
}

func run(msgs []msg, bytewise bool) *sdktest.Driver {
	dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
	ts := int64(100)
	for _, m := range msgs {
		if bytewise {
			for _, c := range m.data {
				dr.Feed(m.dir, []byte{c}, ts)
			}
		} else {
			dr.Feed(m.dir, m.data, ts)
		}
		ts += 10
	}
	dr.Close(ts)
	return dr
}

var okReply = bsonDoc(kv{"n", int32(1)}, kv{"ok", 1.0})

func TestExchanges(t *testing.T) {
	find := bsonDoc(kv{"find", "users"}, kv{"filter", []kv{{"age", int32(30)}}}, kv{"$db", "app"})
	cases := []struct {
		name string
		msgs []msg
		want []brief
	}{
		{"find", []msg{{cli, opMsgMsg(1, 0, 0, find)}, {srv, opMsgMsg(9, 1, 0, okReply)}},
			[]brief{{"find", "app.users", 0, false, true, ""}}},
		{"command error", []msg{
			{cli, opMsgMsg(2, 0, 0, bsonDoc(kv{"replSetGetStatus", int32(1)}, kv{"$db", "admin"}))},
			{srv, opMsgMsg(9, 2, 0, bsonDoc(kv{"ok", 0.0}, kv{"errmsg", "not running with --replSet"}, kv{"code", int32(76)}, kv{"codeName", "NoReplicationEnabled"}))},
		}, []brief{{"replSetGetStatus", "admin", 76, true, true, ""}}},
		{"write error", []msg{
			{cli, opMsgMsg(3, 0, 0, bsonDoc(kv{"insert", "c"}, kv{"$db", "d"}), bsonDoc(kv{"_id", int32(1)}))},
			{srv, opMsgMsg(9, 3, 0, bsonDoc(kv{"n", int32(0)}, kv{"writeErrors", []any{[]kv{{"index", int32(0)}, {"code", int32(11000)}, {"errmsg", "E11000 duplicate key"}}}}, kv{"ok", 1.0}))},
		}, []brief{{"insert", "d.c", 11000, true, true, ""}}},
		{"legacy command query", []msg{
			{cli, opQueryMsg(4, "admin.$cmd", bsonDoc(kv{"isMaster", int32(1)}))},
			{srv, opReplyMsg(9, 4, 0, bsonDoc(kv{"ismaster", true}, kv{"ok", 1.0}))},
		}, []brief{{"isMaster", "admin", 0, false, true, ""}}},
		{"legacy collection query fails", []msg{
			{cli, opQueryMsg(5, "shop.items", bsonDoc(kv{"sku", "x"}))},
			{srv, opReplyMsg(9, 5, 2, bsonDoc(kv{"$err", "bad query"}, kv{"code", int32(2)}))},
		}, []brief{{"OP_QUERY", "shop.items", 2, true, true, ""}}},
		{"moreToCome is one-way", []msg{{cli, opMsgMsg(6, 0, 2, bsonDoc(kv{"insert", "c"}, kv{"$db", "d"}))}},
			[]brief{{"insert", "d.c", 0, false, false, ""}}},
		{"unanswered", []msg{{cli, opMsgMsg(7, 0, 0, bsonDoc(kv{"ping", int32(1)}, kv{"$db", "admin"}))}},
			[]brief{{"ping", "admin", 0, false, false, "no response captured"}}},
		{"snappy", []msg{{cli, compressed(opMsgMsg(8, 0, 0, find), 1)}, {srv, compressed(opMsgMsg(9, 8, 0, okReply), 1)}},
			[]brief{{"find", "app.users", 0, false, true, ""}}},
		{"zlib", []msg{{cli, compressed(opMsgMsg(8, 0, 0, find), 2)}, {srv, compressed(opMsgMsg(9, 8, 0, okReply), 2)}},
			[]brief{{"find", "app.users", 0, false, true, ""}}},
		{"zstd", []msg{{cli, compressed(opMsgMsg(8, 0, 0, find), 3)}, {srv, compressed(opMsgMsg(9, 8, 0, okReply), 3)}},
			[]brief{{"find", "app.users", 0, false, true, ""}}},
		{"getMore names its collection", []msg{{cli, opMsgMsg(10, 0, 0, bsonDoc(kv{"getMore", int64(77)}, kv{"collection", "users"}, kv{"$db", "app"}))}, {srv, opMsgMsg(11, 10, 0, okReply)}},
			[]brief{{"getMore", "app.users", 0, false, true, ""}}},
		{"reply to an unseen request", []msg{{srv, opMsgMsg(11, 99, 0, okReply)}}, []brief{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, bytewise := range []bool{false, true} {
				dr := run(tc.msgs, bytewise)
				if got := briefs(dr.Records); !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("bytewise=%v\n got  %+v\n want %+v", bytewise, got, tc.want)
				}
			}
		})
	}
}

func TestPreviewAndFields(t *testing.T) {
	doc := bsonDoc(kv{"find", "users"}, kv{"filter", []kv{{"age", int32(30)}, {"vip", true}, {"x", nil}}}, kv{"limit", int64(5)}, kv{"ratio", 1.5}, kv{"$db", "app"})
	dr := run([]msg{{cli, opMsgMsg(1, 0, 0, doc)}, {srv, opMsgMsg(2, 1, 0, okReply)}}, false)
	r := dr.Records[0]
	want := `{"find":"users","filter":{"age":30,"vip":true,"x":null},"limit":5,"ratio":1.5,"$db":"app"}`
	if r.Request.Body != want {
		t.Fatalf("preview %s", r.Request.Body)
	}
	f := r.Request.Fields
	if f["mongodb_command"] != "find" || f["mongodb_database"] != "app" || f["mongodb_collection"] != "users" || f["mongodb_request_id"] != 1 || f["mongodb_op"] != "OP_MSG" {
		t.Fatalf("fields %v", f)
	}
	if r.Response.Fields["mongodb_ok"] != 1.0 || r.Response.Fields["mongodb_n"] != int64(1) {
		t.Fatalf("response fields %v", r.Response.Fields)
	}
	if r.Timestamp.UnixNano() != 100 || r.End.UnixNano() != 110 {
		t.Fatalf("times %v %v", r.Timestamp, r.End)
	}
}

func TestHugeMessageIsSkipped(t *testing.T) {
	big := strings.Repeat("x", 300<<10)
	req := opMsgMsg(1, 0, 0, bsonDoc(kv{"insert", "logs"}, kv{"$db", "d"}), bsonDoc(kv{"blob", big}))
	dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
	for i := 0; i < len(req); i += 1460 {
		dr.Feed(cli, req[i:min(len(req), i+1460)], int64(i))
	}
	dr.Feed(srv, opMsgMsg(2, 1, 0, okReply), 1<<30)
	dr.Close(1 << 31)
	if got := briefs(dr.Records); len(got) != 1 || got[0].Method != "insert" || !got[0].Answered {
		t.Fatalf("got %+v", got)
	}
	if dr.Records[0].Request.Size != int64(len(req)) {
		t.Fatalf("size %d", dr.Records[0].Request.Size)
	}
}

func TestProbe(t *testing.T) {
	find := opMsgMsg(1, 0, 0, bsonDoc(kv{"find", "users"}, kv{"$db", "app"}))
	cases := []struct {
		name string
		data []byte
		conf uint8
		srv  bool
	}{
		{"op_msg request", find, 80, false},
		{"op_msg reply", opMsgMsg(2, 1, 0, okReply), 80, true},
		{"op_query", opQueryMsg(0, "admin.$cmd", bsonDoc(kv{"isMaster", int32(1)})), 80, false},
		{"op_reply", opReplyMsg(3, 1, 8, okReply), 75, true},
		{"compressed", compressed(find, 1), 65, false},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0, false},
		{"tls app data", append([]byte{0x17, 3, 3, 0, 0x40}, make([]byte, 64)...), 0, false},
		{"bad bson", append(find[:len(find)-1:len(find)-1], 1), 0, false},
	}
	for _, tc := range cases {
		if p := New().Probe(sdk.DirA, tc.data); p.Confidence != tc.conf || p.FromServer != tc.srv {
			t.Errorf("%s: %+v", tc.name, p)
		}
	}
}
