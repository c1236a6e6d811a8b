package amqp

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

type enc struct{ b []byte }

func (e *enc) u8(v uint8) *enc   { e.b = append(e.b, v); return e }
func (e *enc) u16(v uint16) *enc { e.b = binary.BigEndian.AppendUint16(e.b, v); return e }
func (e *enc) u32(v uint32) *enc { e.b = binary.BigEndian.AppendUint32(e.b, v); return e }
func (e *enc) u64(v uint64) *enc { e.b = binary.BigEndian.AppendUint64(e.b, v); return e }
func (e *enc) short(s string) *enc {
	e.u8(uint8(len(s)))
	e.b = append(e.b, s...)
	return e
}
func (e *enc) long(s string) *enc {
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
	return e
}

func frame(typ byte, ch uint16, payload []byte) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint16(b, ch)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(append(b, payload...), frameEnd)
}

func meth(ch, cls, id uint16, args func(e *enc)) []byte {
	e := &enc{}
	e.u16(cls).u16(id)
	if args != nil {
		args(e)
	}
	return frame(frameMethod, ch, e.b)
}

// table encodes {"x-custom": "v", "n": int32 7, "nested": {"b": true}}.
func table() []byte {
	inner := &enc{}
	inner.short("b").u8('t').u8(1)
	t := &enc{}
	t.short("x-custom").u8('S').long("v")
	t.short("n").u8('I').u32(7)
	t.short("nested").u8('F').u32(uint32(len(inner.b)))
	t.b = append(t.b, inner.b...)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(t.b))), t.b...)
}

func start() []byte {
	return meth(0, 10, 10, func(e *enc) {
		e.u8(0).u8(9)
		e.b = append(e.b, table()...)
		e.long("PLAIN AMQPLAIN").long("en_US")
	})
}

func startOk() []byte {
	return meth(0, 10, 11, func(e *enc) {
		e.b = append(e.b, table()...)
		e.short("PLAIN").long("\x00guest\x00guest").short("en_US")
	})
}

func publish(ch uint16, exchange, key, body string) []byte {
	b := meth(ch, 60, 40, func(e *enc) { e.u16(0).short(exchange).short(key).u8(0) })
	h := &enc{}
	h.u16(60).u16(0).u64(uint64(len(body))).u16(1<<15 | 1<<13 | 1<<12)
	h.short("application/json")
	h.b = append(h.b, table()...)
	h.u8(2)
	b = append(b, frame(frameHeader, ch, h.b)...)
	if len(body) > 0 {
		half := len(body) / 2
		b = append(b, frame(frameBody, ch, []byte(body[:half]))...)
		b = append(b, frame(frameBody, ch, []byte(body[half:]))...)
	}
	return b
}

func queueDeclare(ch uint16, q string, noWait bool) []byte {
	return meth(ch, 50, 10, func(e *enc) {
		bits := uint8(2)
		if noWait {
			bits |= 16
		}
		e.u16(0).short(q).u8(bits)
		e.b = append(e.b, table()...)
	})
}

func queueDeclareOk(ch uint16, q string) []byte {
	return meth(ch, 50, 11, func(e *enc) { e.short(q).u32(0).u32(0) })
}

func channelClose(ch uint16, code uint16, text string) []byte {
	return meth(ch, 20, 40, func(e *enc) { e.u16(code).short(text).u16(40).u16(10) })
}

type brief struct {
	Method, Path string
	Status       int
	Failed       bool
	Answered     bool
	Dir          sdk.Direction
	Error        string
}

func briefs(rs []*sdk.Record) []brief {
	out := []brief{}
	for _, r := range rs {
		out = append(out, brief{r.Method, r.Path, r.Status, r.Failed, r.Response != nil, r.RequestDir, r.Error})
	}
	return out
}

type msg struct {
	dir  sdk.Direction
	data []byte
}

