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
	gOnce   sync.Once
	guest   *dissectortest.Guest
	gErr    error
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
// The package's tests and the fuzzer's runs share one instance of the
// module (none of them runs in parallel).
func under(t testing.TB) sdk.Dissector {
	t.Helper()
	mod, err := cBuild()
	if err != nil {
		if err == dissectortest.ErrNoClang {
			return New()
		}
		t.Fatal(err)
	}
	gOnce.Do(func() {
		// Released when the test process exits.
		guest, _, gErr = dissectortest.NewSharedGuest(mod)
		if gErr == nil {
			guest.RawFields = true
		}
	})
	if gErr != nil {
		t.Fatal(gErr)
	}
	guest.Use(t)
	return dissectortest.Tee(t, New(), guest)
}
