package interrupt_test

import (
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
	for _, m := range mods {
		total += len(m.Wasm)
	}
	b.SetBytes(int64(total))
	for b.Loop() {
		for _, m := range mods {
			if _, err := interrupt.Instrument(m.Wasm); err != nil {
				b.Fatal(err)
			}
		}
	}
}
