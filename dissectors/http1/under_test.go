package http1

import (
	"sync"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// The built-in module (c/http1.wasm, as `make wasm` embeds it), one
// instance shared by the package's tests and the fuzzer's runs: starting
// an instance costs more than most of them. None of them runs in
// parallel.
var (
	gOnce sync.Once
	guest *dissectortest.Guest
	gErr  error
)

// under is the dissector the unit tests drive: the built-in module run by
// the host, so that every record goes through the ABI's wire encoding and
// back, its fields decoded as readers see them (JSON types: float64,
// []any, map[string]any).
func under(t testing.TB) sdk.Dissector {
	t.Helper()
	mod := dissectortest.Wasm(t, "http1")
	gOnce.Do(func() {
		// Released when the test process exits.
		guest, _, gErr = dissectortest.NewSharedGuest(mod)
	})
	if gErr != nil {
		t.Fatal(gErr)
	}
	guest.Use(t)
	return guest
}
