// Package sdktest runs a dissector natively the way the kubeshark host runs
// it in WebAssembly: the driver owns each direction's unconsumed bytes,
// re-offers them with new data appended, honours the need hint, and collects
// the records. Dissector authors use it in plain `go test`.
package sdktest
