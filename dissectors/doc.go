// Package dissectors holds the sources of the built-in dissectors (one
// sub-package each, ordinary Go against the sdk) and embeds their
// WebAssembly builds, which `make wasm` writes to bin/, into the kubeshark
// binary. The cmd package hands these modules to the wasm runtime; nothing
// else in the data path imports this package. Each module comes with its
// manifest and probe compiled into the host from the same source, so that
// the host knows a built-in without compiling it and can rule out traffic
// it cannot claim (RATIONALE.md: "Built-ins are known to the host").
package dissectors
