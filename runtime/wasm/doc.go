// Package wasm is the sandbox every dissector runs in: it loads WebAssembly
// dissector modules with wazero, checks that they speak ABI v1 (sdk/ABI.md),
// and runs instances of them for the pipeline behind the engine interface.
//
// Sandboxing: modules get no filesystem, network, environment or
// arguments, only a clock and randomness through WASI; each instance has a
// memory cap and each call a deadline. A trap, a timeout, an exit or a
// broken limit kills only the instance that did it (engine.ErrFault); a
// module that faults too often is quarantined. Modules compile when traffic
// first needs them; a module loaded with a host-side prefilter
// (LoadDescribed) is not even asked about streams the prefilter rules out.
package wasm
