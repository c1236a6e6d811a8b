package websocket

import (
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Version is the dissector's version.
const Version = "1.1.0"

// Limits on what one connection may hold.
const (
	bodyPreview  = 16 << 10 // payload bytes kept per message
	maxFrame     = 1 << 40  // a frame longer than this is taken for garbage
	maxPings     = 64       // unanswered pings kept per direction
	maxFragments = 1 << 20  // fragments one message may have
)

// Dissector implements sdk.Dissector for WebSocket.
type Dissector struct{}

// New returns the WebSocket dissector.
func New() *Dissector { return &Dissector{} }

// Manifest describes the dissector.
func (*Dissector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "websocket",
		Version:     Version,
		Description: "WebSocket (RFC 6455) after an HTTP/1.1 Upgrade: messages, fragmentation, control frames, permessage-deflate (RFC 7692) previews",
		Protocols:   []string{"websocket"},
		Transports:  []string{"tcp"},
		PortHints:   []uint16{80, 8080, 443},
		Fields: []sdk.FieldSpec{
			{Name: "websocket_opcode", Type: "int", Description: "opcode of the message's first frame (1 text, 2 binary, 8 close, 9 ping, 10 pong)"},
			{Name: "websocket_masked", Type: "bool", Description: "the frames were masked (client to server)"},
			{Name: "websocket_payload_length", Type: "int", Description: "payload bytes of the whole message"},
			{Name: "websocket_fragments", Type: "int", Description: "frames the message was split into"},
			{Name: "websocket_compressed", Type: "bool", Description: "RSV1 set: the payload is compressed (permessage-deflate); the preview is decompressed unless websocket_inflate_error says why not"},
			{Name: "websocket_decompressed_length", Type: "int", Description: "bytes a compressed message decompressed to, when all of it could be decoded"},
			{Name: "websocket_inflate_error", Type: "string", Description: "why a compressed message could not be decompressed (corrupt data, or history the capture lost); the preview is then the raw compressed payload"},
			{Name: "websocket_close_code", Type: "int", Description: "status code of a CLOSE frame"},
			{Name: "websocket_close_reason", Type: "string", Description: "reason text of a CLOSE frame"},
		},
	}
}

// Open starts a connection.
func (*Dissector) Open(info sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	return newConn(out)
}
