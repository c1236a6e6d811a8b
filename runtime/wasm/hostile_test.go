package wasm_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// hostile assembles testdata/hostile.wat.tmpl with the given behaviour.
// It needs wat2wasm from wabt (make test installs it on Debian).
func hostile(t *testing.T, parts map[string]string) []byte {
	t.Helper()
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Skip("wat2wasm (Debian package wabt) is not installed: hostile WAT modules cannot be assembled; `make deps` installs it")
	}
	tmpl, err := os.ReadFile("testdata/hostile.wat.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[string]string{
		"IMPORTS": "", "MARKER": "kubeshark_abi_v1", "INIT": "", "MAXMEM": "",
		"PROBE": "(i32.const 100)", "FEED": "(i64.extend_i32_u (local.get $len))",
	}
	for k, v := range parts {
		defaults[k] = v
	}
	src := string(tmpl)
	for k, v := range defaults {
		src = strings.ReplaceAll(src, "{{"+k+"}}", v)
	}
	dir := t.TempDir()
	wat, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(wat, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("wat2wasm", wat, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newRuntime(t *testing.T, cfg wasm.Config) *wasm.Runtime {
	t.Helper()
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	return rt
}

// feedOnce opens a connection on a fresh instance and feeds it once.
func feedOnce(t *testing.T, mod *wasm.Module) (*sink, error) {
	t.Helper()
	ctx := context.Background()
	s := &sink{}
	in, err := mod.NewInstance(ctx, s)
	if err != nil {
		return s, err
	}
	defer in.Destroy(ctx)
	if err := in.Open(ctx, sdk.ConnInfo{ID: 1, Oriented: true}); err != nil {
		return s, err
	}
	_, _, err = in.Feed(ctx, 1, sdk.DirA, []byte("hello"), 1, 1)
	return s, err
}

const inflateImport = `(import "kubeshark" "inflate" (func $inflate (param i32 i32 i32 i32 i32) (result i32)))`

func TestHostileGuestsAreContained(t *testing.T) {
	flood := `(loop $l (call $emit (i32.const 1) (i32.const 512) (i32.const 21)) (br $l)) (i64.const 0)`
	for _, tc := range []struct {
		name  string
		parts map[string]string
		cfg   wasm.Config
		want  string // in the fault message
	}{
		{"infinite loop", map[string]string{"FEED": "(loop $l (br $l)) (i64.const 0)"}, wasm.Config{CallTimeout: 200 * time.Millisecond}, "deadline"},
		{"trap", map[string]string{"FEED": "unreachable"}, wasm.Config{}, "unreachable"},
		{"record flood", map[string]string{"FEED": flood}, wasm.Config{MaxRecordsPerCall: 1000}, "more than 1000 records"},
		{"bad record", map[string]string{"FEED": "(call $emit (i32.const 1) (i32.const 0) (i32.const 40)) (i64.const 0)"}, wasm.Config{}, "bad record"},
		{"emit outside memory", map[string]string{"FEED": "(call $emit (i32.const 1) (i32.const 0x7ffffff0) (i32.const 64)) (i64.const 0)"}, wasm.Config{}, "outside guest memory"},
		{"unknown emit kind", map[string]string{"FEED": "(call $emit (i32.const 99) (i32.const 0) (i32.const 1)) (i64.const 0)"}, wasm.Config{}, "unknown kind"},
		{"inflate source outside memory", map[string]string{"IMPORTS": inflateImport, "FEED": "(drop (call $inflate (i32.const 1) (i32.const 0x7ffffff0) (i32.const 64) (i32.const 0) (i32.const 16))) (i64.const 0)"}, wasm.Config{}, "outside guest memory"},
		{"inflate destination outside memory", map[string]string{"IMPORTS": inflateImport, "FEED": "(drop (call $inflate (i32.const 1) (i32.const 4096) (i32.const 5) (i32.const 0x7ffffff0) (i32.const 4096))) (i64.const 0)"}, wasm.Config{}, "outside guest memory"},
		{"consumes more than offered", map[string]string{"FEED": "(i64.const 1000000)"}, wasm.Config{}, "consumed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRuntime(t, tc.cfg)
			mod, err := rt.Load(context.Background(), tc.name, hostile(t, tc.parts))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = feedOnce(t, mod)
			if !errors.Is(err, engine.ErrFault) {
				t.Fatalf("err = %v, want a fault", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("fault %q does not mention %q", err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("containment took %s", d)
			}
			if h := mod.Health(); h.Faults != 1 || h.Quarantined {
				t.Fatalf("health after one fault: %+v", h)
			}
		})
	}
}

func TestMemoryGrowthIsCapped(t *testing.T) {
	// The guest grows memory until the host refuses, then reports how many
	// pages it got as the consumed count: the host must have stopped it at
	// the cap (8 MiB = 128 pages; it starts with 8).
	grow := `(local $n i32)
	  (block $done (loop $l
	    (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
	    (local.set $n (i32.add (local.get $n) (i32.const 1)))
	    (br $l)))
	  (i64.extend_i32_u (memory.size))`
	rt := newRuntime(t, wasm.Config{MemoryLimitMiB: 8})
	mod, err := rt.Load(context.Background(), "grow", hostile(t, map[string]string{"FEED": grow}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = feedOnce(t, mod)
	// memory.size (128) exceeds the 5 bytes offered, so the host faults the
	// instance for over-consuming, which proves the guest saw the cap.
	if err == nil || !strings.Contains(err.Error(), "consumed 128 of 5") {
		t.Fatalf("err = %v, want the guest to stop at 128 pages", err)
	}
}

func TestGoGuestOutOfMemoryIsContained(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	code := dissectortest.BuildDir(t, "runtime/wasm/testdata/oom")
	rt := newRuntime(t, wasm.Config{MemoryLimitMiB: 64, CallTimeout: 10 * time.Second})
	mod, err := rt.Load(context.Background(), "oom", code)
	if err != nil {
		t.Fatal(err)
	}
	_, err = feedOnce(t, mod)
	if !errors.Is(err, engine.ErrFault) {
		t.Fatalf("err = %v, want a fault", err)
	}
	t.Logf("contained: %v", err)
}

func TestRepeatedFaultsQuarantine(t *testing.T) {
	rt := newRuntime(t, wasm.Config{QuarantineAfter: 3})
	mod, err := rt.Load(context.Background(), "trap", hostile(t, map[string]string{"FEED": "unreachable"}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := feedOnce(t, mod); !errors.Is(err, engine.ErrFault) {
			t.Fatalf("feed %d: %v", i, err)
		}
	}
	h := mod.Health()
	if !h.Quarantined || h.Faults != 3 {
		t.Fatalf("health %+v, want quarantined after 3 faults", h)
	}
	if _, err := mod.NewInstance(context.Background(), &sink{}); !errors.Is(err, engine.ErrQuarantined) {
		t.Fatalf("NewInstance after quarantine: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		code  func(t *testing.T) []byte
		isABI bool
		want  string
	}{
		{"not wasm", func(*testing.T) []byte { return []byte("hello world") }, false, "not a valid WebAssembly module"},
		{"newer ABI", func(t *testing.T) []byte { return hostile(t, map[string]string{"MARKER": "kubeshark_abi_v2"}) }, true, "built for ABI v2, this host speaks v1"},
		{"no marker", func(t *testing.T) []byte { return hostile(t, map[string]string{"MARKER": "something_else"}) }, true, "does not export kubeshark_abi_v1"},
		{"unknown host import", func(t *testing.T) []byte {
			return hostile(t, map[string]string{"IMPORTS": `(import "kubeshark" "open_socket" (func $sock (param i32)))`})
		}, false, "open_socket"},
		{"wasi filesystem import is there but useless", nil, false, ""},
		{"initialiser loops", func(t *testing.T) []byte { return hostile(t, map[string]string{"INIT": "(loop $l (br $l))"}) }, false, "deadline"},
	} {
		if tc.code == nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			rt := newRuntime(t, wasm.Config{CallTimeout: 300 * time.Millisecond})
			_, err := rt.Load(ctx, "m.wasm", tc.code(t))
			if err == nil {
				t.Fatal("loaded")
			}
			if !errors.Is(err, wasm.ErrLoad) || errors.Is(err, wasm.ErrABI) != tc.isABI {
				t.Fatalf("err = %v (ErrLoad %v, ErrABI %v)", err, errors.Is(err, wasm.ErrLoad), errors.Is(err, wasm.ErrABI))
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "m.wasm") {
				t.Fatalf("error %q should name the module and say %q", err, tc.want)
			}
		})
	}
}

func TestFaultDoesNotAffectOtherInstances(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, wasm.Config{})
	bad, err := rt.Load(ctx, "trap", hostile(t, map[string]string{"FEED": "unreachable"}))
	if err != nil {
		t.Fatal(err)
	}
	good, err := rt.Load(ctx, "built-in", dissectortest.Wasm(t, "http1"))
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	in, err := good.NewInstance(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy(ctx)
	if err := in.Open(ctx, sdk.ConnInfo{ID: 1, Oriented: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := feedOnce(t, bad); err == nil {
		t.Fatal("hostile guest did not fault")
	}
	if _, _, err := in.Feed(ctx, 1, sdk.DirA, []byte("GET / HTTP/1.1\r\n\r\n"), 1, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := in.Feed(ctx, 1, sdk.DirB, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 2, 2); err != nil {
		t.Fatal(err)
	}
	if len(s.recs) != 1 || s.recs[0].Status != 200 {
		t.Fatalf("healthy instance records: %+v", s.recs)
	}
}

// A guest whose probe claims every connection with confidence 100, beside
// the built-in HTTP dissector, over a capture of real HTTP traffic: when
// its feed traps or loops, each connection it faulted on is detected again
// without it and every exchange still becomes a record (issue 13 measured
// 8 of 30 lost); when it only contests the built-in's claim, the built-in
// wins the tie and the plugin is reported.
func TestGreedyGuestCostsOnlyItself(t *testing.T) {
	var buf bytes.Buffer
	want, err := synth.HTTPSample(context.Background(), &buf, 30)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		parts     map[string]string
		cfg       wasm.Config
		kind      string
		contested bool
	}{
		{"trap", map[string]string{"FEED": "unreachable"}, wasm.Config{}, "fault", false},
		{"loop", map[string]string{"FEED": "(loop $l (br $l)) (i64.const 0)"}, wasm.Config{CallTimeout: 100 * time.Millisecond}, "fault", false},
		// Claims what the built-in claims, with its confidence (90).
		{"contest", map[string]string{"PROBE": "(i32.const 90)"}, wasm.Config{}, "contested", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rt := newRuntime(t, tc.cfg)
			greedy, err := rt.Load(ctx, "plugin sha256:0123 from hostile.wasm", hostile(t, tc.parts))
			if err != nil {
				t.Fatal(err)
			}
			http, err := rt.Load(ctx, "built-in", dissectortest.Wasm(t, "http1"))
			if err != nil {
				t.Fatal(err)
			}
			src, err := capture.NewSource("http.pcap", bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			sink := &recSink{}
			// The plugin first: it is asked before the built-in.
			st, err := pipeline.New(pipeline.Config{Workers: 2}, []engine.Dissector{greedy, http}, sink).Run(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			if st.Records != int64(want.Requests) {
				t.Fatalf("%d records of %d exchanges with a greedy %s guest loaded (redetected %d, dropped %d, errors %+v)", st.Records, want.Requests, tc.name, st.Redetected, st.DroppedAfterFault, st.ErrorsByDissector)
			}
			e := st.ErrorsByDissector["hostile"]
			found := false
			for _, x := range e.Examples {
				found = found || x.Kind == tc.kind
			}
			if !found {
				t.Fatalf("the guest's %s is not reported against it: %+v", tc.kind, e)
			}
			// Confidence 100 outbids the built-in's 90: also a contest.
			if st.Contested == 0 {
				t.Fatalf("contested %d", st.Contested)
			}
			if !tc.contested && greedy.Health().Faults == 0 {
				t.Fatal("no fault counted")
			}
		})
	}
}

type recSink struct {
	mu sync.Mutex
	n  int
}

func (s *recSink) Put(_ context.Context, recs []*sdk.Record) error {
	s.mu.Lock()
	s.n += len(recs)
	s.mu.Unlock()
	return nil
}

// The interpreter keeps wazero's own context check, so its instances'
// contexts must be cancellable (the compiler's need not be): a loop under
// the interpreter is stopped by the deadline too.
func TestInterpreterLoopMeetsTheDeadline(t *testing.T) {
	rt := newRuntime(t, wasm.Config{CallTimeout: 200 * time.Millisecond, Interpreter: true})
	mod, err := rt.Load(context.Background(), "loop", hostile(t, map[string]string{"FEED": "(loop $l (br $l)) (i64.const 0)"}))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = feedOnce(t, mod)
	if !errors.Is(err, engine.ErrFault) || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("err = %v, want a deadline fault", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("containment took %s", d)
	}
}
