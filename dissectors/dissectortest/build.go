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

// Sources lists the built-in dissectors: the directories under
// dissectors/ with a wasm/main.go.
func Sources(tb testing.TB) []string {
	tb.Helper()
	mains, err := filepath.Glob(filepath.Join(repoRoot(), "dissectors", "*", "wasm", "main.go"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, m := range mains {
		out = append(out, filepath.Base(filepath.Dir(filepath.Dir(m))))
	}
	sort.Strings(out)
	return out
}

// Wasm returns the WebAssembly build of the built-in dissector in
// dissectors/<name>, built once per test process; Go's build cache makes
// repeated builds cheap.
func Wasm(tb testing.TB, name string) []byte {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if b, ok := built[name]; ok {
		return b
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
