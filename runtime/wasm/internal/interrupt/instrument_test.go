package interrupt_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/kubeshark-wasm/kubeshark/dissectors"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm/internal/interrupt"
)

// wat assembles WebAssembly text with wat2wasm (Debian package wabt, which
// `make deps` installs).
func wat(t testing.TB, src string) []byte {
	t.Helper()
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Skip("wat2wasm (Debian package wabt) is not installed: test modules cannot be assembled; `make deps` installs it")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("wat2wasm", "--enable-all", in, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func instantiate(t testing.TB, ctx context.Context, code []byte) (wazero.Runtime, api.Module) {
	t.Helper()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Instantiate(ctx, code)
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	return rt, mod
}

// Every construct whose immediates the rewrite must step over, and loops in
// the places a check goes: the instrumented module must compute exactly
// what the original does.
var programs = []struct {
	name, src string
	args      []uint64
}{
	{"counted loop", `(func (export "run") (param $n i32) (result i32) (local $s i32)
	  (block $done (loop $l
	    (br_if $done (i32.eqz (local.get $n)))
	    (local.set $s (i32.add (local.get $s) (local.get $n)))
	    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
	    (br $l)))
	  (local.get $s))`, []uint64{1000}},
	{"nested loops with typed blocks and br_table", `(type $t (func (param i32) (result i32)))
	  (func (export "run") (param $n i32) (result i32) (local $i i32) (local $acc i64)
	  (loop $outer
	    (local.set $acc (i64.add (local.get $acc) (i64.const 0x123456789)))
	    (block $a (block $b (block $c
	      (br_table $a $b $c (i32.rem_u (local.get $i) (i32.const 3))))
	      (local.set $acc (i64.mul (local.get $acc) (i64.const 3))))
	      (local.set $acc (i64.xor (local.get $acc) (i64.const -1))))
	    (local.set $i (i32.add (local.get $i) (i32.const 1)))
	    (br_if $outer (i32.lt_u (local.get $i) (local.get $n))))
	  (i32.wrap_i64 (local.get $acc)))`, []uint64{100}},
	{"loop with a type-index block type", `(type $pair (func (param i32) (result i32 i32)))
	  (func (export "run") (param $n i32) (result i32)
	  (local.get $n)
	  (loop $l (type $pair) (param i32) (result i32 i32)
	    (i32.add (i32.const 1))
	    (local.tee $n)
	    (br_if $l (i32.lt_u (local.get $n) (i32.const 50)))
	    (i32.const 7))
	  (i32.add))`, []uint64{3}},
	{"calls, indirect calls, recursion and globals", `(global $g (mut i32) (i32.const 5))
	  (global $k i64 (i64.const 9))
	  (table 2 funcref) (elem (i32.const 0) $fib $dbl)
	  (type $u (func (param i32) (result i32)))
	  (func $fib (param $n i32) (result i32)
	    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
	      (then (local.get $n))
	      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
	                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
	  (func $dbl (param $n i32) (result i32) (i32.shl (local.get $n) (i32.const 1)))
	  (func (export "run") (param $n i32) (result i32)
	    (global.set $g (i32.add (global.get $g) (i32.wrap_i64 (global.get $k))))
	    (i32.add (global.get $g)
	      (i32.add (call_indirect (type $u) (local.get $n) (i32.const 0))
	               (call_indirect (type $u) (local.get $n) (i32.const 1)))))`, []uint64{15}},
	{"memory, bulk memory, typed select and floats", `(memory 1) (data $d "hello, world")
	  (func (export "run") (param $n i32) (result i32)
	    (memory.init $d (i32.const 100) (i32.const 0) (i32.const 12))
	    (memory.fill (i32.const 200) (i32.const 7) (local.get $n))
	    (memory.copy (i32.const 300) (i32.const 100) (i32.const 12))
	    (drop (memory.grow (i32.const 1)))
	    (i32.add (i32.load8_u offset=304 (i32.const 0))
	      (i32.add (i32.load16_s align=1 (i32.const 205))
	        (i32.add (memory.size)
	          (select (result i32)
	            (i32.trunc_sat_f64_s (f64.mul (f64.const 2.5) (f64.convert_i32_u (local.get $n))))
	            (i32.trunc_f32_u (f32.const 3.75))
	            (i32.extend8_s (local.get $n)))))))`, []uint64{20}},
	{"SIMD", `(func (export "run") (param $n i32) (result i32) (local $v v128)
	  (local.set $v (v128.const i32x4 1 2 3 4))
	  (loop $l
	    (local.set $v (i32x4.add (local.get $v) (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $v) (local.get $v))))
	    (local.set $v (i32x4.replace_lane 2 (local.get $v) (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32.const 1))))
	    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
	    (br_if $l (local.get $n)))
	  (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 3 (local.get $v))))`, []uint64{10}},
}

func TestInstrumentKeepsBehaviour(t *testing.T) {
	ctx := context.Background()
	for _, p := range programs {
		t.Run(p.name, func(t *testing.T) {
			orig := wat(t, "(module "+p.src+")")
			code, err := interrupt.Instrument(orig)
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			_, a := instantiate(t, ctx, orig)
			_, b := instantiate(t, ctx, code)
			want, err := a.ExportedFunction("run").Call(ctx, p.args...)
			if err != nil {
				t.Fatalf("original: %v", err)
			}
			got, err := b.ExportedFunction("run").Call(ctx, p.args...)
			if err != nil {
				t.Fatalf("instrumented: %v", err)
			}
			if len(got) != len(want) || got[0] != want[0] {
				t.Fatalf("instrumented module returned %v, original %v", got, want)
			}
			flag := b.ExportedGlobal(interrupt.ExportName)
			if flag == nil || flag.Get() != 0 {
				t.Fatalf("export %q = %v, want a global holding 0", interrupt.ExportName, flag)
			}
			if _, ok := flag.(api.MutableGlobal); !ok {
				t.Fatalf("export %q is not mutable", interrupt.ExportName)
			}
		})
	}
}

// The ways a guest can run for ever: a loop, and recursion that never
// loops but takes exponential time. Raising the flag from another goroutine
// must stop both promptly.
func TestFlagStopsRunawayGuests(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ name, src string }{
		{"infinite loop", `(func (export "run") (loop $l (br $l)))`},
		{"loop that only calls", `(func $f) (func (export "run") (loop $l (call $f) (br $l)))`},
		{"exponential recursion", `(func $r (param $n i32) (result i32)
		   (if (result i32) (i32.eqz (local.get $n)) (then (i32.const 1))
		     (else (i32.add (call $r (i32.sub (local.get $n) (i32.const 1)))
		                    (call $r (i32.sub (local.get $n) (i32.const 1)))))))
		 (func (export "run") (drop (call $r (i32.const 62))))`},
		// Shaped like a Go function: a few moves, then a loop it enters at
		// once. Its entry check is left out; the loop's must stop it.
		{"exponential recursion inside a leading loop", `(func $r (param $n i32) (result i32) (local $sp i32)
		   (local.set $sp (i32.const 8))
		   (block $b (result i32) (loop $l (result i32)
		     (if (result i32) (i32.eqz (local.get $n)) (then (i32.const 1))
		       (else (i32.add (call $r (i32.sub (local.get $n) (i32.const 1)))
		                      (call $r (i32.sub (local.get $n) (i32.const 1)))))))))
		 (func (export "run") (drop (call $r (i32.const 62))))`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, err := interrupt.Instrument(wat(t, "(module "+tc.src+")"))
			if err != nil {
				t.Fatal(err)
			}
			_, mod := instantiate(t, ctx, code)
			done := make(chan error, 1)
			go func() {
				_, err := mod.ExportedFunction("run").Call(ctx)
				done <- err
			}()
			select {
			case err := <-done:
				t.Fatalf("guest returned before the flag was raised: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
			// Go cannot preempt a goroutine inside compiled wasm; the
			// instrumented guest must still let a stop-the-world through,
			// or the process (watchdog included) stalls behind it.
			gc := make(chan struct{})
			go func() { runtime.GC(); close(gc) }()
			select {
			case <-gc:
			case <-time.After(10 * time.Second):
				t.Fatal("a garbage collection is still waiting for the running guest after 10 s")
			}
			raised := time.Now()
			mod.ExportedGlobal(interrupt.ExportName).(api.MutableGlobal).Set(1)
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "unreachable") {
					t.Fatalf("err = %v, want an unreachable trap", err)
				}
				t.Logf("stopped %v after the flag was raised", time.Since(raised))
			case <-time.After(10 * time.Second):
				t.Fatal("guest still running 10 s after the flag was raised")
			}
		})
	}
}

