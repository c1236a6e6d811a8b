//go:build !wasip1 || kubeshark_noglue

package sdk

// Register is a no-op outside WebAssembly, so that a dissector's main
// package also builds natively; native callers use the Dissector directly.
func Register(Dissector) {}

// Log is a no-op outside WebAssembly.
func Log(string) {}
