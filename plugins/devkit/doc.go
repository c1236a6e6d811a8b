// Package devkit is the plugin author's side of the plugin lifecycle: it
// scaffolds a dissector project in Go, C or Rust, builds it with the
// language's toolchain to a WebAssembly module, runs a module on captures
// through the same host and pipeline `kubeshark import` uses, and compares
// the records with a golden file. `kubeshark plugin new|build|test` are thin
// commands over it; it sits beside the plugin store (which installs what it
// builds) and depends only on the runtime and the SDK.
package devkit
