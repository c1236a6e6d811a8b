// Package http1 is the built-in HTTP/1.x dissector. It is ordinary Go written
// against the sdk: the wasm/ subdirectory builds it into the WebAssembly
// module that the kubeshark binary embeds, and its tests run natively.
//
// One record per exchange: requests queue per connection (keep-alive and
// pipelining) and pair with responses in order. Interim 1xx responses are
// kept on the exchange's response as "interim"; 101 Switching Protocols ends
// HTTP parsing and hands the connection back to the host to detect what
// follows (WebSocket, h2c).
package http1
