package devkit_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/kubeshark-wasm/kubeshark/plugins/devkit"
)

// TestSDKs builds pingpong with the C SDK (sdk/c/kubeshark.h) and with the
// Rust SDK (sdk/rust), runs each through the host on real traffic and
// checks that its manifest and records equal the Go SDK's plugin's.
func TestSDKs(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		lang  string
		build func(out string) error
	}{
		{"c", func(out string) error {
			return devkit.CompileC(ctx, out, []string{"../../sdk/c"}, "../testdata/pingpong-c/pingpong.c")
		}},
		{"rust", func(out string) error {
			return devkit.CompileRust(ctx, out, filepath.Dir(out), "../../sdk/rust/src/lib.rs", "../testdata/pingpong-rust/src/lib.rs")
		}},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "pingpong.wasm")
			skipWithout(t, tc.build(out))
			code, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			res, err := devkit.Run(ctx, out, code, pingpongCapture(t))
			if err != nil {
				t.Fatal(err)
			}
			m := res.Manifest
			if m.Name != "pingpong" || m.Version != "1.0.0" || len(m.Fields) != 2 || m.Fields[1].Name != "pingpong_n" || m.Fields[1].Type != "int" {
				t.Errorf("manifest %+v", m)
			}
			if res.Health.Faults != 0 {
				t.Errorf("faults: %+v", res.Health)
			}
			sameRecords(t, res.Records)
			t.Logf("%s module: %d bytes", tc.lang, len(code))
		})
	}
}

// TestCStrings runs the C SDK's own strlen, memchr and memcmp (which
// replace wasi-libc's in every C plugin), its short-copy appends and its
// JSON strings, integers and objects against byte-at-a-time references
// inside wasm, at every alignment.
func TestCStrings(t *testing.T) {
	// With SIMD128 (kubeshark plugin build's flags) and without (a plugin
	// built by hand, the built-in dissectors): two versions of the code.
	var scalar []string
	for _, f := range devkit.CFlags {
		if f != "-msimd128" {
			scalar = append(scalar, f)
		}
	}
	for _, tc := range []struct {
		name  string
		flags []string
	}{{"simd128", devkit.CFlags}, {"scalar", scalar}} {
		t.Run(tc.name, func(t *testing.T) {
			cc, err := devkit.Clang()
			skipWithout(t, err)
			out := filepath.Join(t.TempDir(), "cstrings.wasm")
			args := append(append([]string(nil), tc.flags...), "-I", "../../sdk/c", "-o", out, "../testdata/cstrings/cstrings.c")
			if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
				t.Fatalf("%s %v: %v\n%s", cc, args, err, b)
			}
			selfChecks(context.Background(), t, out, []string{"_initialize"}, "check", "check_copy", "check_json")
		})
	}
}

// TestRustStrings runs the Rust SDK's JSON strings, keys and integers
// (word-at-a-time scans, short copies and digits written in place, which
// take other paths in wasm than natively) against plain references inside
// wasm, and its wasm allocator under vectors that grow, shrink and die.
func TestRustStrings(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "ruststrings.wasm")
	skipWithout(t, devkit.CompileRust(ctx, out, filepath.Dir(out), "../../sdk/rust/src/lib.rs", "../testdata/ruststrings/src/lib.rs"))
	selfChecks(ctx, t, out, nil, "check", "check_alloc")
}

// selfChecks instantiates the test module at path (with no-op kubeshark
// host imports, which a C SDK module links to, and the given start
// functions) and calls each of its exported check functions, which return
// how many of their cases gave a wrong answer.
func selfChecks(ctx context.Context, t *testing.T, path string, start []string, fns ...string) {
	t.Helper()
	code, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	if _, err := rt.NewHostModuleBuilder("kubeshark").
		NewFunctionBuilder().WithFunc(func(uint32, uint32) {}).Export("register_buffer").
		NewFunctionBuilder().WithFunc(func(uint32, uint32, uint32) {}).Export("emit").
		Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	mod, err := rt.InstantiateWithConfig(ctx, code, wazero.NewModuleConfig().WithStartFunctions(start...))
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range fns {
		res, err := mod.ExportedFunction(fn).Call(ctx)
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		if wrong := int32(res[0]); wrong != 0 {
			t.Errorf("%s: %d wrong answers", fn, wrong)
		}
	}
}
