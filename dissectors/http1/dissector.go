package http1

import (
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/preview"
)

// Version is the dissector's version, reported in every record.
const Version = "1.0.0"

// Limits on what one connection may hold, so that hostile traffic cannot
// make the dissector's memory grow without bound.
const (
	maxHeaderBlock = 64 << 10         // bytes in a start line plus headers
	maxHeaders     = 256              // header lines per message
	bodyPreview    = preview.MaxBytes // decoded body bytes kept for the preview
	maxCompressed  = 256 << 10        // encoded body bytes kept for decoding the preview
	maxPending     = 1024             // requests waiting for a response
)

// Dissector implements sdk.Dissector for HTTP/1.0 and HTTP/1.1.
type Dissector struct{}

// New returns the HTTP/1.x dissector.
func New() *Dissector { return &Dissector{} }

// Manifest describes the dissector.
func (*Dissector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "http",
		Version:     Version,
		Description: "HTTP/1.0 and HTTP/1.1: keep-alive, pipelining, chunked and compressed bodies, upgrades",
		Protocols:   []string{"http"},
		Transports:  []string{"tcp"},
		PortHints:   []uint16{80, 8080, 8000, 8008, 8081, 8888, 3000, 5000, 9000},
		Fields: []sdk.FieldSpec{
			{Name: "request.version", Type: "string", Description: "protocol version of the request line, e.g. HTTP/1.1"},
			{Name: "response.version", Type: "string", Description: "protocol version of the status line"},
			{Name: "request.headers", Type: "map", Description: "request headers as sent"},
			{Name: "response.headers", Type: "map", Description: "response headers as sent"},
			{Name: "response.interim", Type: "list", Description: "status codes of 1xx interim responses before the final one"},
			{Name: "request.content_encoding", Type: "string", Description: "Content-Encoding the preview was decoded from"},
		},
	}
}

// Probe recognises a request line or a status line.
func (*Dissector) Probe(_ sdk.Direction, data []byte) sdk.Probe {
	switch classifyStart(data) {
	case startRequest:
		return sdk.Probe{Confidence: 90}
	case startResponse:
		return sdk.Probe{Confidence: 90, FromServer: true}
	case startMaybe:
		return sdk.Probe{Confidence: 10, NeedMore: true}
	}
	return sdk.Probe{}
}

// Open starts a connection.
func (*Dissector) Open(info sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	return newConn(info, out)
}
