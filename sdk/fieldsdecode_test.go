package sdk

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var fieldsJSONCases = []string{
	`{}`,
	`{"version":"HTTP/1.1"}`,
	` { "a" : 1 , "b" : -2.5e3 , "c" : [ true , false , null ] , "d" : { } , "e" : [ ] } `,
	`{"q":[{"name":"example.com","type":"A","ttl":300}],"flags":{"rd":true}}`,
	`{"u":"ünïcode ✓","n":0,"big":1e308,"small":-0.000001,"z":-0}`,
	`{"dup":1,"dup":2}`,
	`{"esc":"a\"b\\c\u00e9\n"}`,  // escapes: encoding/json's
	`{"bad":"\xff"}`,             // invalid UTF-8: encoding/json replaces it
	`{"ctl":"a` + "\x01" + `b"}`, // control character: an error
	`{"x":1e999}`,                // out of range: an error
	`{"x":01}`, `{"x":1.}`, `{"x":.5}`, `{"x":+1}`, `{"x":1e}`, `{"x":tru}`, `{"x":1,}`, `{"x" 1}`,
	`{"a":1} trailing`, `[1,2]`, `null`, `"s"`, ``, `{`, `{"a":[1,2}`,
	strings.Repeat(`{"a":`, 150) + `1` + strings.Repeat(`}`, 150), // deep: encoding/json's
}

// decodeFields must agree with json.Unmarshal into a map[string]any on
// every input: the same value, or an error where it errs.
func checkFieldsDecode(t *testing.T, in []byte) {
	t.Helper()
	var want map[string]any
	wantErr := json.Unmarshal(in, &want)
	got, err := decodeFields(in)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("decodeFields(%q) error %v, encoding/json %v", in, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeFields(%q) = %#v, encoding/json %#v", in, got, want)
	}
	// checkFields may vouch only for what encoding/json takes, and must
	// call it empty exactly when the map is.
	if empty, ok := checkFields(in); ok {
		if wantErr != nil {
			t.Fatalf("checkFields(%q) accepts what encoding/json rejects: %v", in, wantErr)
		}
		if empty != (len(want) == 0) {
			t.Fatalf("checkFields(%q) empty %v, map %#v", in, empty, want)
		}
	}
}

// The lazy decoding accepts and rejects exactly what the eager one does,
// with the same error, and its fields decode to the same map.
func TestDecodeRecordLazy(t *testing.T) {
	for _, c := range fieldsJSONCases {
		b := AppendRecord(nil, &Record{Protocol: "p", Request: &Message{Body: "x"}})
		// Replace the request's empty fields (the last byte before the
		// absent response) with c.
		b = append(b[:len(b)-2], byte(len(c)))
		b = append(append(b, c...), 0)
		if len(c) >= 0x80 {
			continue
		}
		eager, eerr := DecodeRecord(b)
		lazy, lerr := DecodeRecordLazy(b)
		if (eerr == nil) != (lerr == nil) || eerr != nil && eerr.Error() != lerr.Error() {
			t.Fatalf("%q: eager error %v, lazy %v", c, eerr, lerr)
		}
		if eerr != nil {
			continue
		}
		if _, ok := lazy.Request.EncodedFields(); ok {
			if got := AppendRecord(nil, lazy); string(got) != string(b) {
				t.Errorf("%q: a lazy record re-encodes as %q, want %q", c, got, b)
			}
			if lazy.Request.Fields != nil {
				t.Errorf("%q: both encoded and decoded fields", c)
			}
		}
		if err := lazy.DecodeFields(); err != nil {
			t.Fatalf("%q: %v", c, err)
		}
		if !reflect.DeepEqual(lazy.Request.Fields, eager.Request.Fields) && len(eager.Request.Fields)+len(lazy.Request.Fields) > 0 {
			t.Errorf("%q: lazy fields %#v, eager %#v", c, lazy.Request.Fields, eager.Request.Fields)
		}
		if _, ok := lazy.Request.EncodedFields(); ok {
			t.Errorf("%q: still encoded after DecodeFields", c)
		}
	}
}

