package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors"
	"github.com/kubeshark-wasm/kubeshark/dissectors/workload"
	"github.com/kubeshark-wasm/kubeshark/runtime/native"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
)

// The per-dissector benchmark isolates the dissectors from the rest of the
// pipeline: no capture, decode or reassembly, just a workload of stream
// bytes (dissectors/workload) offered through engine.Instance, once to the
// embedded WebAssembly module and once to the same Go code compiled into
// the host (runtime/native). Both go through the same interface and the
// same feeding loop, so the difference is the sandbox: the guest's Go code
// under wazero with the deadline checks runtime/wasm asks for, the copy
// into guest memory, and each record's encoding in the guest and decoding
// in the host.

// dissectorBench times every built-in dissector on its workload, natively
// and as the embedded WebAssembly module, and writes a Markdown table of
// the best of runs. It fails when a module is missing or when either mode
// does not dissect the whole workload.
func dissectorBench(ctx context.Context, runs int, out io.Writer) error {
	runs = max(runs, 1)
	mods, err := dissectors.Builtin()
	if err != nil {
		return err
	}
	code := map[string][]byte{}
	for _, m := range mods {
		if code[m.Name], err = m.Wasm(); err != nil {
			return err
		}
	}
	ws, err := workload.All()
	if err != nil {
		return err
	}
	rt, err := wasm.NewRuntime(ctx, wasm.Config{BufferSize: workload.MaxFeed})
	if err != nil {
		return fmt.Errorf("wasm runtime: %w", err)
	}
	defer rt.Close(ctx)

	fmt.Fprintf(out, "one goroutine; per mode a warm-up pass, then the fastest of %d runs of at least %s; %s %s/%s, GOMAXPROCS %d\n\n",
		runs, workload.MinRun, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
	fmt.Fprintln(out, "| dissector | workload (bytes, records) | native records/s | wasm records/s | wasm/native slowdown | native MB/s | wasm MB/s |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|")
	logSum, compared := 0.0, 0
	for i := range ws {
		w := &ws[i]
		wasmCode, ok := code[w.Name]
		if !ok {
			return fmt.Errorf("dissector %s: no embedded module: build with `make wasm` first", w.Name)
		}
		var nat time.Duration
		if w.Native != nil { // nil: written in C, no native build
			if nat, err = workload.Time(ctx, native.New(w.Native), w, runs); err != nil {
				return fmt.Errorf("dissector %s, native: %w", w.Name, err)
			}
		}
		mod, err := rt.Load(ctx, "built-in", wasmCode)
		if err != nil {
			return fmt.Errorf("dissector %s: %w", w.Name, err)
		}
		was, err := workload.Time(ctx, mod, w, runs)
		mod.Close(ctx)
		if err != nil {
			return fmt.Errorf("dissector %s, wasm: %w", w.Name, err)
		}
		size := float64(w.Bytes())
		nsec, wsec := nat.Seconds(), was.Seconds()
		if w.Native == nil {
			fmt.Fprintf(out, "| %s (C) | %s: %.2f MB, %d records | — | %.0f | — | — | %.2f |\n",
				w.Name, w.What, size/1e6, w.Records, float64(w.Records)/wsec, size/wsec/1e6)
			continue
		}
		compared++
		slow := wsec / nsec
		logSum += math.Log(slow)
		fmt.Fprintf(out, "| %s | %s: %.2f MB, %d records | %.0f | %.0f | %.1f× | %.1f | %.2f |\n",
			w.Name, w.What, size/1e6, w.Records, float64(w.Records)/nsec, float64(w.Records)/wsec, slow, size/nsec/1e6, size/wsec/1e6)
	}
	fmt.Fprintf(out, "\ngeometric mean wasm/native slowdown: %.1f×\n", math.Exp(logSum/float64(compared)))
	return nil
}
