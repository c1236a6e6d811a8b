package dissectortest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Guest is a WebAssembly dissector module run by the host's runtime and
// seen as an sdk.Dissector, so that tests written for sdktest's driver (a
// dissector's unit tests) run the module exactly as the host does: every
// record goes through the ABI's wire encoding and back.
//
// All connections share one instance, each with its own connection id, as
// a pipeline worker's connections do. A call the host fails (a fault, a
// rejection) fails the test.
type Guest struct {
	// RawFields leaves each record's fields as the module encoded them
	// (sdk.Message.EncodedFields), so that sdk.AppendRecord gives back the
	// module's exact bytes; otherwise Fields is decoded, as readers expect.
	RawFields bool

	tb   testing.TB
	inst engine.Instance
	mu   sync.Mutex
	next uint64
	outs map[uint64]sdk.Emitter
}

// NewGuest loads module and makes the instance Guest uses; it is destroyed
// when the test ends.
func NewGuest(tb testing.TB, module []byte) *Guest {
	tb.Helper()
	g, release, err := NewSharedGuest(module)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(release)
	g.Use(tb)
	return g
}

// NewSharedGuest is NewGuest for a guest that outlives one test (the
// tests of a package, or a fuzzer's runs, share it: starting an instance
// costs more than most of them). Use says which test a call's failure is
// reported to; release frees the instance.
func NewSharedGuest(module []byte) (g *Guest, release func(), err error) {
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: filepath.Join(os.TempDir(), "kubeshark-test-wazero-cache")})
	if err != nil {
		return nil, nil, err
	}
	mod, err := rt.Load(ctx, "test", module)
	if err != nil {
		rt.Close(ctx)
		return nil, nil, err
	}
	g = &Guest{outs: map[uint64]sdk.Emitter{}}
	if g.inst, err = mod.NewInstance(ctx, guestSink{g}); err != nil {
		rt.Close(ctx)
		return nil, nil, err
	}
	return g, func() { g.inst.Destroy(ctx); rt.Close(ctx) }, nil
}

// Use makes tb the test that the guest's failures are reported to. Tests
// that share a guest must not run in parallel.
func (g *Guest) Use(tb testing.TB) { g.tb = tb }

// SharedBuiltin is the guest of a built-in dissector's module (Wasm) that
// the tests of one package and a fuzzer's runs share: starting an instance
// costs more than most of them. The first Get starts it; it is released
// when the test process exits. Tests that share it must not run in
// parallel.
type SharedBuiltin struct {
	Name string // the built-in, as Wasm names it: "http1", "dns"

	once  sync.Once
	guest *Guest
	err   error
}

// Get returns the shared guest with tb as the test its failures are
// reported to, starting it on the first call.
func (s *SharedBuiltin) Get(tb testing.TB) *Guest {
	tb.Helper()
	mod := Wasm(tb, s.Name)
	s.once.Do(func() {
		if s.guest, _, s.err = NewSharedGuest(mod); s.err != nil {
			s.err = fmt.Errorf("starting the built-in %s: %w", s.Name, s.err)
		}
	})
	if s.err != nil {
		tb.Fatal(s.err)
	}
	s.guest.Use(tb)
	return s.guest
}

type guestSink struct{ g *Guest }

func (s guestSink) Record(conn uint64, r *sdk.Record) {
	if !s.g.RawFields {
		if err := r.DecodeFields(); err != nil {
			s.g.tb.Errorf("guest record: %v", err)
		}
	}
	if out := s.g.outs[conn]; out != nil {
		out.Emit(r)
	}
}

func (guestSink) TakesEncodedFields() bool { return true }

func (s guestSink) Switch(conn uint64, hint string) {
	if out := s.g.outs[conn]; out != nil {
		out.Switch(hint)
	}
}

// Probe asks the module.
func (g *Guest) Probe(dir sdk.Direction, data []byte) sdk.Probe {
	p, err := g.inst.Probe(context.Background(), dir, data)
	if err != nil {
		g.tb.Errorf("guest probe: %v", err)
	}
	return p
}

// Manifest is not asked of a Guest; tests read the module's with the runtime.
func (g *Guest) Manifest() sdk.Manifest { return sdk.Manifest{} }

// Open starts a connection of the instance with a fresh id.
func (g *Guest) Open(info sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	g.mu.Lock()
	g.next++
	id := g.next
	g.mu.Unlock()
	info.ID = id
	g.outs[id] = out
	if err := g.inst.Open(context.Background(), info); err != nil {
		g.tb.Errorf("guest open: %v", err)
	}
	return &guestConn{g: g, id: id}
}

type guestConn struct {
	g  *Guest
	id uint64
}

