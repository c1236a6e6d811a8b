// Package sdk is what a dissector author imports. It sits at the end of the
// data flow: the capture runtime reassembles streams and hands their bytes to a
// dissector written against this package, and the dissector hands back
// [Record] values in the record contract that storage, filters and MCP read.
//
// A dissector implements [Dissector] (manifest and probe) and [Conn]
// (per-connection parsing). The same source builds two ways:
//
//   - natively, so that its tests run under plain `go test` and benchmarks can
//     compare it against the sandboxed build;
//   - as a WebAssembly reactor module for the kubeshark host:
//     GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared, with a main
//     package that calls [Register] from init. The ABI glue in this package
//     (build tag wasip1) then exports the functions described in ABI.md.
package sdk
