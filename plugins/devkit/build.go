package devkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

func sortStrings(s []string) { sort.Strings(s) }

// Lang is a language a plugin can be written in.
type Lang string

// The languages with an SDK.
const (
	Go   Lang = "go"
	C    Lang = "c"
	Rust Lang = "rust"
)

// Langs lists the languages in the order help texts show them.
var Langs = []Lang{Go, C, Rust}

// ErrToolchain is wrapped when a language's compiler is not installed.
var ErrToolchain = errors.New("toolchain not installed")

// ParseLang checks a --lang value.
func ParseLang(s string) (Lang, error) {
	switch l := Lang(strings.ToLower(s)); l {
	case Go, C, Rust:
		return l, nil
	case "golang":
		return Go, nil
	case "rs":
		return Rust, nil
	}
	return "", fmt.Errorf("language %q: want go, c or rust", s)
}

// DetectLang tells a project's language from its files: go.mod (Go),
// Cargo.toml or src/lib.rs (Rust), a .c file (C).
func DetectLang(dir string) (Lang, error) {
	exists := func(p string) bool { _, err := os.Stat(filepath.Join(dir, p)); return err == nil }
	switch {
	case exists("go.mod"):
		return Go, nil
	case exists("Cargo.toml"), exists("src/lib.rs"):
		return Rust, nil
	}
	if cs, _ := filepath.Glob(filepath.Join(dir, "*.c")); len(cs) > 0 {
		return C, nil
	}
	if _, err := os.Stat(dir); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s: no go.mod, Cargo.toml, src/lib.rs or .c file: not a plugin project (kubeshark plugin new makes one)", dir)
}

