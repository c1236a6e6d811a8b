package http1

import "github.com/kubeshark-wasm/kubeshark/sdk"

// Version is the dissector's version, reported in every record.
const Version = "1.0.0"

// Manifest is the manifest of the built-in HTTP/1 module (c/http1.wasm),
// what its describe export returns, known to the host without compiling
// the module. dissectors.TestBuiltinManifests holds the two equal.
func Manifest() sdk.Manifest {
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
