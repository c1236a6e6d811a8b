package wasm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/dissectors/http1"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

const httpExchangeReq = "GET /api/items/7 HTTP/1.1\r\nHost: api\r\n\r\n"

// exchange opens a connection on in and feeds it one HTTP exchange.
func exchange(t *testing.T, in engine.Instance) {
	t.Helper()
	ctx := context.Background()
	if err := in.Open(ctx, sdk.ConnInfo{ID: 1, Oriented: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := in.Feed(ctx, 1, sdk.DirA, []byte(httpExchangeReq), 1, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := in.Feed(ctx, 1, sdk.DirB, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 2, 2); err != nil {
		t.Fatal(err)
	}
}

// A second runtime over the same cache directory (another process, a new
// data directory) takes the manifest from the cache and compiles nothing
// until the module is probed.
func TestCacheDefersCompileToFirstUse(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	code := dissectortest.Wasm(t, "http1")
	first, err := newRuntime(t, wasm.Config{CacheDir: dir}).Load(ctx, "built-in", code)
	if err != nil {
		t.Fatal(err)
	}
	if !wasm.Compiled(first) {
		t.Fatal("a module missing from the cache was not compiled at load")
	}
	rt := newRuntime(t, wasm.Config{CacheDir: dir})
	mod, err := rt.Load(ctx, "built-in", code)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mod.Manifest(), first.Manifest()) {
		t.Fatalf("cached manifest %+v, compiled one %+v", mod.Manifest(), first.Manifest())
	}
	s := &sink{}
	in, err := mod.NewInstance(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy(ctx)
	if wasm.Compiled(mod) || wasm.Instances(rt) != 0 {
		t.Fatalf("compiled %v with %d instances before any use", wasm.Compiled(mod), wasm.Instances(rt))
	}
	p, err := in.Probe(ctx, sdk.DirA, []byte(httpExchangeReq))
	if err != nil {
		t.Fatal(err)
	}
	if p.Confidence < 50 || !wasm.Compiled(mod) {
		t.Fatalf("probe %+v, compiled %v", p, wasm.Compiled(mod))
	}
	exchange(t, in)
	if len(s.recs) != 1 || s.recs[0].Status != 200 {
		t.Fatalf("records %+v", s.recs)
	}
}

// Every worker has an instance per module, but only the ones that open a
// connection start theirs; probes share one instance per module.
func TestInstancesStartOnFirstConnection(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, wasm.Config{})
	mod, err := rt.Load(ctx, "built-in", dissectortest.Wasm(t, "http1"))
	if err != nil {
		t.Fatal(err)
	}
	var ins []engine.Instance
	for range 4 {
		in, err := mod.NewInstance(ctx, &sink{})
		if err != nil {
			t.Fatal(err)
		}
		defer in.Destroy(ctx)
		if _, err := in.Probe(ctx, sdk.DirA, []byte(httpExchangeReq)); err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in)
	}
	if n := wasm.Instances(rt); n != 1 {
		t.Fatalf("%d instances after probing from 4 workers, want the 1 shared prober", n)
	}
	exchange(t, ins[2])
	if n := wasm.Instances(rt); n != 2 {
		t.Fatalf("%d instances after one connection, want 2", n)
	}
	ins[2].Destroy(ctx)
	if n := wasm.Instances(rt); n != 1 {
		t.Fatalf("%d instances after destroying it, want 1", n)
	}
}

// A probe that traps kills the shared prober, counts a fault, and the next
// probe starts a fresh one.
func TestSharedProberFaultsAndRestarts(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, wasm.Config{QuarantineAfter: 3})
	mod, err := rt.Load(ctx, "trap", hostile(t, map[string]string{"PROBE": "unreachable"}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		in, err := mod.NewInstance(ctx, &sink{})
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		if _, err := in.Probe(ctx, sdk.DirA, []byte("x")); !errors.Is(err, engine.ErrFault) {
			t.Fatalf("probe %d: %v, want a fault", i, err)
		}
		in.Destroy(ctx)
		if h := mod.Health(); h.Faults != i {
			t.Fatalf("after probe %d: %+v", i, h)
		}
	}
	if _, err := mod.NewInstance(ctx, &sink{}); !errors.Is(err, engine.ErrQuarantined) {
		t.Fatalf("after 3 faults: %v, want quarantine", err)
	}
	if n := wasm.Instances(rt); n != 0 {
		t.Fatalf("%d instances left running", n)
	}
}

// Torn or altered cache entries are ignored: the module compiles from what
// it was given and the entries are rewritten.
func TestCacheIgnoresDamagedEntries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	code := dissectortest.Wasm(t, "http1")
	if _, err := newRuntime(t, wasm.Config{CacheDir: dir}).Load(ctx, "built-in", code); err != nil {
		t.Fatal(err)
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "kubeshark-*", "*"))
	if len(entries) != 2 {
		t.Fatalf("cache entries %v, want a manifest and an instrumented module", entries)
	}
	for _, e := range entries {
		b, _ := os.ReadFile(e)
		if strings.HasSuffix(e, ".json") {
			b = []byte(`{"name": ""}`)
		} else {
			b[len(b)/2] ^= 0xff
		}
		if err := os.WriteFile(e, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rt := newRuntime(t, wasm.Config{CacheDir: dir})
	mod, err := rt.Load(ctx, "built-in", code)
	if err != nil {
		t.Fatal(err)
	}
	if mod.Manifest().Name != "http" || !wasm.Compiled(mod) {
		t.Fatalf("manifest %+v, compiled %v", mod.Manifest(), wasm.Compiled(mod))
	}
	in, err := mod.NewInstance(ctx, &sink{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy(ctx)
	exchange(t, in)
	again, err := newRuntime(t, wasm.Config{CacheDir: dir}).Load(ctx, "built-in", code)
	if err != nil || wasm.Compiled(again) {
		t.Fatalf("after the rewrite: %v, compiled at load %v", err, again != nil && wasm.Compiled(again))
	}
}

// Processes starting together over an empty cache all load their modules.
func TestCacheSharedByConcurrentRuntimes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	code := dissectortest.Wasm(t, "dns")
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: dir})
			if err != nil {
				errs[i] = err
				return
			}
			defer rt.Close(ctx)
			mod, err := rt.Load(ctx, "built-in", code)
			if err == nil && mod.Manifest().Name != "dns" {
				err = errors.New("manifest " + mod.Manifest().Name)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "*", "*.tmp")); len(tmp) > 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}

