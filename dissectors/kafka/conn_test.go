package kafka

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

const (
	cli = sdk.DirA
	srv = sdk.DirB
)

// enc builds Kafka messages for tests.
type enc struct {
	b    []byte
	flex bool
}

func (e *enc) i8(v int8) *enc   { e.b = append(e.b, byte(v)); return e }
func (e *enc) i16(v int16) *enc { e.b = binary.BigEndian.AppendUint16(e.b, uint16(v)); return e }
func (e *enc) i32(v int32) *enc { e.b = binary.BigEndian.AppendUint32(e.b, uint32(v)); return e }
func (e *enc) i64(v int64) *enc { e.b = binary.BigEndian.AppendUint64(e.b, uint64(v)); return e }
func (e *enc) uv(v uint64) *enc { e.b = binary.AppendUvarint(e.b, v); return e }
func (e *enc) tags() *enc {
	if e.flex {
		e.uv(0)
	}
	return e
}
func (e *enc) str(s string) *enc {
	if e.flex {
		e.uv(uint64(len(s) + 1))
	} else {
		e.i16(int16(len(s)))
	}
	e.b = append(e.b, s...)
	return e
}
func (e *enc) arr(n int) *enc {
	if e.flex {
		return e.uv(uint64(n + 1))
	}
	return e.i32(int32(n))
}
func (e *enc) bytes(b []byte) *enc {
	if e.flex {
		e.uv(uint64(len(b) + 1))
	} else {
		e.i32(int32(len(b)))
	}
	e.b = append(e.b, b...)
	return e
}

// frame prefixes the size.
func (e *enc) frame() []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(e.b))), e.b...)
}

func reqHeader(key, version int16, corr int32, client string) *enc {
	e := &enc{}
	e.i16(key).i16(version).i32(corr).i16(int16(len(client)))
	e.b = append(e.b, client...)
	e.flex = flexibleRequest(key, version)
	return e.tags()
}

func respHeader(key, version int16, corr int32) *enc {
	e := &enc{}
	e.i32(corr)
	e.flex = flexibleResponseHeader(key, version)
	e.tags()
	e.flex = flexibleRequest(key, version)
	return e
}

func produceReq(version int16, corr int32, acks int16, topics ...string) []byte {
	e := reqHeader(0, version, corr, "producer-1")
	if version >= 3 {
		e.str("")
	}
	e.i16(acks).i32(30000).arr(len(topics))
	for _, t := range topics {
		e.str(t).arr(1).i32(0).bytes([]byte("recordbatch")).tags().tags()
	}
	return e.tags().frame()
}

func produceResp(version int16, corr int32, code int16, topics ...string) []byte {
	e := respHeader(0, version, corr)
	e.arr(len(topics))
	for _, t := range topics {
		e.str(t).arr(1).i32(0).i16(code).i64(10).i64(-1).i64(0)
		if version >= 8 {
			e.arr(0).str("")
		}
		e.tags().tags()
	}
	return e.i32(0).tags().frame()
}

func metadataReq(version int16, corr int32, topics ...string) []byte {
	e := reqHeader(3, version, corr, "c")
	e.arr(len(topics))
	for _, t := range topics {
		if version >= 10 {
			e.b = append(e.b, make([]byte, 16)...)
		}
		e.str(t).tags()
	}
	if version >= 4 {
		e.i8(1)
	}
	return e.tags().frame()
}

func metadataResp(version int16, corr int32, topicErr, partErr int16) []byte {
	e := respHeader(3, version, corr)
	if version >= 3 {
		e.i32(0)
	}
	e.arr(1).i32(1).str("broker").i32(9092)
	if version >= 1 {
		e.str("")
	}
	e.tags()
	if version >= 2 {
		e.str("cluster")
	}
	if version >= 1 {
		e.i32(1)
	}
	e.arr(1).i16(topicErr).str("t1")
	if version >= 10 {
		e.b = append(e.b, make([]byte, 16)...)
	}
	if version >= 1 {
		e.i8(0)
	}
	e.arr(1).i16(partErr).i32(0).i32(1)
	if version >= 7 {
		e.i32(0)
	}
	e.arr(1).i32(1).arr(1).i32(1)
	if version >= 5 {
		e.arr(0)
	}
	e.tags()
	if version >= 8 {
		e.i32(0)
	}
	e.tags()
	return e.tags().frame()
}

