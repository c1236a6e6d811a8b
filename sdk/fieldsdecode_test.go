package sdk

import (
	"encoding/json"
	"reflect"
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
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var m map[string]any
			json.Unmarshal(in, &m)
		}
	})
}
