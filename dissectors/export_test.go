package dissectors

import "github.com/kubeshark-wasm/kubeshark/sdk"

// Native returns the host's copy of a built-in's manifest and probe (nil
// where its source is not Go), by
// source directory, for tests that load freshly built modules the way the
// CLI loads the embedded ones.
func Native(name string) (sdk.Manifest, func(sdk.Direction, []byte) sdk.Probe, bool) {
	n, ok := natives[name]
	if !ok {
		return sdk.Manifest{}, nil, false
	}
	return n.Manifest(), prefilter(n), true
}