func TestInstrumentRefuses(t *testing.T) {
	valid := wat(t, `(module (func (export "f")))`)
	for _, tc := range []struct {
		name string
		code []byte
		want error
		msg  string
	}{
		{"not wasm", []byte("\x7fELF\x02\x01\x01"), interrupt.ErrMalformed, "header"},
		{"truncated section", valid[:len(valid)-2], interrupt.ErrMalformed, "section"},
		{"name clash", wat(t, `(module (func (export "kubeshark.interrupt")))`), interrupt.ErrMalformed, "reserves"},
		// global.get 0 in a module without globals would, after the rewrite,
		// read the flag; a module that names the flag's index must not load.
		{"reference to a global that does not exist", module(body(0x23, 0x00, 0x1a, 0x0b)), interrupt.ErrMalformed, "global 0"},
		{"exception handling", module(body(0x06, 0x40, 0x0b, 0x0b)), interrupt.ErrUnsupported, "opcode 0x06"},
		{"unknown 0xfc instruction", module(body(0xfc, 0x7f, 0x0b)), interrupt.ErrUnsupported, "0xfc 127"},
		{"over-long LEB128", module(body(0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x0b)), interrupt.ErrMalformed, "longer than"},
		{"start section", wat(t, `(module (func $s (loop $l (br $l))) (start $s))`), interrupt.ErrUnsupported, "start section"},
		// Found by FuzzInstrument: wazero allocated 7 GiB for this one.
		{"more entries than bytes", []byte("\x00asm\x01\x00\x00\x00\t\x04\xb4\xb4\xb40"), interrupt.ErrMalformed, "declares"},
		{"code section with trailing bytes", module(append(body(0x0b), 0x00)), interrupt.ErrMalformed, "after the last function body"},
		// A typed reference is more than one byte and would shift the
		// index of every function's loop counter computed after it.
		{"typed reference parameter", []byte("\x00asm\x01\x00\x00\x00\x01\x06\x01\x60\x01\x63\x70\x00"), interrupt.ErrUnsupported, "parameter of type 0x63"},
		{"more functions than bodies", []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x03\x02\x00\x00\x0a\x04\x01\x02\x00\x0b"), interrupt.ErrMalformed, "1 function bodies for 2 functions"},
		{"function of a type that does not exist", []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x01\x0a\x04\x01\x02\x00\x0b"), interrupt.ErrMalformed, "has type 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := interrupt.Instrument(tc.code)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
}

// body is one function body without locals, with the code given.
func body(code ...byte) []byte {
	return append([]byte{byte(len(code) + 1), 0x00}, code...)
}

// module wraps one function body of type () -> () in a minimal module.
func module(fn []byte) []byte {
	m := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
		0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
	}
	code := append([]byte{0x01}, fn...)
	m = append(m, 0x0a, byte(len(code)))
	return append(m, code...)
}

// The built-in dissectors are what the rewrite mostly sees: Go-built
// modules with every function a loop. Each must rewrite; two of them
// compile here (runtime/wasm's tests run them all).
func TestInstrumentBuiltinDissectors(t *testing.T) {
	mods, err := dissectors.Builtin()
	if err != nil {
		t.Skipf("no built-in dissectors in this build (%v); `make build` compiles them", err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	for _, m := range mods {
		wasm, err := m.Wasm()
		if err != nil {
			t.Fatal(err)
		}
		code, err := interrupt.Instrument(wasm)
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if m.Name != "http1" && m.Name != "dns" {
			continue
		}
		c, err := rt.CompileModule(ctx, code)
		if err != nil {
			t.Fatalf("%s: instrumented module does not compile: %v", m.Name, err)
		}
		if _, ok := c.ExportedFunctions()["kubeshark_feed"]; !ok {
			t.Fatalf("%s: instrumented module lost its exports", m.Name)
		}
		t.Logf("%s: %d → %d bytes", m.Name, len(wasm), len(code))
		c.Close(ctx)
	}
}

func FuzzInstrument(f *testing.F) {
	f.Add(module(body(0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b)))
	f.Add(module(body(0x02, 0x7f, 0x41, 0x01, 0x0b, 0x1a, 0x0b)))
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	f.Fuzz(func(t *testing.T, code []byte) {
		out, err := interrupt.Instrument(code)
		if err != nil {
			return
		}
		// A module wazero accepts must stay acceptable after the rewrite.
		if c, err := rt.CompileModule(ctx, code); err == nil {
			c.Close(ctx)
			c2, err := rt.CompileModule(ctx, out)
			if err != nil {
				t.Fatalf("original compiles, instrumented does not: %v", err)
			}
			c2.Close(ctx)
		}
	})
}
