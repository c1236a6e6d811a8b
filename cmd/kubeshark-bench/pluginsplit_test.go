package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/plugins/devkit"
)

// Samples as `perf script -F ip,sym,dso` prints them (abridged from a
// profile of the beanstalk example).
const perfSamples = `	    7f138c8990cc [unknown] (/tmp/perf-30881.map)
	    7f138c89e761 [unknown] (/tmp/perf-30881.map)
	    7f13d5e0227c [unknown] (/tmp/perf-30881.map)

	           93048 runtime.memmove+0x20 (/tmp/kubeshark-bench)
	    7f13d5e0227c [unknown] (/tmp/perf-30881.map)

	           9309e runtime.memmove+0x4e (/tmp/kubeshark-bench)
	          415e99 github.com/kubeshark-wasm/kubeshark/runtime/wasm.(*instance).write+0x39 (/tmp/kubeshark-bench)
	          415f00 github.com/kubeshark-wasm/kubeshark/runtime/wasm.(*instance).Feed+0x80 (/tmp/kubeshark-bench)

	          1ed4ef github.com/kubeshark-wasm/kubeshark/sdk.(*fieldsDecoder).skipStr+0x2f (/tmp/kubeshark-bench)
	          1ed500 github.com/kubeshark-wasm/kubeshark/sdk.checkFields+0x10 (/tmp/kubeshark-bench)
	          1ed600 github.com/kubeshark-wasm/kubeshark/runtime/wasm.hostEmit+0x10 (/tmp/kubeshark-bench)
	          1ed700 github.com/tetratelabs/wazero/internal/engine/wazevo.(*callEngine).callWithStack+0x10 (/tmp/kubeshark-bench)

	          1ed800 github.com/tetratelabs/wazero/internal/engine/wazevo.(*callEngine).callWithStack+0x99 (/tmp/kubeshark-bench)
	          1ed900 github.com/kubeshark-wasm/kubeshark/runtime/wasm.(*instance).invoke+0x10 (/tmp/kubeshark-bench)

	          1eda00 runtime.scanObject+0x10 (/tmp/kubeshark-bench)
	          1edb00 runtime.gcBgMarkWorker+0x10 (/tmp/kubeshark-bench)

	          1edc00 github.com/kubeshark-wasm/kubeshark/dissectors/workload.Feed+0x10 (/tmp/kubeshark-bench)

	ffffffff81000c82 asm_exc_page_fault+0x22 ([kernel.kallsyms])
`

func TestSplitPerf(t *testing.T) {
	counts, total, err := splitPerf(strings.NewReader(perfSamples))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"guest": 2, "copyin": 1, "decode": 1, "calls": 1, "gc": 1, "pipeline": 1, "other": 1}
	if total != 8 {
		t.Errorf("total %d samples, want 8", total)
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("bucket %s: %d samples, want %d (all: %v)", k, counts[k], n, counts)
		}
	}
	for k := range counts {
		known := false
		for _, b := range splitBuckets {
			known = known || b.key == k
		}
		if !known {
			t.Errorf("bucket %q is not printed", k)
		}
	}
}

// TestHasSymbols builds one small program as `go build` does and as `go
// run` does (-s -w) and checks that only the first is taken as one perf
// can symbolize, the reason the split builds its child again.
func TestHasSymbols(t *testing.T) {
	g, err := devkit.GoTool()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module symtest\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		flags []string
		want  bool
	}{
		{"go build", nil, true},
		{"go run's link flags", []string{"-ldflags=-s -w"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exe := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			cmd := exec.Command(g, append(append([]string{"build", "-o", exe}, tc.flags...), ".")...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			got, err := hasSymbols(exe)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("hasSymbols = %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := hasSymbols(filepath.Join(dir, "main.go")); err == nil {
		t.Error("hasSymbols of a Go source file: no error")
	}
}
