package dns

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// The built-in module (c/dns.wasm, as `make wasm` embeds it), one instance
// shared by the package's tests and the fuzzer's runs: starting an
// instance costs more than most of them. None of them runs in parallel.
var shared = dissectortest.SharedBuiltin{Name: "dns"}

// maxPending is the module's bound on queries waiting for a response per
// connection (c/dns.c, MAX_PENDING).
const maxPending = 256

// under is the dissector the unit tests drive: the built-in module run by
// the host, so that every record goes through the ABI's wire encoding and
// back, its fields decoded as readers see them (JSON types: float64,
// []any, map[string]any).
func under(t testing.TB) sdk.Dissector {
	t.Helper()
	return shared.Get(t)
}