func apiVersionsReq(corr int32) []byte {
	return reqHeader(18, 3, corr, "adminclient-1").str("apache-kafka-java").str("3.5.0").tags().frame()
}

func apiVersionsResp(corr int32, code int16) []byte {
	// Header v0 (no tags) but a flexible body.
	e := &enc{}
	e.i32(corr)
	e.flex = true
	return e.i16(code).arr(1).i16(0).i16(0).i16(9).tags().i32(0).tags().frame()
}

func open(oriented bool) *sdktest.Driver {
	return sdktest.Open(New(), sdk.ConnInfo{ID: 1, PortA: 40000, PortB: 9092, Oriented: oriented})
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

func TestExchanges(t *testing.T) {
	cases := []struct {
		name     string
		oriented bool
		msgs     []struct {
			dir  sdk.Direction
			data []byte
		}
		want []brief
	}{}
	type m = struct {
		dir  sdk.Direction
		data []byte
	}
	add := func(name string, oriented bool, want []brief, msgs ...m) {
		cases = append(cases, struct {
			name     string
			oriented bool
			msgs     []struct {
				dir  sdk.Direction
				data []byte
			}
			want []brief
		}{name, oriented, msgs, want})
	}
	add("produce v2 ok", true, []brief{{"Produce", "orders", 0, false, true, ""}},
		m{cli, produceReq(2, 1, 1, "orders")}, m{srv, produceResp(2, 1, 0, "orders")})
	add("produce v9 flexible with error", true, []brief{{"Produce", "a,b", 3, true, true, ""}},
		m{cli, produceReq(9, 7, -1, "a", "b")}, m{srv, produceResp(9, 7, 3, "a", "b")})
	add("produce acks=0 expects nothing", true, []brief{{"Produce", "logs", 0, false, false, ""}},
		m{cli, produceReq(7, 2, 0, "logs")})
	add("metadata v1 partition error", true, []brief{{"Metadata", "t1,t2", 6, true, true, ""}},
		m{cli, metadataReq(1, 3, "t1", "t2")}, m{srv, metadataResp(1, 3, 0, 6)})
	add("metadata v12 flexible", true, []brief{{"Metadata", "t1", 0, false, true, ""}},
		m{cli, metadataReq(12, 4, "t1")}, m{srv, metadataResp(12, 4, 0, 0)})
	add("api versions: response header v0", true, []brief{{"ApiVersions", "", 35, true, true, ""}},
		m{cli, apiVersionsReq(0)}, m{srv, apiVersionsResp(0, 35)})
	add("unoriented, server first seen", false, []brief{{"ApiVersions", "", 0, false, true, ""}},
		m{cli, apiVersionsReq(5)}, m{srv, apiVersionsResp(5, 0)})
	add("skipped response leaves the earlier request unanswered", true, []brief{
		{"Metadata", "x", 0, false, false, "no response captured"},
		{"ApiVersions", "", 0, false, true, ""},
	}, m{cli, metadataReq(1, 1, "x")}, m{cli, apiVersionsReq(2)}, m{srv, apiVersionsResp(2, 0)})
	add("orphan response is dropped", true, []brief{}, m{srv, apiVersionsResp(9, 0)})
	add("close flushes pending", true, []brief{{"Produce", "p", 0, false, false, "no response captured"}},
		m{cli, produceReq(3, 1, 1, "p")})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, bytewise := range []bool{false, true} {
				dr := open(tc.oriented)
				ts := int64(100)
				for _, msg := range tc.msgs {
					if bytewise {
						for _, c := range msg.data {
							dr.Feed(msg.dir, []byte{c}, ts)
						}
					} else {
						dr.Feed(msg.dir, msg.data, ts)
					}
					ts += 10
				}
				dr.Close(ts)
				if got := briefs(dr.Records); !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("bytewise=%v\n got  %+v\n want %+v", bytewise, got, tc.want)
				}
			}
		})
	}
}

