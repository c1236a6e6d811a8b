package dissectors_test

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/dissectors"
	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
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
			code, err := b.Wasm()
			if err != nil {
				t.Errorf("%s: %v", b.Name, err)
				return
			}
			m, err := rt.Load(ctx, "built-in", code)
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

// TestBuiltinPrefilters holds each built-in's probe as compiled into the
// host (the prefilter that spares compiling modules the traffic cannot
// use) to the module's own probe, on the starts of every built-in
// protocol's messages and on random bytes of every first byte, cut at
// every length up to 64. Only a "no" of the prefilter is ever acted on,
// but the answers must agree whole: they are one source compiled twice.
// The conformance suite loads the modules with their prefilters too.
func TestBuiltinPrefilters(t *testing.T) {
	mods, err := dissectors.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	samples := [][]byte{
		[]byte("GET /item.json HTTP/1.1\r\nHost: a\r\n\r\n"),
		[]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		[]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"),
		[]byte("\x16\x03\x01\x00\x2f\x01\x00\x00\x2b\x03\x03"),
		[]byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
		[]byte("+OK\r\n"),
		[]byte("AMQP\x00\x00\x09\x01"),
		[]byte("\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04abcd"),
		[]byte("\x00\x00\x00\x08\x04\xd2\x16\x2f"),
		[]byte("Q\x00\x00\x00\x0dselect 1\x00"),
		[]byte("\x21\x00\x00\x00\x03select 1"),
		[]byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03api\x07example\x03com\x00\x00\x01\x00\x01"),
	}
	rng := rand.New(rand.NewPCG(12, 12))
	for b := range 256 {
		for range 2 {
			s := make([]byte, 1+rng.IntN(63))
			s[0] = byte(b)
			for i := 1; i < len(s); i++ {
				s[i] = byte(rng.IntN(256))
			}
			samples = append(samples, s)
		}
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
		if b.Probe == nil {
			continue // no prefilter: the module alone is asked
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			m, err := rt.LoadDescribedFunc(ctx, "built-in", b.Wasm, b.Manifest, nil)
			if err != nil {
				t.Errorf("%s: %v", b.Name, err)
				return
			}
			in, err := m.NewInstance(ctx, nil)
			if err != nil {
				t.Errorf("%s: %v", b.Name, err)
				return
			}
			defer in.Destroy(ctx)
			bad := 0
			for _, s := range samples {
				for n := 1; n <= len(s) && bad < 3; n++ {
					for dir := sdk.DirA; dir <= sdk.DirB; dir++ {
						want, err := in.Probe(ctx, dir, s[:n])
						if err != nil {
							t.Errorf("%s: probe %q: %v", b.Name, s[:n], err)
							return
						}
						if got := b.Probe(dir, s[:n]); got != want {
							t.Errorf("%s: probe %q (direction %d): host %+v, module %+v", b.Name, s[:n], dir, got, want)
							bad++
						}
					}
				}
			}
		})
	}
	wg.Wait()
}
