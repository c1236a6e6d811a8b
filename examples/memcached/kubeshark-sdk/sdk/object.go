package sdk

// Member is one entry of an Object.
type Member struct {
	Key   string
	Value any
}

// Object is a JSON object given as a list of members, for nested field
// values: a DNS answer, a set of flags. It encodes exactly as a
// map[string]any with the same entries would (keys sorted; a key listed
// twice keeps its last value), and the host decodes it as that map, so
// nothing downstream can tell. Inside a WebAssembly guest it saves what a
// Go map costs there: microseconds to create, hash and encode, several
// times the rest of a small record.
type Object []Member

// Get returns the value of key, the last one when it is listed twice.
func (o Object) Get(key string) (any, bool) {
	for i := len(o) - 1; i >= 0; i-- {
		if o[i].Key == key {
			return o[i].Value, true
		}
	}
	return nil, false
}

// Sorted returns the members of the map o stands for, in key order: one
// per key, with its last value.
func (o Object) Sorted() Object {
	out := make(Object, 0, len(o))
	for _, i := range memberOrder(o, make([]int, 0, len(o))) {
		out = append(out, o[i])
	}
	return out
}

// AsMaps returns v with every Object in it, however deeply nested in
// Objects, []Object and []any, turned into the map[string]any it stands
// for: what the host sees once it has decoded a record.
func AsMaps(v any) any {
	switch x := v.(type) {
	case Object:
		if x == nil {
			return map[string]any(nil)
		}
		m := make(map[string]any, len(x))
		for _, f := range x {
			m[f.Key] = AsMaps(f.Value)
		}
		return m
	case []Object:
		out := make([]any, len(x))
		for i, o := range x {
			out[i] = AsMaps(o)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = AsMaps(e)
		}
		return out
	}
	return v
}

// MarshalJSON writes o as the JSON object it stands for; a nil Object is
// null, as a nil map is.
func (o Object) MarshalJSON() ([]byte, error) {
	if b, ok := appendObjectValue(nil, o); ok {
		return b, nil
	}
	m := make(map[string]any, len(o))
	for _, f := range o {
		m[f.Key] = f.Value
	}
	return AppendFieldsJSON(nil, m)
}

func appendObjectValue(b []byte, o Object) ([]byte, bool) {
	if o == nil {
		return append(b, "null"...), true
	}
	return appendObject(b, o)
}

// appendObject writes members as the JSON object of the map they stand
// for, or reports false when a value is of a type appendJSONValue does not
// handle.
func appendObject(b []byte, o []Member) ([]byte, bool) {
	var small [8]int
	b = append(b, '{')
	for n, i := range memberOrder(o, small[:0]) {
		if n > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, o[i].Key)
		b = append(b, ':')
		var ok bool
		if b, ok = appendJSONValue(b, o[i].Value); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// memberOrder appends to order the indexes of o's members in key order,
// the last of each key only.
func memberOrder(o []Member, order []int) []int {
	for i := range o {
		order = append(order, i)
	}
	// A stable insertion sort: objects are short, and a key's later values
	// stay after its earlier ones.
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && keyLess(o[order[j]].Key, o[order[j-1]].Key); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	out := order[:0]
	for n, i := range order {
		if n+1 < len(order) && sameKey(o[order[n+1]].Key, o[i].Key) {
			continue
		}
		out = append(out, i)
	}
	return out
}

// keyLess and sameKey decide on the first byte where they can: keys
// usually differ there, and a string comparison is a runtime call, which
// costs a WebAssembly guest more than the rest of the step.
func keyLess(a, b string) bool {
	if len(a) > 0 && len(b) > 0 && a[0] != b[0] {
		return a[0] < b[0]
	}
	return a < b
}

func sameKey(a, b string) bool {
	return len(a) == len(b) && (len(a) == 0 || a[0] == b[0]) && a == b
}
