package analysis

import "github.com/kubeshark-wasm/kubeshark/storage/templates"

// templater memoises Template for one scan: most records repeat a few
// thousand distinct paths, and the memo turns the per-record cost into a
// map lookup. It stops growing at a cap rather than evicting, which keeps
// it bounded and still serves the paths seen first (the frequent ones, in
// practice).
type templater struct {
	memo map[[2]string]string
	// last is the last protocol and path asked and lastV its template:
	// records repeat a path in runs, and comparing is cheaper than
	// hashing.
	last   [2]string
	lastV  string
	lastOK bool
}

const templateMemoCap = 50000

func newTemplater() *templater { return &templater{memo: make(map[[2]string]string, 256)} }

func (t *templater) get(protocol, path string) string {
	k := [2]string{protocol, path}
	if t.lastOK && k == t.last {
		return t.lastV
	}
	v, ok := t.memo[k]
	if !ok {
		v = templates.Template(protocol, path)
		if len(t.memo) < templateMemoCap {
			t.memo[k] = v
		}
	}
	t.last, t.lastV, t.lastOK = k, v, true
	return v
}
