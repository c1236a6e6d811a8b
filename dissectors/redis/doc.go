// Package redis is the built-in Redis dissector: RESP2 and RESP3 (every type,
// attributes and pushes), inline commands, pipelining and pub/sub. The wasm/
// subdirectory builds it into the WebAssembly module the kubeshark binary
// embeds; its tests run natively.
//
// One record per command: commands queue per connection and pair with
// replies in order. Messages a subscribed client receives without asking
// (pub/sub "message" arrays, RESP3 pushes) become one-way records sent by the
// server. Bulk strings are streamed, so values larger than the host's buffer
// cost only their preview.
//
// Method is the command name in upper case; for container commands whose
// first argument selects the operation (CLIENT SETNAME, CONFIG GET, XGROUP
// CREATE, …) it is both words separated by a space, as the Redis
// documentation writes them. Path is the first key the command names, or the
// channel for pub/sub commands; empty for commands without a key.
package redis