func (c *guestConn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	n, need, err := c.g.inst.Feed(context.Background(), c.id, dir, data, first, last)
	if err != nil {
		c.g.tb.Errorf("guest feed: %v", err)
		return -1, 0
	}
	return n, need
}

func (c *guestConn) Gap(dir sdk.Direction, n int, ts int64) {
	if err := c.g.inst.Gap(context.Background(), c.id, dir, n, ts); err != nil {
		c.g.tb.Errorf("guest gap: %v", err)
	}
}

func (c *guestConn) Close(ts int64) {
	if err := c.g.inst.Close(context.Background(), c.id, ts); err != nil {
		c.g.tb.Errorf("guest close: %v", err)
	}
	delete(c.g.outs, c.id)
}

// ErrNoClang says that the C toolchain for wasm32-wasi is not installed.
var ErrNoClang = errors.New("clang for wasm32-wasi not installed (make deps)")

// CModule builds a C dissector with the C SDK, as the Makefile's wasm-c
// target does, and returns the module; it skips the test when clang and
// wasi-libc are missing.
func CModule(tb testing.TB, src string) []byte {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "module.wasm")
	if err := BuildC(filepath.Join(repoRoot(), src), out); err != nil {
		if errors.Is(err, ErrNoClang) {
			tb.Skip(err)
		}
		tb.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// FreshCModule holds a committed C module (committed, relative to the
// test's directory) to a fresh build of its source (src, relative to the
// module root) with BuildC's fixed command; with update it writes the
// fresh build over the committed one instead (make wasm-c). It skips
// where clang, wasi-libc and binaryen are missing.
func FreshCModule(t *testing.T, src, committed string, update bool) {
	t.Helper()
	fresh := CModule(t, src)
	if update {
		if err := os.WriteFile(committed, fresh, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(committed)
	if err != nil {
		t.Fatalf("%v (make wasm-c generates it)", err)
	}
	if !bytes.Equal(old, fresh) {
		t.Fatalf("%s (%d bytes) differs from a fresh build of %s (%d bytes): run make wasm-c and commit it", committed, len(old), src, len(fresh))
	}
}

// FreshFiles holds generated files (path, relative to the test's
// directory, to the contents the test generates now) to what is committed;
// with update it writes them instead (make wasm-c). A table generated from
// the Go toolchain's Unicode data goes stale with a newer Go.
func FreshFiles(t *testing.T, files map[string][]byte, update bool) {
	t.Helper()
	for path, fresh := range files {
		if update {
			if err := os.WriteFile(path, fresh, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, fresh) {
			t.Fatalf("%s is not the table this Go toolchain generates (%v): run make wasm-c and commit it", path, err)
		}
	}
}

// BuildC compiles one C source with the C SDK (sdk/c) to a wasm32-wasi
// reactor at out: clang -O2 with bulk memory, then binaryen's wasm-opt -O3
// keeping the name section (a trap's stack trace names the functions) and
// dropping DWARF and the producers section, so that the bytes depend only
// on the source and the two tools' versions, not on paths or the machine.
func BuildC(src, out string) error {
	cc := ""
	for _, name := range []string{"clang-14", "clang"} {
		if p, err := exec.LookPath(name); err == nil {
			cc = p
			break
		}
	}
	if _, err := os.Stat("/usr/lib/wasm32-wasi/libc.a"); cc == "" || err != nil {
		return ErrNoClang
	}
	cmd := exec.Command(cc, "--target=wasm32-wasi", "-O2", "-mbulk-memory", "-mexec-model=reactor", "-Wall", "-Werror",
		"-I", filepath.Join(repoRoot(), "sdk", "c"), "-o", out, src)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("clang %s: %w\n%s", src, err, msg)
	}
	wo, err := exec.LookPath("wasm-opt")
	if err != nil {
		return fmt.Errorf("wasm-opt (binaryen) not installed: %w", ErrNoClang)
	}
	cmd = exec.Command(wo, "-O3", "-g", "--strip-dwarf", "--strip-producers", out, "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("wasm-opt %s: %w\n%s", out, err, msg)
	}
	return nil
}

// Builtin loads the built-in dissector in dissectors/<name> (Wasm) into a
// runtime of its own, as the host runs it, for tests of other packages
// that need a real dissector; the runtime is closed when the test ends.
// Every instance the pipeline makes of it is fresh, so tests share
// nothing through it.
func Builtin(tb testing.TB, name string) engine.Dissector {
	tb.Helper()
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: filepath.Join(os.TempDir(), "kubeshark-test-wazero-cache")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rt.Close(ctx) })
	m, err := rt.Load(ctx, "built-in", Wasm(tb, name))
	if err != nil {
		tb.Fatalf("loading built-in %s: %v", name, err)
	}
	return m
}