// A module loaded with the manifest its host already knows (a built-in)
// compiles nothing until it is probed, with no cache at all; a bad
// manifest is refused at load, and code that does not compile is
// quarantined at its first use instead.
func TestLoadDescribedCompilesOnFirstUse(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, wasm.Config{})
	manifest := http1.Manifest()
	mod, err := rt.LoadDescribed(ctx, "built-in", dissectortest.Wasm(t, "http1"), manifest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if wasm.Compiled(mod) || !reflect.DeepEqual(mod.Manifest(), manifest) {
		t.Fatalf("compiled %v at load; manifest %+v", wasm.Compiled(mod), mod.Manifest())
	}
	s := &sink{}
	in, err := mod.NewInstance(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy(ctx)
	if p, err := in.Probe(ctx, sdk.DirA, []byte(httpExchangeReq)); err != nil || p.Confidence < 50 || !wasm.Compiled(mod) {
		t.Fatalf("probe %+v, %v, compiled %v", p, err, wasm.Compiled(mod))
	}
	exchange(t, in)
	if len(s.recs) != 1 || s.recs[0].Status != 200 {
		t.Fatalf("records %+v", s.recs)
	}

	if _, err := rt.LoadDescribed(ctx, "built-in", dissectortest.Wasm(t, "http1"), sdk.Manifest{Name: "x"}, nil); !errors.Is(err, wasm.ErrLoad) {
		t.Errorf("a manifest without version or protocols: %v, want ErrLoad", err)
	}
	bad, err := rt.LoadDescribed(ctx, "built-in", []byte("\x00asm not really"), manifest, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantQuarantinedAtProbe(ctx, t, bad, "a module that does not compile")
}

// LoadDescribedFunc reads a module's code only when it first compiles,
// once; a module never used is never read, and a read that fails
// quarantines the module at its first use, as code that does not compile
// does.
func TestLoadDescribedFuncReadsOnFirstUse(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, wasm.Config{})
	manifest := http1.Manifest()
	code := dissectortest.Wasm(t, "http1")
	reads := 0
	mod, err := rt.LoadDescribedFunc(ctx, "built-in", func() ([]byte, error) { reads++; return code, nil }, manifest, nil)
	if err != nil {
		t.Fatal(err)
	}
	// With a prefilter that rules everything out, as a built-in for
	// other traffic has (without one, the first stream would compile it
	// in the background).
	none := func(sdk.Direction, []byte) sdk.Probe { return sdk.Probe{} }
	unused, err := rt.LoadDescribedFunc(ctx, "built-in", func() ([]byte, error) { t.Error("an unused module was read"); return nil, nil }, manifest, none)
	if err != nil {
		t.Fatal(err)
	}
	if reads != 0 || wasm.Compiled(mod) {
		t.Fatalf("at load: %d reads, compiled %v", reads, wasm.Compiled(mod))
	}
	s := &sink{}
	in, err := mod.NewInstance(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy(ctx)
	if p, err := in.Probe(ctx, sdk.DirA, []byte(httpExchangeReq)); err != nil || p.Confidence < 50 {
		t.Fatalf("probe %+v, %v", p, err)
	}
	exchange(t, in)
	if len(s.recs) != 1 || s.recs[0].Status != 200 || reads != 1 {
		t.Fatalf("records %+v, %d reads; want one record and one read", s.recs, reads)
	}
	if err := unused.Close(ctx); err != nil {
		t.Fatal(err)
	}

	errRead := errors.New("the embedded file is gone")
	bad, err := rt.LoadDescribedFunc(ctx, "built-in", func() ([]byte, error) { return nil, errRead }, manifest, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantQuarantinedAtProbe(ctx, t, bad, "a module whose code cannot be read")
}

// A prefilter that rules a stream out keeps the module from compiling; one
// that lets it through, or panics, leaves the answer to the module.
func TestPrefilterRulesOutWithoutCompiling(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, wasm.Config{})
	calls := 0
	mod, err := rt.LoadDescribed(ctx, "built-in", dissectortest.Wasm(t, "http1"), http1.Manifest(), func(dir sdk.Direction, data []byte) sdk.Probe {
		calls++
		if string(data) == "panic" {
			panic("prefilter bug")
		}
		// HTTP/1 starts with a method or "HTTP/": a letter.
		if len(data) > 0 && data[0] >= 'A' && data[0] <= 'Z' {
			return sdk.Probe{Confidence: 10, NeedMore: true}
		}
		return sdk.Probe{}
	})
	if err != nil {
		t.Fatal(err)
	}
	in, err := mod.NewInstance(ctx, &sink{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy(ctx)
	for _, data := range []string{"\x16\x03\x01\x02\x00\x01", "*1\r\n$4\r\nPING\r\n"} {
		if p, err := in.Probe(ctx, sdk.DirA, []byte(data)); err != nil || p != (sdk.Probe{}) {
			t.Errorf("probe %q: %+v, %v; want nothing", data, p, err)
		}
	}
	if wasm.Compiled(mod) || wasm.Instances(rt) != 0 || calls != 2 {
		t.Fatalf("after streams the prefilter rules out: compiled %v, %d instances, %d prefilter calls", wasm.Compiled(mod), wasm.Instances(rt), calls)
	}
	// A panic rules nothing out: the module is asked, and says no.
	if p, err := in.Probe(ctx, sdk.DirA, []byte("panic")); err != nil || p.Confidence != 0 || !wasm.Compiled(mod) {
		t.Fatalf("probe after a prefilter panic: %+v, %v, compiled %v", p, err, wasm.Compiled(mod))
	}
	if p, err := in.Probe(ctx, sdk.DirA, []byte(httpExchangeReq)); err != nil || p.Confidence < 50 {
		t.Fatalf("probe of a request: %+v, %v", p, err)
	}
}

// A module's bound is its prefilter's answer, known without compiling it;
// without a prefilter, or when it panics, it is 100.
func TestProbeBoundIsThePrefilters(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, wasm.Config{})
	// A prefilter written here: HTTP/1 starts with a method or "HTTP/".
	prefilter := func(dir sdk.Direction, data []byte) sdk.Probe {
		if len(data) > 0 && data[0] >= 'A' && data[0] <= 'Z' {
			return sdk.Probe{Confidence: 60, NeedMore: true}
		}
		return sdk.Probe{}
	}
	with, err := rt.LoadDescribed(ctx, "built-in", dissectortest.Wasm(t, "http1"), http1.Manifest(), func(dir sdk.Direction, data []byte) sdk.Probe {
		if string(data) == "panic" {
			panic("prefilter bug")
		}
		return prefilter(dir, data)
	})
	if err != nil {
		t.Fatal(err)
	}
	without, err := rt.LoadDescribed(ctx, "built-in", dissectortest.Wasm(t, "http1"), http1.Manifest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	bound := func(m *wasm.Module, data string) uint8 {
		in, err := m.NewInstance(ctx, &sink{})
		if err != nil {
			t.Fatal(err)
		}
		defer in.Destroy(ctx)
		b, ok := in.(engine.ProbeBounder)
		if !ok {
			t.Fatalf("%T is not an engine.ProbeBounder", in)
		}
		return b.ProbeBound(sdk.DirA, []byte(data))
	}
	want := prefilter(sdk.DirA, []byte(httpExchangeReq)).Confidence
	for _, c := range []struct {
		m    *wasm.Module
		data string
		want uint8
	}{
		{with, httpExchangeReq, want},
		{with, "\x16\x03\x01\x02\x00\x01", 0},
		{with, "panic", 100},
		{without, "\x16\x03\x01\x02\x00\x01", 100},
	} {
		if got := bound(c.m, c.data); got != c.want {
			t.Errorf("bound on %q = %d, want %d", c.data, got, c.want)
		}
	}
	if wasm.Compiled(with) || wasm.Compiled(without) {
		t.Fatal("bounds compiled a module")
	}
}

// wantQuarantinedAtProbe probes a new instance of mod, whose code is
// unusable, and wants a fault and the module quarantined.
func wantQuarantinedAtProbe(ctx context.Context, t *testing.T, mod *wasm.Module, what string) {
	t.Helper()
	in, err := mod.NewInstance(ctx, &sink{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Probe(ctx, sdk.DirA, []byte(httpExchangeReq)); !errors.Is(err, engine.ErrFault) || !mod.Health().Quarantined {
		t.Errorf("probing %s: %v, health %+v; want a fault and quarantine", what, err, mod.Health())
	}
}
