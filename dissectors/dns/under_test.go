package dns

import (
	"errors"
	"sync"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// The C module (c/dns.c freshly built), one instance shared by the
// package's tests and the fuzzer's runs: starting an instance costs more
// than most of them. None of them runs in parallel.
var (
	gOnce sync.Once
	guest *dissectortest.Guest
	gErr  error
)

// under is the dissector the unit tests drive: the Go dissector, in a tee
// with the C module run by the host when clang is installed, so that each
// test's vectors are also the differential test's (after every call both
// must have consumed and asked for the same bytes and emitted the same
// records, byte for byte; probes must answer alike). Without clang, the Go
// dissector alone.
func under(t testing.TB) sdk.Dissector {
	t.Helper()
	mod, err := dissectortest.TryCModule(cSource)
	if errors.Is(err, dissectortest.ErrNoClang) {
		return New()
	}
	if err != nil {
		t.Fatal(err)
	}
	gOnce.Do(func() {
		// Released when the test process exits.
		guest, _, gErr = dissectortest.NewSharedGuest(mod)
		if guest != nil {
			guest.RawFields = true
		}
	})
	if gErr != nil {
		t.Fatal(gErr)
	}
	guest.Use(t)
	return dissectortest.Tee(t, New(), guest)
}