func run(t *testing.T, msgs []msg, bytewise bool) *sdktest.Driver {
	t.Helper()
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

func TestExchanges(t *testing.T) {
	cases := []struct {
		name string
		msgs []msg
		want []brief
	}{
		{"handshake", []msg{
			{cli, protocolHeader}, {srv, start()}, {cli, startOk()},
			{srv, meth(0, 10, 30, func(e *enc) { e.u16(2047).u32(131072).u16(60) })},
			{cli, meth(0, 10, 31, func(e *enc) { e.u16(2047).u32(131072).u16(60) })},
			{cli, meth(0, 10, 40, func(e *enc) { e.short("/").short("").u8(0) })},
			{srv, meth(0, 10, 41, func(e *enc) { e.short("") })},
			{cli, meth(1, 20, 10, func(e *enc) { e.short("") })},
			{srv, meth(1, 20, 11, func(e *enc) { e.long("") })},
		}, []brief{
			{"Connection.Start", "", 0, false, true, srv, ""},
			{"Connection.Tune", "", 0, false, true, srv, ""},
			{"Connection.Open", "", 0, false, true, cli, ""},
			{"Channel.Open", "", 0, false, true, cli, ""},
		}},
		{"publish with content", []msg{{cli, publish(1, "ex", "rk", `{"a":1}`)}},
			[]brief{{"Basic.Publish", "ex/rk", 0, false, false, cli, ""}}},
		{"publish with empty body", []msg{{cli, publish(1, "", "q", "")}},
			[]brief{{"Basic.Publish", "/q", 0, false, false, cli, ""}}},
		{"queue declare and nowait", []msg{
			{cli, queueDeclare(1, "jobs", false)}, {cli, queueDeclare(2, "fast", true)}, {srv, queueDeclareOk(1, "jobs")},
		}, []brief{
			{"Queue.Declare", "fast", 0, false, false, cli, ""},
			{"Queue.Declare", "jobs", 0, false, true, cli, ""},
		}},
		{"channel close from broker fails", []msg{
			{srv, channelClose(1, 406, "PRECONDITION_FAILED")}, {cli, meth(1, 20, 41, nil)},
		}, []brief{{"Channel.Close", "", 406, true, true, srv, ""}}},
		{"ack is one-way", []msg{{cli, meth(1, 60, 80, func(e *enc) { e.u64(7).u8(0) })}},
			[]brief{{"Basic.Ack", "", 0, false, false, cli, ""}}},
		{"get with get-ok content", []msg{
			{cli, meth(1, 60, 70, func(e *enc) { e.u16(0).short("q").u8(0) })},
			{srv, append(meth(1, 60, 71, func(e *enc) { e.u64(1).u8(0).short("ex").short("rk").u32(0) }),
				append(frame(frameHeader, 1, (&enc{}).u16(60).u16(0).u64(2).u16(0).b), frame(frameBody, 1, []byte("hi"))...)...)},
		}, []brief{{"Basic.Get", "q", 0, false, true, cli, ""}}},
		{"unanswered on close", []msg{{cli, queueDeclare(1, "x", false)}},
			[]brief{{"Queue.Declare", "x", 0, false, false, cli, "no response captured"}}},
		{"heartbeat ignored", []msg{{cli, frame(frameHeartbeat, 0, nil)}}, []brief{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, bytewise := range []bool{false, true} {
				dr := run(t, tc.msgs, bytewise)
				if got := briefs(dr.Records); !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("bytewise=%v\n got  %+v\n want %+v", bytewise, got, tc.want)
				}
			}
		})
	}
}

func TestContentDetails(t *testing.T) {
	dr := run(t, []msg{{cli, publish(3, "ex", "rk", `{"hello":"world"}`)}}, false)
	r := dr.Records[0]
	m := r.Request
	if m.Body != `{"hello":"world"}` || m.BodySize != 17 || m.Encoding != "" {
		t.Fatalf("body %q size %d", m.Body, m.BodySize)
	}
	props, _ := m.Fields["amqp_properties"].(sdk.Object)
	ctype, _ := props.Get("content_type")
	mode, _ := props.Get("delivery_mode")
	if ctype != "application/json" || mode != 2 {
		t.Fatalf("props %v", props)
	}
	if v, _ := m.Header("x-custom"); v != "v" {
		t.Fatalf("headers %v", m.Headers)
	}
	if m.Fields["amqp_channel"] != 3 || m.Fields["amqp_exchange"] != "ex" || m.Fields["amqp_routing_key"] != "rk" {
		t.Fatalf("fields %v", m.Fields)
	}
}

func TestGapAndResync(t *testing.T) {
	dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
	dr.Feed(cli, publish(1, "ex", "a", "0123456789")[:20], 1)
	dr.Gap(cli, 50, 2)
	dr.Feed(cli, []byte{1, 2, 3}, 3)
	dr.Feed(cli, publish(1, "ex", "b", "xy"), 4)
	dr.Close(5)
	// The first method frame was whole; its content was lost.
	want := []brief{
		{"Basic.Publish", "ex/a", 0, false, false, cli, "50 bytes missing from the capture"},
		{"Basic.Publish", "ex/b", 0, false, false, cli, ""},
	}
	if got := briefs(dr.Records); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
}

func TestProbe(t *testing.T) {
	d := New()
	cases := []struct {
		name string
		data []byte
		conf uint8
		srv  bool
	}{
		{"protocol header", protocolHeader, 100, false},
		{"start", start(), 75, true},
		{"publish", publish(1, "e", "k", "b"), 75, false},
		{"amqp 1.0 header", []byte("AMQP\x00\x01\x00\x00"), 0, false},
		{"http", []byte("GET / HTTP/1.1\r\n\r\n"), 0, false},
		{"tls", []byte{0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0}, 0, false},
		{"frame without end", append(meth(1, 60, 80, func(e *enc) { e.u64(1).u8(0) })[:20], 0), 0, false},
	}
	for _, tc := range cases {
		if p := d.Probe(sdk.DirA, tc.data); p.Confidence != tc.conf || p.FromServer != tc.srv {
			t.Errorf("%s: %+v", tc.name, p)
		}
	}
}
