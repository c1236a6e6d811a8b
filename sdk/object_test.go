package sdk

import (
	"encoding/json"
	"fmt"
	"testing"
)

// An Object must be indistinguishable from the map it stands for once
// encoded, since the host decodes it as one.
func TestObjectEncodesLikeAMap(t *testing.T) {
	type custom struct {
		A int `json:"a"`
	}
	for _, o := range []Object{
		{},
		{{"nil", Object(nil)}, {"nils", []Object{nil, {}}}}, // nil is null, as a nil map is
		{{"name", "example.com"}, {"type", "A"}, {"ttl", uint32(300)}, {"data", "93.184.216.34"}},
		{{"k", 1}, {"a", true}, {"k", 2}}, // a key listed twice keeps its last value
		{{"<&>", "\u2028"}, {"é", nil}, {"", 1.5}},
		{{"nested", Object{{"z", 1}, {"y", []Object{{{"b", "x"}}, {}}}}}, {"list", []any{Object{{"q", 1}}}}},
		{{"s", custom{A: 7}}, {"r", 2}}, // a type only encoding/json knows
	} {
		wantJS, err := json.Marshal(AsMaps(o))
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("%v: %v", o, err)
		}
		if string(got) != string(wantJS) {
			t.Errorf("%v:\n object %s\n map    %s", o, got, wantJS)
		}
		fields, err := AppendFieldsJSON(nil, map[string]any{"f": o})
		if err != nil || string(fields) != `{"f":`+string(wantJS)+`}` {
			t.Errorf("%v as a field value: %s, %v", o, fields, err)
		}
	}
	o := Object{{"a", 1}, {"a", 2}}
	if v, ok := o.Get("a"); !ok || v != 2 {
		t.Fatalf("Get = %v %v, want the last value", v, ok)
	}
	if _, ok := o.Get("b"); ok {
		t.Fatal("Get of a missing key")
	}
	sorted := Object{{"b", 1}, {"a", 1}, {"b", 2}, {"c", 3}, {"a", 4}}.Sorted()
	if fmt.Sprint(sorted) != "[{a 4} {b 2} {c 3}]" {
		t.Fatalf("Sorted = %v", sorted)
	}
}
