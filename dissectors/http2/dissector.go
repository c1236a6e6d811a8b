package http2

import (
	"github.com/kubeshark-wasm/kubeshark/dissectors/dns"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/preview"
)

// Version is the dissector's version.
const Version = "1.1.0"

// Limits on what one connection may hold, so that hostile traffic cannot
// make the dissector's memory grow without bound.
const (
	maxHeaderBlock  = 256 << 10        // bytes of one header block across CONTINUATION frames
	maxHeaders      = 256              // fields kept per header block
	maxControlFrame = 192 << 10        // larger non-DATA frames are skipped, not held
	bodyPreview     = preview.MaxBytes // decoded body bytes kept for the preview
	maxCompressed   = 64 << 10         // encoded body bytes kept for decoding the preview
	maxStreams      = 1024             // open streams per connection
	maxClosed       = 4096             // emitted stream ids remembered, to ignore their late frames
	maxRetained     = 4 << 20          // header and body bytes held per connection
	initialTable    = 4096             // HPACK table size before any SETTINGS (RFC 9113 §6.5.2)
	lenientTable    = 64 << 10         // table size accepted when the SETTINGS were not seen
	maxTable        = 1 << 20          // largest HPACK table held, whatever was announced
)

// Dissector implements sdk.Dissector for HTTP/2 over cleartext TCP (h2c,
// prior knowledge or Upgrade) and for gRPC carried by it.
type Dissector struct{}

// New returns the HTTP/2 dissector.
func New() *Dissector { return &Dissector{} }

// Manifest describes the dissector.
func (*Dissector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "http2",
		Version:     Version,
		Description: "HTTP/2 cleartext (prior knowledge and h2c upgrade) with HPACK, multiplexed streams, push; gRPC calls and DNS over HTTPS over it",
		Protocols:   []string{"http2", "grpc", "dns"},
		Transports:  []string{"tcp"},
		PortHints:   []uint16{80, 8080, 50051, 9090, 8443, 3000},
		Fields: append([]sdk.FieldSpec{
			{Name: "request.headers", Type: "map", Description: "request header fields as decoded, pseudo-headers included"},
			{Name: "response.headers", Type: "map", Description: "response header fields as decoded, pseudo-headers included"},
			{Name: "trailers", Type: "map", Description: "trailing header block of the request or response (gRPC status lives here)"},
			{Name: "interim", Type: "list", Description: "status codes of 1xx responses before the final one (response)"},
			{Name: "http2_stream_id", Type: "int", Description: "HTTP/2 stream the exchange used (request and response)"},
			{Name: "http2_error_code", Type: "string", Description: "RST_STREAM error code name, on the message of the side that reset the stream"},
			{Name: "hpack_unknown_fields", Type: "int", Description: "header fields that referred to HPACK table entries the capture did not see"},
			{Name: "missing_bytes", Type: "int", Description: "DATA bytes lost from the capture"},
			{Name: "content_encoding", Type: "string", Description: "Content-Encoding the body preview was decoded from"},
			{Name: "grpc_service", Type: "string", Description: "gRPC service from the path, e.g. helloworld.Greeter (request)"},
			{Name: "grpc_method", Type: "string", Description: "gRPC method from the path, e.g. SayHello (request)"},
			{Name: "grpc_status", Type: "int", Description: "gRPC status code (response)"},
			{Name: "grpc_status_derived", Type: "bool", Description: "grpc_status was derived from the HTTP status because no grpc-status was sent"},
			{Name: "grpc_message", Type: "string", Description: "grpc-message, percent-decoded (response)"},
			{Name: "grpc_encoding", Type: "string", Description: "grpc-encoding of the side's messages"},
			{Name: "grpc_compressed_messages", Type: "int", Description: "gRPC messages the side sent with the compressed flag"},
			{Name: "grpc_decompressed_messages", Type: "int", Description: "compressed gRPC messages the preview shows decompressed (gzip, deflate, snappy, zstd): flag cleared, length prefix the decoded length"},
			{Name: "grpc_preview_error", Type: "string", Description: "why compressed gRPC messages in the preview are left as sent (unsupported grpc-encoding, undecodable data)"},
			{Name: "grpc_request_messages", Type: "int", Description: "length-prefixed gRPC messages the client sent"},
			{Name: "grpc_response_messages", Type: "int", Description: "length-prefixed gRPC messages the server sent"},
			{Name: "dns_transport", Type: "string", Description: `"doh" on the dns record of a DNS over HTTPS exchange (RFC 8484), emitted besides the stream's http2 record`},
		}, dns.FieldSpecs()...),
	}
}

// Probe recognises the client preface, a server's opening SETTINGS, or a
// run of well-formed frames in a connection captured mid-stream.
func (*Dissector) Probe(_ sdk.Direction, data []byte) sdk.Probe {
	return probe(data)
}

// Open starts a connection.
func (*Dissector) Open(info sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	return newConn(info, out)
}
