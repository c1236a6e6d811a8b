package interrupt_test

import (
	"context"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/dissectors"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm/internal/interrupt"
)

// BenchmarkInstrumentBuiltin is what every start of kubeshark pays before
// the compilation cache is consulted: rewriting the twelve built-in modules.
func BenchmarkInstrumentBuiltin(b *testing.B) {
	mods, err := dissectors.Builtin()
	if err != nil {
		b.Skip(err)
	}
	total := 0
	codes := make([][]byte, len(mods))
	for i, m := range mods {
		if codes[i], err = m.Wasm(); err != nil {
			b.Fatal(err)
		}
		total += len(codes[i])
	}
	b.SetBytes(int64(total))
	for b.Loop() {
		for _, c := range codes {
			if _, err := interrupt.Instrument(c); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkChecks measures what the checks cost compiled guest code, per
// loop iteration: a tight byte loop (memchr's shape), and a loop calling a
// leaf function (a small helper's shape). "plain" is the module without
// checks, the floor.
func BenchmarkChecks(b *testing.B) {
	const n = 1 << 16
	src := `(module (memory (export "memory") 2)
	  (func $leaf (param $x i32) (result i32) (i32.add (local.get $x) (i32.const 7)))
	  (func (export "bytes") (param $n i32) (result i32) (local $i i32) (local $s i32)
	    (loop $l
	      (local.set $s (i32.add (local.get $s) (i32.load8_u (local.get $i))))
	      (local.set $i (i32.add (local.get $i) (i32.const 1)))
	      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
	    (local.get $s))
	  (func (export "calls") (param $n i32) (result i32) (local $i i32) (local $s i32)
	    (loop $l
	      (local.set $s (call $leaf (local.get $s)))
	      (local.set $i (i32.add (local.get $i) (i32.const 1)))
	      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
	    (local.get $s)))`
	plain := wat(b, src)
	instrumented, err := interrupt.Instrument(plain)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, m := range []struct {
		name string
		code []byte
	}{{"plain", plain}, {"instrumented", instrumented}} {
		_, mod := instantiate(b, ctx, m.code)
		for _, fn := range []string{"bytes", "calls"} {
			f := mod.ExportedFunction(fn)
			b.Run(fn+"/"+m.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := f.Call(ctx, n); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/iteration")
			})
		}
	}
}
