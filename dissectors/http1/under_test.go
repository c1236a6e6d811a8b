package http1

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// The C module (dissectors/http1/c), built once per test process; nil
// where clang for wasm32-wasi is not installed.
var (
	cOnce   sync.Once
	cModule []byte
	cErr    error
	guests  sync.Map // testing.TB → *dissectortest.Guest
)

func cBuild() ([]byte, error) {
	cOnce.Do(func() {
		dir, err := os.MkdirTemp("", "http1c")
		if err != nil {
			cErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "http1.wasm")
		if cErr = dissectortest.BuildC(filepath.Join("c", "http1.c"), out); cErr == nil {
			cModule, cErr = os.ReadFile(out)
		}
	})
	return cModule, cErr
}

// under is the dissector the unit tests drive: the Go dissector, in a tee
// with the C module run by the host when clang is installed, so that each
// test's vectors are also the differential test's (every call's records
// must be alike, byte for byte). Without clang the Go dissector alone.
func under(t testing.TB) sdk.Dissector {
	t.Helper()
	mod, err := cBuild()
	if err != nil {
		if err == dissectortest.ErrNoClang {
			return New()
		}
		t.Fatal(err)
	}
	g, ok := guests.Load(t)
	if !ok {
		ng := dissectortest.NewGuest(t, mod)
		ng.RawFields = true
		g = ng
		guests.Store(t, g)
		t.Cleanup(func() { guests.Delete(t) })
	}
	return dissectortest.Tee(t, New(), g.(*dissectortest.Guest))
}
