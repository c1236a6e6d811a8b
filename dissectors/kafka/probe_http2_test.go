package kafka

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// An HTTP/2 server's first SETTINGS frame parses as a Produce v0 header
// with an empty client id; it must not be claimed before the whole message
// can be checked.
func TestProbeDoesNotClaimHTTP2Settings(t *testing.T) {
	settings := []byte{0, 0, 0x12, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0x64, 0, 4, 0, 1, 0, 0, 0, 5, 0, 0xff, 0xff, 0xff}
	p := New().Probe(sdk.DirA, settings)
	if p.Confidence >= 50 {
		t.Fatalf("probe %+v claims an HTTP/2 SETTINGS frame", p)
	}
}