// Get, Set and JSON output see encoded fields as if they were decoded.
func TestEncodedFieldsRead(t *testing.T) {
	b := AppendRecord(nil, &Record{Protocol: "p", Response: (&Message{}).Set("a", "x").Set("n", 2)})
	r, err := DecodeRecordLazy(b)
	if err != nil {
		t.Fatal(err)
	}
	if js, ok := r.Response.EncodedFields(); !ok || js != `{"a":"x","n":2}` {
		t.Fatalf("encoded fields %q %v", js, ok)
	}
	if v, ok := r.Response.Get("n"); !ok || v != float64(2) {
		t.Errorf("Get(n) = %v, %v", v, ok)
	}
	out, err := json.Marshal(r.Response)
	if err != nil || !strings.Contains(string(out), `"a":"x"`) {
		t.Errorf("JSON %s, %v", out, err)
	}
	r.Response.Set("b", true)
	if _, ok := r.Response.EncodedFields(); ok || len(r.Response.Fields) != 3 {
		t.Errorf("after Set: fields %v", r.Response.Fields)
	}
}

func TestDecodeFieldsMatchesEncodingJSON(t *testing.T) {
	for _, c := range fieldsJSONCases {
		checkFieldsDecode(t, []byte(c))
	}
}

func FuzzDecodeFields(f *testing.F) {
	for _, c := range fieldsJSONCases {
		f.Add([]byte(c))
	}
	f.Fuzz(checkFieldsDecode)
}

func BenchmarkDecodeFields(b *testing.B) {
	in := []byte(`{"version":"HTTP/1.1","content_encoding":"gzip","interim":[100],"trailers":{"grpc-status":"0"},"n":12.5}`)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			decodeFields(in)
		}
	})
	b.Run("check", func(b *testing.B) {
		for b.Loop() {
			checkFields(in)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var m map[string]any
			json.Unmarshal(in, &m)
		}
	})
}

// skipStr looks at eight bytes at a time: every byte that needs a look
// (quote, backslash escape, control character, UTF-8, valid or not) must
// be seen at every offset within and across those words.
func TestCheckFieldsStringsAtEveryOffset(t *testing.T) {
	for _, special := range []string{`\"`, `\\`, `\n`, "\x01", "\x1f", "é", "✓", "\xff", "\xc3", " ", "~", "\x7f"} {
		for n := range 20 {
			s := strings.Repeat("a", n) + special + strings.Repeat("b", 20-n)
			checkFieldsDecode(t, []byte(`{"k`+s+`":"`+s+`"}`))
		}
	}
}

// A RecordDecoder gives what DecodeRecord and DecodeRecordLazy give, and
// its records stay intact while later records are decoded into the same
// chunk, or into a new one.
func TestRecordDecoder(t *testing.T) {
	var d RecordDecoder
	var recs []*Record
	var want []string
	for i := range 2000 {
		r := &Record{Protocol: "p", Method: fmt.Sprint("m", i), Path: strings.Repeat("x", i%300),
			Request: (&Message{Body: fmt.Sprint(i)}).Set("n", i)}
		if i%500 == 0 {
			r.Path = strings.Repeat("y", recordChunk) // a record of its own
		}
		b := AppendRecord(nil, r)
		var got *Record
		var err error
		if i%2 == 0 {
			got, err = d.DecodeLazy(b)
		} else {
			got, err = d.Decode(b)
		}
		if err != nil {
			t.Fatal(err)
		}
		clear(b) // the guest's memory is reused at once
		recs = append(recs, got)
		want = append(want, string(AppendRecord(nil, r)))
	}
	for i, r := range recs {
		if got := string(AppendRecord(nil, r)); got != want[i] {
			t.Fatalf("record %d changed after later decodes", i)
		}
	}
	bad := smallRecord()
	bad = bad[:len(bad)-3]
	_, err := d.DecodeLazy(bad)
	_, want1 := DecodeRecordLazy(bad)
	if err == nil || !errors.Is(err, ErrBadRecord) || err.Error() != want1.Error() {
		t.Errorf("truncated record: %v, DecodeRecordLazy says %v", err, want1)
	}
}

