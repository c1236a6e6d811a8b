// Package http1 holds the built-in HTTP/1.x dissector, written in C against
// the C SDK: c/http1.c, built by `make wasm-c` into the committed module
// c/http1.wasm that `make wasm` embeds in the kubeshark binary (see
// c/README.md). The Go package keeps what the host needs without compiling
// the module (Manifest, Version) and the dissector's tests, which run the
// module through the host.
//
// One record per exchange: requests queue per connection (keep-alive and
// pipelining) and pair with responses in order. Interim 1xx responses are
// kept on the exchange's response as "interim"; 101 Switching Protocols ends
// HTTP parsing and hands the connection back to the host to detect what
// follows (WebSocket, h2c).
package http1
