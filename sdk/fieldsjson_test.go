package sdk

import (
	"encoding/json"
	"math"
	"testing"
)

// appendFields must write what json.Marshal writes, byte for byte, for
// every type it claims, and decline the rest.
func TestAppendFieldsMatchesEncodingJSON(t *testing.T) {
	cases := []map[string]any{
		{},
		{"s": "plain", "q": `"quoted" \ back`, "ctl": "a\x00b\x1fc\n\r\t\b\f", "html": "<a href='x'>&</a>", "utf8": "héllo ✓ 日本", "bad": "a\xffb\xc3", "sep": "x\u2028y\u2029z"},
		{"i": 1, "neg": -42, "i8": int8(-8), "i16": int16(300), "i32": int32(-70000), "i64": int64(math.MaxInt64), "u": uint(7), "u8": uint8(255), "u16": uint16(65535), "u32": uint32(4e9), "u64": uint64(math.MaxUint64)},
		{"f": 1.5, "zero": 0.0, "tiny": 1e-7, "small": 0.000001, "big": 1e21, "justbelow": 999999999999999999999.0, "neg": -2.5e-9, "f32": float32(3.14), "f32big": float32(1e22), "third": 1.0 / 3},
		{"b": true, "nb": false, "nil": nil},
		{"ss": []string{"a", "b\"c"}, "nilss": []string(nil), "is": []int{1, -2, 3}, "any": []any{1, "x", true, nil, 2.5, []any{"nested"}}},
		{"mb": map[string]bool{"qr": true, "aa": false}, "mi": map[string]int{"an": 2}, "mi64": map[string]int64{"x": -1}, "i64s": []int64{1, 2}, "u16s": []uint16{443, 80}, "bs": []bool{true}, "nilmb": map[string]bool(nil)},
		{"m": map[string]any{"z": 1, "a": map[string]any{"deep": []string{"x"}}}, "ms": map[string]string{"b": "2", "a": "1"}, "lm": []map[string]any{{"k": "v"}, {"n": 3}}},
	}
	for i, m := range cases {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendFields(nil, m)
		if !ok {
			t.Errorf("case %d: declined a supported map", i)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
	type named string
	for _, m := range []map[string]any{
		{"nan": math.NaN()}, {"inf": math.Inf(1)}, {"named": named("x")}, {"bytes": []byte("x")}, {"deep": []any{struct{}{}}},
	} {
		if _, ok := appendFields(nil, m); ok {
			t.Errorf("%v: should fall back to encoding/json", m)
		}
	}
}

// A record whose fields fall back still round-trips.
func TestAppendRecordFieldsFallback(t *testing.T) {
	type named string
	r := &Record{Protocol: "x", Request: (&Message{}).Set("named", named("v")).Set("n", 3)}
	got, err := DecodeRecord(AppendRecord(nil, r))
	if err != nil {
		t.Fatal(err)
	}
	if got.Request.Fields["named"] != "v" || got.Request.Fields["n"] != float64(3) {
		t.Fatalf("fields %v", got.Request.Fields)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", "\x00", "<&>", "\xff", "\u2028", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s want %s", s, got, want)
		}
	})
}

func TestAppendFieldsJSONFallsBack(t *testing.T) {
	type custom struct {
		A int `json:"a"`
	}
	for _, fields := range []map[string]any{
		{"version": "HTTP/1.1", "n": 3, "nested": map[string]any{"ok": true}},
		{"custom": custom{A: 7}, "s": "x"}, // a type the fast path leaves to encoding/json
	} {
		want, _ := json.Marshal(fields)
		got, err := AppendFieldsJSON([]byte("prefix:"), fields)
		if err != nil || string(got) != "prefix:"+string(want) {
			t.Errorf("AppendFieldsJSON(%v) = %q, %v; want prefix:%s", fields, got, err, want)
		}
	}
	got, err := AppendFieldsJSON([]byte("keep"), map[string]any{"c": make(chan int)})
	if err == nil || string(got) != "keep" {
		t.Errorf("unencodable field: %q, %v; want an error and the prefix untouched", got, err)
	}
}
