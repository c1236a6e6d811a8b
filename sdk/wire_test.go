package sdk

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func sampleRecord() *Record {
	ts := time.Date(2024, 5, 1, 14, 0, 0, 123456789, time.UTC)
	return &Record{
		Protocol: "http", Method: "POST", Path: "/api/orders/12345?expand=items",
		Status: 503, StatusText: "Service Unavailable", Failed: true, Summary: "POST /api/orders/12345 → 503",
		Timestamp: ts, End: ts.Add(42 * time.Millisecond), RequestDir: DirA,
		Request: &Message{
			Headers: []Header{{"Host", "orders.svc"}, {"Content-Type", "application/json"}, {"User-Agent", "Go-http-client/1.1"}, {"Accept-Encoding", "gzip"}},
			Body:    `{"item":"book","qty":2}`, BodySize: 23, Size: 180,
		},
		Response: (&Message{
			Headers: []Header{{"Content-Type", "application/json"}, {"Content-Length", "31"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}},
			Body:    `{"error":"inventory unavailable"}`, BodySize: 31, Size: 140,
		}).Set("version", "HTTP/1.1"),
	}
}

func TestWireRoundTrip(t *testing.T) {
	for _, r := range []*Record{sampleRecord(), {Protocol: "dns"}, {Protocol: "redis", Request: &Message{}}} {
		b := AppendRecord(nil, r)
		got, err := DecodeRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, normalise(r)) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, normalise(r))
		}
	}
}

// normalise mirrors what the encoding does not keep: time zones (UTC) and
// Go types of Fields values (JSON numbers become float64).
func normalise(r *Record) *Record {
	cp := *r
	if !cp.Timestamp.IsZero() {
		cp.Timestamp = cp.Timestamp.UTC()
	}
	if !cp.End.IsZero() {
		cp.End = cp.End.UTC()
	}
	for _, m := range []**Message{&cp.Request, &cp.Response} {
		if *m == nil {
			continue
		}
		mc := **m
		if mc.Fields != nil {
			b, _ := json.Marshal(mc.Fields)
			mc.Fields = nil
			_ = json.Unmarshal(b, &mc.Fields)
		}
		*m = &mc
	}
	return &cp
}

func TestDecodeRejectsDamage(t *testing.T) {
	good := AppendRecord(nil, sampleRecord())
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"wrong version", append([]byte{9}, good[1:]...)},
		{"truncated", good[:len(good)/2]},
		{"trailing", append(append([]byte{}, good...), 0)},
		{"huge length", []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}},
	} {
		if _, err := DecodeRecord(tc.b); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: err = %v, want ErrBadRecord", tc.name, err)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(AppendRecord(nil, sampleRecord()))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err == nil && r == nil {
			t.Fatal("nil record without error")
		}
	})
}

func TestMessageJSON(t *testing.T) {
	m := sampleRecord().Response
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["version"] != "HTTP/1.1" {
		t.Errorf("protocol field not inlined: %s", b)
	}
	if h := got["headers"].(map[string]any); h["Set-Cookie"] != "a=1, b=2" {
		t.Errorf("repeated header: %v", h["Set-Cookie"])
	}
	var back Message
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Body != m.Body || back.Size != m.Size || back.Fields["version"] != "HTTP/1.1" {
		t.Errorf("round trip: %+v", back)
	}
}

func TestRecordJSONTimestamp(t *testing.T) {
	r := sampleRecord()
	b, _ := json.Marshal(r)
	var raw map[string]any
	_ = json.Unmarshal(b, &raw)
	if raw["timestamp"] != "2024-05-01T14:00:00.123456789Z" {
		t.Fatalf("timestamp = %v", raw["timestamp"])
	}
	if _, ok := raw["End"]; ok {
		t.Fatal("End leaked into JSON")
	}
	var back Record
	if err := json.Unmarshal(b, &back); err != nil || !back.Timestamp.Equal(r.Timestamp) {
		t.Fatalf("back %v %v", back.Timestamp, err)
	}
}

