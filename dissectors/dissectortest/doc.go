// Package dissectortest builds the built-in dissectors to WebAssembly for
// tests, so that `go test ./...` works without running `make` first.
package dissectortest
