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
package websocket
