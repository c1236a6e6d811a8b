package sdk

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// A wasm guest's Set keeps fields in a list (fieldlist_guest.go); the host
// must receive exactly the bytes the map would have produced. Natively Set
// fills the map, so the list is built by hand here.
func TestFieldListEncodesLikeTheMap(t *testing.T) {
	type kv = Member
	long := strings.Repeat("x", 200)
	huge := strings.Repeat("y", 20000)
	type custom struct {
		A int `json:"a"`
	}
	for _, set := range [][]kv{
		{{"version", "HTTP/1.1"}},
		{{"b", 1}, {"a", "x"}, {"c", true}},
		{{"k", 1}, {"k", 2}, {"a", 0}, {"k", 3}}, // a key Set again keeps its last value
		{{"long", long}, {"n", 1.5}},             // JSON over 127 bytes: a two-byte length
		{{"huge", huge}},                         // over 16 KiB: three bytes
		{{"z", nil}, {"é", "ü"}, {"", "empty key"}, {"<", "html & escapes"}}, // escaping and odd keys
		{{"q", []any{map[string]any{"name": "a"}}}, {"t", map[string]string{"x": "y"}}},
		{{"s", custom{A: 7}}, {"r", 2}}, // a type the appender leaves to encoding/json
		{{"k1", 1}, {"k2", 2}, {"k3", 3}, {"k4", 4}, {"k5", 5}, {"k6", 6}, {"k7", 7}, {"k8", 8}, {"k9", 9}, {"k0", 0}},
	} {
		listed := &Message{Size: 10, set: set}
		mapped := &Message{Size: 10}
		for _, f := range set {
			mapped.setMap(f.Key, f.Value)
		}
		got, want := appendMessage(nil, listed), appendMessage(nil, mapped)
		if !bytes.Equal(got, want) {
			t.Errorf("fields %v:\nlist %q\nmap  %q", set, clipBytes(got), clipBytes(want))
		}
		if v, ok := listed.Get(set[len(set)-1].Key); !ok || fmt.Sprint(v) != fmt.Sprint(set[len(set)-1].Value) {
			t.Errorf("Get(%q) = %v, %v", set[len(set)-1].Key, v, ok)
		}
	}
}

// Fields set in the map and in the list together (a guest that assigned
// Fields directly) are merged, the list winning.
func TestFieldListMergesWithMap(t *testing.T) {
	m := &Message{Fields: map[string]any{"a": 1, "b": 2}, set: Object{{"b", 3}, {"c", 4}}}
	want := map[string]any{"a": 1, "b": 3, "c": 4}
	if got := m.fieldMap(); !reflect.DeepEqual(got, want) {
		t.Fatalf("fieldMap = %v, want %v", got, want)
	}
	r, err := DecodeRecord(AppendRecord(nil, &Record{Protocol: "x", Request: m}))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Request.Fields; fmt.Sprint(got) != "map[a:1 b:3 c:4]" {
		t.Fatalf("decoded fields %v", got)
	}
}

func clipBytes(b []byte) []byte {
	if len(b) > 120 {
		return append(b[:60:60], b[len(b)-60:]...)
	}
	return b
}

func TestCopiesAndReset(t *testing.T) {
	if Copies(EmitFunc(func(*Record) {})) {
		t.Fatal("an EmitFunc does not copy")
	}
	if !Copies(copyingEmitter{}) {
		t.Fatal("a Copier that copies")
	}
	var m Message
	m.Set("a", 1).Set("b", "x")
	m.Headers = []Header{{"h", "v"}}
	m.Body, m.Size = "body", 10
	m.Reset()
	if m.Headers != nil || m.Body != "" || m.Size != 0 || len(m.Fields) != 0 || len(m.set) != 0 {
		t.Fatalf("reset left %+v", m)
	}
	if _, ok := m.Get("a"); ok {
		t.Fatal("a field survived Reset")
	}
	m.Set("c", true)
	if v, ok := m.Get("c"); !ok || v != true {
		t.Fatalf("Set after Reset: %v %v", v, ok)
	}
}

type copyingEmitter struct{ EmitFunc }

func (copyingEmitter) CopiesRecords() bool { return true }
