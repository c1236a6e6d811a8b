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
// RESP3 streamed types are parsed as the specification describes them: a
// streamed string ($?) is a run of ";<length>" chunks ended by ";0", and
// keeps only a preview however many chunks come; a streamed array, map, set
// or attribute (*?, %?, ~?, |?) holds elements until the END marker ".",
// and a map's END must fall between pairs. They nest inside ordinary
// aggregates and each other, and render like their counted forms; the reply
// carries redis_streamed. The parser accepts them in either direction,
// though Redis itself sends none and accepts none from clients. An END with
// no streamed aggregate open, a bad chunk line or a map cut between key and
// value makes a failed record ("malformed: …"); a stream the connection
// ends before its END makes a record with the error
// "connection ended before the message did".
//
// Method is the command name in upper case; for container commands whose
// first argument selects the operation (CLIENT SETNAME, CONFIG GET, XGROUP
// CREATE, …) it is both words separated by a space, as the Redis
// documentation writes them. Path is the first key the command names, or the
// channel for pub/sub commands; empty for commands without a key.
package redis
