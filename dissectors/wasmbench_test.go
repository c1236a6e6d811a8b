package dissectors_test

import (
	"context"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/dissectors/workload"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/native"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
)

// BenchmarkWasmVsNative feeds every built-in dissector the workload of its
// BenchmarkXNative through engine.Instance twice per iteration: once to its
// WebAssembly build under the wasm runtime, once to the same Go code
// compiled into the host (runtime/native), on one goroutine. ns/op is the
// sum of both; the figures to read are the custom metrics: records/s and
// MB/s of each mode and wasm/native-x, the slowdown. Both modes must emit
// the workload's record count on every run, so a dissector that rejects its
// input fails instead of looking fast.
//
// The module is built from source (dissectortest.Wasm) rather than taken
// from dissectors/bin, so the two modes always run the same code.
// cmd/kubeshark-bench (dissectorBench) measures the embedded modules on the
// same workloads (dissectors/workload) and prints BENCHMARKS.md's table.
//
//	go test -run '^$' -bench WasmVsNative ./dissectors/
func BenchmarkWasmVsNative(b *testing.B) {
	ctx := context.Background()
	ws, err := workload.All()
	if err != nil {
		b.Fatal(err)
	}
	rt, err := wasm.NewRuntime(ctx, wasm.Config{BufferSize: workload.MaxFeed})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	for i := range ws {
		w := &ws[i]
		b.Run(w.Name, func(b *testing.B) {
			if w.Native == nil {
				b.Skip("written in C: no native build to compare with")
			}
			mod, err := rt.Load(ctx, "built-in", dissectortest.Wasm(b, w.Name))
			if err != nil {
				b.Fatal(err)
			}
			modes := [2]struct {
				name string
				d    engine.Dissector
				sink workload.Counter
				inst engine.Instance
				took time.Duration
			}{{name: "native", d: native.New(w.Native)}, {name: "wasm", d: mod}}
			for m := range modes {
				md := &modes[m]
				if md.inst, err = md.d.NewInstance(ctx, &md.sink); err != nil {
					b.Fatalf("%s: %v", md.name, err)
				}
				defer md.inst.Destroy(ctx)
			}
			run := func(r int) {
				for m := range modes {
					md := &modes[m]
					before := md.sink.Records
					t0 := time.Now()
					err := workload.Feed(ctx, md.inst, &md.sink, w, uint64(r*len(w.Conns))+1)
					md.took += time.Since(t0)
					if err != nil {
						b.Fatalf("%s: %v", md.name, err)
					}
					if got := md.sink.Records - before; got != w.Records {
						b.Fatalf("%s emitted %d records, the workload has %d", md.name, got, w.Records)
					}
				}
			}
			// The warm-up lets the guest's heap grow to its working size.
			run(0)
			modes[0].took, modes[1].took = 0, 0
			runs := 0
			for b.Loop() {
				runs++
				run(runs)
			}
			size := float64(w.Bytes()) * float64(runs)
			recs := float64(w.Records) * float64(runs)
			for _, md := range modes {
				s := md.took.Seconds()
				b.ReportMetric(recs/s, md.name+"-records/s")
				b.ReportMetric(size/s/1e6, md.name+"-MB/s")
			}
			b.ReportMetric(modes[1].took.Seconds()/modes[0].took.Seconds(), "wasm/native-x")
		})
	}
}