func TestRecordFields(t *testing.T) {
	dr := open(true)
	dr.Feed(cli, produceReq(9, 42, -1, "orders"), 1000)
	dr.Feed(srv, produceResp(9, 42, 6, "orders"), 2000)
	dr.Close(3000)
	if len(dr.Records) != 1 {
		t.Fatalf("%d records", len(dr.Records))
	}
	r := dr.Records[0]
	if r.Timestamp.UnixNano() != 1000 || r.End.UnixNano() != 2000 || r.RequestDir != cli {
		t.Fatalf("times %v %v dir %v", r.Timestamp, r.End, r.RequestDir)
	}
	if r.StatusText != "NOT_LEADER_OR_FOLLOWER" || r.Protocol != "kafka" {
		t.Fatalf("status text %q", r.StatusText)
	}
	f := r.Request.Fields
	if f["kafka_api_key"] != 0 || f["kafka_api_version"] != 9 || f["kafka_correlation_id"] != 42 || f["kafka_client_id"] != "producer-1" {
		t.Fatalf("fields %v", f)
	}
	if r.Response.Fields["kafka_error_code"] != 6 {
		t.Fatalf("response fields %v", r.Response.Fields)
	}
}

func TestOversizedMessageIsSkipped(t *testing.T) {
	e := reqHeader(0, 2, 1, "big")
	e.i16(1).i32(1000).arr(1).str("huge").arr(1).i32(0).bytes(make([]byte, 300<<10)).arr(0)
	req := e.frame()
	dr := open(true)
	for i := 0; i < len(req); i += 1500 {
		dr.Feed(cli, req[i:min(len(req), i+1500)], int64(i))
	}
	dr.Feed(srv, produceResp(2, 1, 0, "huge"), 1<<30)
	dr.Feed(cli, apiVersionsReq(2), 1<<31)
	dr.Feed(srv, apiVersionsResp(2, 0), 1<<32)
	got := briefs(dr.Records)
	want := []brief{{"Produce", "huge", 0, false, true, "request larger than the parse window: parsed its first 64 KiB"}, {"ApiVersions", "", 0, false, true, ""}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	if dr.Records[0].Request.Size != int64(len(req)) {
		t.Fatalf("size %d", dr.Records[0].Request.Size)
	}
}

func TestGapResync(t *testing.T) {
	dr := open(true)
	dr.Feed(cli, produceReq(2, 1, 1, "a"), 1)
	dr.Gap(cli, 100, 2)
	dr.Feed(cli, []byte{0xde, 0xad}, 3) // the tail of what was lost
	dr.Feed(cli, apiVersionsReq(2), 4)
	dr.Feed(srv, produceResp(2, 1, 0, "a"), 5)
	dr.Feed(srv, apiVersionsResp(2, 0), 6)
	want := []brief{{"Produce", "a", 0, false, true, ""}, {"ApiVersions", "", 0, false, true, ""}}
	if got := briefs(dr.Records); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
}

func TestProbe(t *testing.T) {
	d := New()
	cases := []struct {
		name string
		data []byte
		min  uint8
		max  uint8
		srv  bool
	}{
		{"api versions request", apiVersionsReq(0), 85, 85, false},
		{"metadata request in a bigger read", append(metadataReq(1, 1, "t"), 0, 0), 75, 75, false},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0, 0, false},
		{"tls", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 1, 2, 3, 4, 5}, 0, 0, false},
		{"redis", []byte("*1\r\n$4\r\nPING\r\n"), 0, 0, false},
		{"unknown api key", reqHeader(200, 0, 1, "x").frame(), 0, 20, true},
		{"version too high", reqHeader(3, 40, 1, "x").frame(), 0, 20, true},
		{"binary client id", reqHeader(3, 1, 1, "\x01\x02").frame(), 0, 20, true},
		{"response", metadataResp(1, 3, 0, 0), 20, 20, true},
	}
	for _, tc := range cases {
		p := d.Probe(sdk.DirA, tc.data)
		if p.Confidence < tc.min || p.Confidence > tc.max || p.Confidence > 0 && p.FromServer != tc.srv {
			t.Errorf("%s: %+v", tc.name, p)
		}
	}
}