// The two benchmarks below are the measurement behind the wire encoding
// (RATIONALE.md): the guest encodes every record and the host decodes it.
func BenchmarkWireEncodeDecode(b *testing.B) {
	r := sampleRecord()
	var buf []byte
	for b.Loop() {
		buf = AppendRecord(buf[:0], r)
		if _, err := DecodeRecord(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONEncodeDecode(b *testing.B) {
	r := sampleRecord()
	for b.Loop() {
		buf, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		var back Record
		if err := json.Unmarshal(buf, &back); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRecord is the host's share: a record with a few fields
// (an HTTP response's version and a DNS-like list) decoded with its fields
// built into maps, and with them kept encoded (DecodeRecordLazy, what the
// pipeline does for the store).
func BenchmarkDecodeRecord(b *testing.B) {
	r := sampleRecord()
	r.Request.Set("version", "HTTP/1.1").Set("answers", []any{map[string]any{"name": "a.example", "ttl": 300}})
	buf := AppendRecord(nil, r)
	for _, bc := range []struct {
		name   string
		decode func([]byte) (*Record, error)
	}{{"maps", DecodeRecord}, {"encoded", DecodeRecordLazy}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.decode(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeSmallRecord is the host's share for a small record of
// the kind the example plugins emit (a beanstalk put and its reply, the
// fields as the C SDK writes them), where the per-record fixed costs show.
func BenchmarkDecodeSmallRecord(b *testing.B) {
	buf := smallRecord()
	var d RecordDecoder
	for _, bc := range []struct {
		name   string
		decode func([]byte) (*Record, error)
	}{{"DecodeRecordLazy", DecodeRecordLazy}, {"RecordDecoder", d.DecodeLazy}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.decode(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func smallRecord() []byte {
	r := &Record{
		Protocol: "beanstalk", Method: "put", Path: "default", StatusText: "INSERTED",
		Timestamp: time.Unix(1700000000, 1), End: time.Unix(1700000000, 250001),
		Request:  &Message{Size: 58, BodySize: 40},
		Response: &Message{Size: 13},
	}
	r.Request.encoded = `{"beanstalk_command":"put","beanstalk_tube":"default","beanstalk_priority":0,"beanstalk_delay":0,"beanstalk_ttr":60,"beanstalk_bytes":40}`
	r.Response.encoded = `{"beanstalk_result":"INSERTED","beanstalk_job":12345}`
	return AppendRecord(nil, r)
}

// checkDecodeFast: where decodeFast takes a record, the careful reader
// takes it too and makes the same record of it.
func checkDecodeFast(t *testing.T, b []byte) {
	t.Helper()
	for _, lazy := range []bool{false, true} {
		fast := decodeFast(b, string(b), lazy, &decodedRecord{}, nil)
		if fast == nil {
			continue
		}
		careful, err := decodeCareful(b, string(b), lazy, &decodedRecord{})
		if err != nil {
			t.Fatalf("%q (lazy %v): decodeFast takes it, the careful reader says %v", b, lazy, err)
		}
		if !reflect.DeepEqual(fast, careful) {
			t.Fatalf("%q (lazy %v): decodeFast %+v, careful %+v", b, lazy, fast, careful)
		}
	}
}

// decodeFastSeeds are well-formed records and every way of cutting or
// changing one byte of one.
func decodeFastSeeds() [][]byte {
	full := sampleRecord()
	full.Request.Set("version", "HTTP/1.1").Set("n", -3).Set("x", 1.5).Set("ok", true).Set("l", []any{1, "a"})
	var out [][]byte
	for _, b := range [][]byte{smallRecord(), AppendRecord(nil, full), AppendRecord(nil, &Record{})} {
		out = append(out, b)
		for i := range b {
			out = append(out, b[:i])
			for _, c := range []byte{0, 1, 0x7f, 0x80, 0xff, '"', '\\', '-', '0', '{', '}', ' '} {
				m := append([]byte(nil), b...)
				m[i] = c
				out = append(out, m)
			}
		}
	}
	for _, c := range fieldsJSONCases {
		if len(c) < 0x80 {
			b := AppendRecord(nil, &Record{Protocol: "p", Request: &Message{Body: "x"}})
			b = append(b[:len(b)-2], byte(len(c)))
			out = append(out, append(append(b, c...), 0))
		}
	}
	return out
}

func TestDecodeFast(t *testing.T) {
	taken := 0
	for _, b := range decodeFastSeeds() {
		checkDecodeFast(t, b)
		if decodeFast(b, string(b), true, &decodedRecord{}, nil) != nil {
			taken++
		}
	}
	// The fast path must be the usual one, or it is no use.
	for _, b := range [][]byte{smallRecord(), AppendRecord(nil, sampleRecord())} {
		if decodeFast(b, string(b), true, &decodedRecord{}, nil) == nil {
			t.Errorf("decodeFast does not take %q", b)
		}
	}
	if taken == 0 {
		t.Error("decodeFast took no record")
	}
}

func FuzzDecodeFast(f *testing.F) {
	for _, b := range decodeFastSeeds() {
		f.Add(b)
	}
	f.Fuzz(checkDecodeFast)
}

// TestWireUvarintLong holds decodeFast's varint reader to binary.Uvarint
// on every length of varint, cut short, with bytes after it, and with the
// overlong and overflowing forms binary.Uvarint rejects or accepts.
func TestWireUvarintLong(t *testing.T) {
	var inputs [][]byte
	for shift := range 64 {
		for _, v := range []uint64{1 << shift, 1<<shift - 1, 1<<shift | 0x55, ^uint64(0) >> shift} {
			enc := binary.AppendUvarint(nil, v)
			for cut := range len(enc) + 1 {
				inputs = append(inputs, enc[:cut])
			}
			inputs = append(inputs, append(enc, 0x81, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9))
		}
	}
	for n := 1; n <= 12; n++ {
		for _, last := range []byte{0, 1, 2, 0x7f, 0x80} {
			b := bytes.Repeat([]byte{0xff}, n)
			inputs = append(inputs, append(b, last), append(append(b, last), make([]byte, 10)...))
			b = bytes.Repeat([]byte{0x80}, n)
			inputs = append(inputs, append(b, last), append(append(b, last), make([]byte, 10)...))
		}
	}
	for _, b := range inputs {
		for _, at := range []int{0, 3} {
			in := append(make([]byte, at), b...)
			want, n := binary.Uvarint(in[at:])
			got, end := wireUvarintLong(in, at)
			if n <= 0 {
				if end != -1 {
					t.Errorf("% x at %d: binary.Uvarint fails (%d), wireUvarintLong reads %d to %d", in, at, n, got, end)
				}
				continue
			}
			if got != want || end != at+n {
				t.Errorf("% x at %d: binary.Uvarint %d to %d, wireUvarintLong %d to %d", in, at, want, at+n, got, end)
			}
		}
	}
}
