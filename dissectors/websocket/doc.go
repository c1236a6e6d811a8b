// Package websocket is the built-in WebSocket (RFC 6455) dissector. The
// HTTP/1 dissector hands a connection over after a 101 Upgrade; the host
// then probes what follows with the hint "websocket", which is what lets
// this dissector's deliberately modest probe claim it. The wasm/
// subdirectory builds it into the WebAssembly module the kubeshark binary
// embeds; its tests run natively.
//
// One one-way record per message (fragments are reassembled; payloads are
// unmasked for the preview, which is bounded), sent by whichever side sent
// the message: Method is the opcode name (TEXT, BINARY, CLOSE, PING, PONG),
// Status the close code of a CLOSE. A PING is paired with the PONG that
// answers it.
//
// A message with RSV1 set is compressed with permessage-deflate (RFC
// 7692); its preview is decompressed. The handshake that negotiated the
// extension belongs to the HTTP/1 dissector, and the hand-over carries
// none of its parameters, so each side's messages are decoded with that
// side's earlier output as LZ77 history, which is right whether or not the
// sender takes over its context. When output is lost (a capture gap, a
// message over the limits, corrupt data) the history is dropped, never
// guessed: a later message that refers to it is recorded with
// websocket_inflate_error and its raw payload rather than wrong text.
package websocket
