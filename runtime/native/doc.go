// Package native runs a dissector compiled into the kubeshark binary
// itself, behind the same engine interface as the WebAssembly host. The
// pipeline uses it in tests and in the benchmark that measures what the
// sandbox costs; production dissectors always run in WebAssembly.
package native
