// Package engine defines how the pipeline drives a dissector, whatever runs
// it: the WebAssembly host (runtime/wasm) in production, or a native Go
// build of the same dissector (runtime/native) for tests and benchmarks.
// It sits between the reassembler, which produces stream bytes, and the
// dissectors, which turn them into records.
package engine