// A record that fails to decode leaves nothing behind in the decoder's
// slab: the record decoded next, into the same place, has only its own
// fields, whichever way the bad one failed and wherever in a slab it fell.
func TestRecordDecoderAfterBadRecord(t *testing.T) {
	full := &Record{Protocol: "bad", Method: "PUT", Path: "/bad", Status: 500, Summary: "s",
		Request:  (&Message{Body: "req", Headers: []Header{{"a", "b"}}}).Set("k", 1),
		Response: &Message{Body: "resp"}}
	fb := AppendRecord(nil, full)
	plain := &Record{Protocol: "good", Response: &Message{Size: 3}}
	good := AppendRecord(nil, plain)
	for _, tc := range []struct {
		name string
		bad  []byte
	}{
		{"truncated in the response", fb[:len(fb)-2]},
		{"trailing bytes", append(slices.Clone(fb), 0)},
		{"bad fields", bytes.Replace(slices.Clone(fb), []byte(`{"k":1}`), []byte(`{"k":1,}`), 1)},
		{"wrong version", append([]byte{WireVersion + 1}, fb[1:]...)},
	} {
		for skip := range recordSlab + 1 {
			var d RecordDecoder
			var before []*Record
			for range skip {
				r, err := d.DecodeLazy(good)
				if err != nil {
					t.Fatal(err)
				}
				before = append(before, r)
			}
			for _, lazy := range []bool{false, true} {
				dec := d.Decode
				if lazy {
					dec = d.DecodeLazy
				}
				if r, err := dec(tc.bad); err == nil || r != nil {
					t.Fatalf("%s (lazy %v): %v, %v; want an error", tc.name, lazy, r, err)
				}
				r, err := dec(good)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := DecodeRecord(good)
				if !reflect.DeepEqual(r, want) {
					t.Fatalf("%s (lazy %v) after %d records: %+v, want %+v", tc.name, lazy, skip, r, want)
				}
			}
			for i, r := range before {
				if got := AppendRecord(nil, r); !bytes.Equal(got, good) {
					t.Fatalf("%s: record %d changed", tc.name, i)
				}
			}
		}
	}
}

// TestSpecialBytes holds specialBytes to its promise: no flag exactly when
// a word has no byte a string scan must look at, and otherwise the lowest
// flag on the first such byte. Every pair of byte values is tried at every
// pair of neighbouring places in words of plain bytes, then random words
// made of the values around the edges.
func TestSpecialBytes(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }
	check := func(w [8]byte) {
		first := -1
		for k, c := range w {
			if special(c) {
				first = k
				break
			}
		}
		got := specialBytes(binary.LittleEndian.Uint64(w[:]))
		switch {
		case first < 0 && got != 0:
			t.Fatalf("% x: no special byte, flags %#x", w, got)
		case first >= 0 && (got == 0 || bits.TrailingZeros64(got)/8 != first):
			t.Fatalf("% x: first special byte %d, flags %#x", w, first, got)
		}
	}
	for at := range 7 {
		for x := range 256 {
			for y := range 256 {
				w := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
				w[at], w[at+1] = byte(x), byte(y)
				check(w)
			}
		}
	}
	edges := []byte{0, 1, 0x1f, 0x20, 0x21, '"', 0x23, 0x5b, '\\', 0x5d, 0x7e, 0x7f, 0x80, 0x81, 0xa1, 0xa2, 0xdc, 0xfe, 0xff, 'a'}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1 << 20 {
		var w [8]byte
		for k := range w {
			w[k] = edges[rng.IntN(len(edges))]
		}
		check(w)
	}
}

// Header lists from a RecordDecoder's slab are each message's own: a
// header appended to one message does not show in the message decoded
// after it, and every record reads back as it was encoded, for lists of
// every length around the slab's limits.
func TestRecordDecoderHeaderLists(t *testing.T) {
	var d RecordDecoder
	var recs []*Record
	var want [][]byte
	for _, n := range []int{0, 1, 7, headerSlab/4 - 1, headerSlab / 4, headerSlab/4 + 1, headerSlab - 1, headerSlab, 200, 3, 3, 3} {
		for k := range 3 {
			req := &Message{}
			for i := range n {
				req.Headers = append(req.Headers, Header{fmt.Sprint("n", i), fmt.Sprint("v", k)})
			}
			r := &Record{Protocol: "p", Request: req, Response: &Message{Headers: []Header{{"r", fmt.Sprint(n)}}}}
			b := AppendRecord(nil, r)
			got, err := d.DecodeLazy(b)
			if err != nil {
				t.Fatal(err)
			}
			if cap(got.Request.Headers) != len(got.Request.Headers) {
				t.Errorf("%d headers: a list of capacity %d", n, cap(got.Request.Headers))
			}
			recs = append(recs, got)
			want = append(want, b)
		}
	}
	for _, r := range recs {
		r.Request.Headers = append(r.Request.Headers, Header{"added", "x"})
	}
	for i, r := range recs {
		r.Request.Headers = r.Request.Headers[:len(r.Request.Headers)-1]
		if got := AppendRecord(nil, r); !bytes.Equal(got, want[i]) {
			t.Fatalf("record %d changed when headers were added to the others", i)
		}
	}
}
