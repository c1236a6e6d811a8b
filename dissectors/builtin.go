package dissectors

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed bin
var bin embed.FS

// Sources returns the directories under dissectors/ that hold a built-in
// dissector, in load order.
func Sources() []string { return []string{"http1"} }

// Module is one embedded dissector build.
type Module struct {
	Name string // source directory, e.g. "http1"
	Wasm []byte
}

// Builtin returns the dissector modules embedded in this binary. It fails
// when the binary was built without them (go build instead of make build).
func Builtin() ([]Module, error) {
	entries, err := fs.ReadDir(bin, "bin")
	if err != nil {
		return nil, fmt.Errorf("embedded dissectors: %w", err)
	}
	var mods []Module
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".wasm") {
			continue
		}
		b, err := bin.ReadFile(path.Join("bin", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("embedded dissector %s: %w", e.Name(), err)
		}
		mods = append(mods, Module{Name: strings.TrimSuffix(e.Name(), ".wasm"), Wasm: b})
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("this kubeshark binary has no built-in dissectors: build it with `make build`, which compiles them to WebAssembly first")
	}
	order := map[string]int{}
	for i, s := range Sources() {
		order[s] = i + 1
	}
	sort.SliceStable(mods, func(i, j int) bool { return order[mods[i].Name] < order[mods[j].Name] })
	return mods, nil
}
