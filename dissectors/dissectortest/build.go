package dissectortest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
)

// The cache is process-wide on purpose: every test in a binary shares the
// builds.
var (
	mu    sync.Mutex
	built = map[string][]byte{}
)

// repoRoot finds the module root from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Sources lists the built-in dissectors, as the Makefile does: the
// directories under dissectors/ with a Go guest (wasm/main.go) or a
// committed C module (c/NAME.wasm).
func Sources(tb testing.TB) []string {
	tb.Helper()
	root := repoRoot()
	mains, err := filepath.Glob(filepath.Join(root, "dissectors", "*", "wasm", "main.go"))
	if err != nil {
		tb.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range mains {
		seen[filepath.Base(filepath.Dir(filepath.Dir(m)))] = true
	}
	cmods, err := filepath.Glob(filepath.Join(root, "dissectors", "*", "c", "*.wasm"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, m := range cmods {
		if name := filepath.Base(filepath.Dir(filepath.Dir(m))); filepath.Base(m) == name+".wasm" {
			seen[name] = true
		}
	}
	var out []string
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// cModule is where a built-in written in C keeps its committed module.
func cModule(name string) string {
	return filepath.Join(repoRoot(), "dissectors", name, "c", name+".wasm")
}

// Wasm returns the WebAssembly module of the built-in dissector in
// dissectors/<name>, as `make wasm` embeds it: the committed C module
// (c/<name>.wasm) where there is one, else the Go guest built once per
// test process (Go's build cache makes repeated builds cheap).
func Wasm(tb testing.TB, name string) []byte {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if b, ok := built[name]; ok {
		return b
	}
	if b, err := os.ReadFile(cModule(name)); err == nil {
		built[name] = b
		return b
	} else if !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	root := repoRoot()
	out := filepath.Join(tb.TempDir(), name+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./dissectors/"+name+"/wasm")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building dissector %s to wasm: %v\n%s", name, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	built[name] = b
	return b
}

// BuildDir builds the Go guest in dir (relative to the module root) to
// WebAssembly and returns the module.
func BuildDir(tb testing.TB, dir string) []byte {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "guest.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./"+dir)
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building %s to wasm: %v\n%s", dir, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
