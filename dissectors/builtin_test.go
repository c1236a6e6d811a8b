package dissectors_test

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/dissectors"
	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
)

// TestBuiltinManifests holds the manifest compiled into the host for each
// built-in (which lets the host skip compiling a module the traffic does
// not need) equal to what the module's own describe export returns, and
// checks that every dissector source has one. The modules run in wazero's
// interpreter with no cache, so that describe really runs: compiling all
// twelve would take a minute.
func TestBuiltinManifests(t *testing.T) {
	mods, err := dissectors.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.Name)
	}
	if want := dissectortest.Sources(t); !slices.Equal(names, want) {
		t.Fatalf("embedded dissectors %v, sources %v: run make wasm", names, want)
	}
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{Interpreter: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, b := range mods {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			m, err := rt.Load(ctx, "built-in", b.Wasm)
			if err != nil {
				t.Errorf("%s: %v", b.Name, err)
				return
			}
			if got := m.Manifest(); !reflect.DeepEqual(got, b.Manifest) {
				t.Errorf("%s: the module describes itself as\n%+v\nthe host's copy of its manifest is\n%+v", b.Name, got, b.Manifest)
			}
		})
	}
	wg.Wait()
}
