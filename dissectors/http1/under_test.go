package http1

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// The built-in module (c/http1.wasm, as `make wasm` embeds it), one
// instance shared by the package's tests and the fuzzer's runs: starting
// an instance costs more than most of them. None of them runs in
// parallel.
var shared = dissectortest.SharedBuiltin{Name: "http1"}

// under is the dissector the unit tests drive: the built-in module run by
// the host, so that every record goes through the ABI's wire encoding and
// back, its fields decoded as readers see them (JSON types: float64,
// []any, map[string]any).
func under(t testing.TB) sdk.Dissector {
	t.Helper()
	return shared.Get(t)
}
