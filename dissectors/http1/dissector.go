package http1

import (
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/preview"
)

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
func (*Dissector) Manifest() sdk.Manifest { return Manifest() }

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