// RustC is the rustc that has the wasm32-wasi standard library: Debian's
// (libstd-rust-dev-wasm32), which a rustup rustc earlier on PATH usually
// lacks. $KUBESHARK_RUSTC overrides it.
func RustC() (string, error) {
	if p := os.Getenv("KUBESHARK_RUSTC"); p != "" {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/rustc"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("rustc")
	if err != nil {
		return "", fmt.Errorf("%w: rustc with the wasm32-wasi standard library (Debian: apt-get install rustc libstd-rust-dev-wasm32)", ErrToolchain)
	}
	return p, nil
}

// Clang is a clang that can target wasm32-wasi; $KUBESHARK_CLANG
// overrides it.
func Clang() (string, error) {
	if p := os.Getenv("KUBESHARK_CLANG"); p != "" {
		return p, nil
	}
	for _, name := range []string{"clang", "clang-14", "clang-15", "clang-16", "clang-17", "clang-18", "clang-19"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: clang for wasm32-wasi (Debian: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)", ErrToolchain)
}

// GoTool is the go command.
func GoTool() (string, error) {
	p, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w: go (https://go.dev/dl)", ErrToolchain)
	}
	return p, nil
}

// run runs a toolchain command in dir; its output is the error's text.
func run(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// WasmOpt is binaryen's wasm-opt, or "" when it is not installed: the
// post-pass is worth having but not required. $KUBESHARK_WASM_OPT
// overrides it ("none" turns it off).
func WasmOpt() string {
	if p := os.Getenv("KUBESHARK_WASM_OPT"); p != "" {
		if p == "none" {
			return ""
		}
		return p
	}
	p, _ := exec.LookPath("wasm-opt")
	return p
}

// OptimizeWasm runs wasm-opt -O3 over the module at path in place, when
// wasm-opt is installed, keeping the name section (a trap's stack trace
// names the guest's functions) and dropping DWARF. It reports whether it
// ran.
func OptimizeWasm(ctx context.Context, path string) (bool, error) {
	wo := WasmOpt()
	if wo == "" {
		return false, nil
	}
	return true, run(ctx, "", nil, wo, "-O3", "-g", "--strip-dwarf", path, "-o", path)
}

// CFlags are the flags CompileC gives clang: -mbulk-memory makes memcpy and
// memset single instructions, which wazero runs as one native copy, where
// wasi-libc's versions are loops of wasm; -msimd128 lets the C SDK's
// strlen, memchr and JSON strings go sixteen bytes a step (RATIONALE.md).
var CFlags = []string{"--target=wasm32-wasi", "-O2", "-mbulk-memory", "-msimd128", "-mexec-model=reactor", "-Wall"}

// CompileC compiles C sources to a wasm32-wasi reactor at out, with
// include directories (for kubeshark.h).
func CompileC(ctx context.Context, out string, includes []string, srcs ...string) error {
	cc, err := Clang()
	if err != nil {
		return err
	}
	args := append(append([]string(nil), CFlags...), "-o", out)
	for _, inc := range includes {
		args = append(args, "-I", inc)
	}
	return run(ctx, "", nil, cc, append(args, srcs...)...)
}

// RustFlags are the code generation flags CompileRust gives rustc: the
// optimisation level a release build uses, bulk memory as for C, and
// SIMD128, which wazero compiles (CoreFeaturesV2) and which moves and
// copies of 16 bytes and more use (RATIONALE.md, "The Rust guest's own
// code").
var RustFlags = []string{"-C", "opt-level=3", "-C", "target-feature=+bulk-memory,+simd128"}

// CompileRust builds the Rust SDK crate at sdkSrc (its lib.rs) as an rlib
// in work, then the plugin crate at src (its lib.rs) against it as a
// wasm32-wasi cdylib at out. rustc alone, no cargo: Debian's rustc has the
// wasm standard library and no registry is needed.
func CompileRust(ctx context.Context, out, work, sdkSrc, src string) error {
	rc, err := RustC()
	if err != nil {
		return err
	}
	common := append([]string{"--edition", "2021", "-C", "strip=debuginfo", "--target", "wasm32-wasi"}, RustFlags...)
	rlib := filepath.Join(work, "libkubeshark.rlib")
	if err := run(ctx, "", nil, rc, append(common, "--crate-type", "rlib", "--crate-name", "kubeshark", "-o", rlib, sdkSrc)...); err != nil {
		return err
	}
	name := strings.TrimSuffix(filepath.Base(out), ".wasm")
	name = strings.NewReplacer("-", "_", ".", "_").Replace(name)
	return run(ctx, "", nil, rc, append(common, "--crate-type", "cdylib", "--crate-name", name,
		"--extern", "kubeshark="+rlib, "-L", work, "-o", out, src)...)
}

// CompileGo builds the Go main package in dir as a wasip1 c-shared module
// at out.
func CompileGo(ctx context.Context, out, dir string) error {
	g, err := GoTool()
	if err != nil {
		return err
	}
	return run(ctx, dir, []string{"GOOS=wasip1", "GOARCH=wasm"}, g, "build", "-trimpath", "-buildmode=c-shared", "-o", out, ".")
}

// Build builds the project in dir with its language's toolchain and
// returns the module's path, dir/NAME.wasm, NAME being the directory's
// base name.
func Build(ctx context.Context, dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	lang, err := DetectLang(dir)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, filepath.Base(dir)+".wasm")
	switch lang {
	case Go:
		err = CompileGo(ctx, out, dir)
	case C:
		srcs, _ := filepath.Glob(filepath.Join(dir, "*.c"))
		sort.Strings(srcs)
		err = CompileC(ctx, out, []string{dir}, srcs...)
	case Rust:
		work := filepath.Join(dir, "target", "kubeshark")
		if err := os.MkdirAll(work, 0o755); err != nil {
			return "", err
		}
		err = CompileRust(ctx, out, work, filepath.Join(dir, "kubeshark-sdk", "lib.rs"), filepath.Join(dir, "src", "lib.rs"))
	}
	if err == nil && lang != Go {
		// Go modules are left as the Go toolchain makes them: 3 MiB that
		// wasm-opt would take seconds over, for a gain not measured.
		_, err = OptimizeWasm(ctx, out)
	}
	if err != nil {
		return "", fmt.Errorf("building the %s plugin in %s: %w", lang, dir, err)
	}
	return out, nil
}

// BuildIfStale is Build unless dir/NAME.wasm is newer than every other file
// of the project (testdata/ and target/ aside), as make would decide. It
// reports whether it built.
func BuildIfStale(ctx context.Context, dir string) (string, bool, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false, err
	}
	out := filepath.Join(abs, filepath.Base(abs)+".wasm")
	if st, err := os.Stat(out); err == nil && !newerThan(abs, out, st.ModTime().UnixNano()) {
		return out, false, nil
	}
	out, err = Build(ctx, dir)
	return out, err == nil, err
}

// newerThan reports whether a file of dir other than skip changed after t.
func newerThan(dir, skip string, t int64) bool {
	newer := false
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || newer {
			return filepath.SkipAll
		}
		if e.IsDir() {
			switch e.Name() {
			case "testdata", "target", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if p == skip {
			return nil
		}
		if info, err := e.Info(); err == nil && info.ModTime().UnixNano() > t {
			newer = true
		}
		return nil
	})
	return newer
}
