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
	// Probe order only breaks exact ties, so a stable order is all that
	// matters.
	sort.Slice(mods, func(i, j int) bool { return mods[i].Name < mods[j].Name })
	return mods, nil
}
