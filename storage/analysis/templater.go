package analysis

import "github.com/kubeshark-wasm/kubeshark/storage/templates"

// templater memoises Template for one scan: most records repeat a few
// thousand distinct paths, and the memo turns the per-record cost into a
// map lookup. It stops growing at a cap rather than evicting, which keeps
// it bounded and still serves the paths seen first (the frequent ones, in
// practice).
type templater struct {
	memo map[[2]string]string
}

const templateMemoCap = 50000

func newTemplater() *templater { return &templater{memo: make(map[[2]string]string, 256)} }

func (t *templater) get(protocol, path string) string {
	k := [2]string{protocol, path}
	if v, ok := t.memo[k]; ok {
		return v
	}
	v := templates.Template(protocol, path)
	if len(t.memo) < templateMemoCap {
		t.memo[k] = v
	}
	return v
}
