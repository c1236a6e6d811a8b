package dissectors_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/dissectors/workload"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/native"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Every built-in dissector must produce the same records as WebAssembly as
// it does natively, byte for byte in the record encoding. Inside a guest
// the SDK takes other paths (fields kept in a list instead of a map, body
// previews inflated by the host), so this is what keeps them honest.
func TestWasmRecordsMatchNative(t *testing.T) {
	ctx := context.Background()
	ws, err := workload.All()
	if err != nil {
		t.Fatal(err)
	}
	rt, err := wasm.NewRuntime(ctx, wasm.Config{BufferSize: workload.MaxFeed})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	for i := range ws {
		w := &ws[i]
		t.Run(w.Name, func(t *testing.T) {
			mod, err := rt.Load(ctx, "built-in", dissectortest.Wasm(t, w.Name))
			if err != nil {
				t.Fatal(err)
			}
			run := func(d engine.Dissector) []*sdk.Record {
				sink := &workload.Counter{Keep: true}
				inst, err := d.NewInstance(ctx, sink)
				if err != nil {
					t.Fatal(err)
				}
				defer inst.Destroy(ctx)
				if err := workload.Feed(ctx, inst, sink, w, 1); err != nil {
					t.Fatal(err)
				}
				return sink.Kept
			}
			if w.Native == nil {
				// Written in C: no second build to hold it to, but the
				// workload's records must all come.
				if got := len(run(mod)); got != w.Records {
					t.Fatalf("wasm made %d records, the workload %d", got, w.Records)
				}
				return
			}
			fromWasm, fromNative := run(mod), run(native.New(w.Native))
			if len(fromWasm) != len(fromNative) || len(fromWasm) != w.Records {
				t.Fatalf("wasm made %d records, native %d, the workload %d", len(fromWasm), len(fromNative), w.Records)
			}
			for k := range fromWasm {
				a, b := sdk.AppendRecord(nil, fromWasm[k]), sdk.AppendRecord(nil, fromNative[k])
				if !bytes.Equal(a, b) {
					t.Fatalf("record %d differs:\nwasm   %q\nnative %q", k, a, b)
				}
			}
		})
	}
}
