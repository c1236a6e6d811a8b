package tls

import (
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Version is the dissector's version.
const Version = "1.1.0"

// Limits that keep hostile traffic from growing a connection's memory.
const (
	maxRecord    = 16384 + 2048 // TLSCiphertext.length may reach 2^14+2048
	maxHandshake = 128 << 10    // bytes of one hello message, reassembled
	maxList      = 256          // entries kept of any list field
)

// Dissector implements sdk.Dissector for TLS.
type Dissector struct{}

// New returns the TLS dissector.
func New() *Dissector { return &Dissector{} }

// Manifest describes the dissector.
func (*Dissector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "tls",
		Version:     Version,
		Description: "TLS handshake metadata: ClientHello/ServerHello (also SSLv2-compatible hellos), SNI, ALPN, versions, JA3 and JA4",
		Protocols:   []string{"tls"},
		Transports:  []string{"tcp"},
		PortHints:   []uint16{443, 8443, 993, 995, 465, 636, 853, 6443},
		Fields: []sdk.FieldSpec{
			{Name: "request.tls_version", Type: "string", Description: "legacy_version of the ClientHello, e.g. TLS 1.2 (for an SSLv2-format hello, the highest version offered)"},
			{Name: "request.tls_sslv2_hello", Type: "bool", Description: "the ClientHello came in SSL 2.0 format (SSLv2-compatible, or an SSL 2.0 CLIENT-HELLO): no extensions, so no SNI, ALPN or JA4"},
			{Name: "request.tls_sslv2_ciphers", Type: "list", Description: "SSL 2.0-only cipher kinds an SSLv2-format hello offered, by name or as hex"},
			{Name: "request.tls_supported_versions", Type: "list", Description: "versions offered in supported_versions, GREASE removed"},
			{Name: "request.tls_sni", Type: "string", Description: "server name indication"},
			{Name: "request.tls_alpn", Type: "list", Description: "application protocols offered"},
			{Name: "request.tls_cipher_suites", Type: "int", Description: "number of TLS cipher suites offered, GREASE (and SSL 2.0-only cipher kinds) removed"},
			{Name: "request.ja3", Type: "string", Description: "JA3 fingerprint (MD5 of ja3_string)"},
			{Name: "request.ja3_string", Type: "string", Description: "JA3 input: version,ciphers,extensions,groups,point formats (SSLv2-format hellos: each 3-byte cipher kind as a number, no extensions)"},
			{Name: "request.ja4", Type: "string", Description: "JA4 fingerprint (FoxIO); absent for SSLv2-format hellos"},
			{Name: "response.tls_version", Type: "string", Description: "negotiated version, from supported_versions when present"},
			{Name: "response.tls_sslv2_ciphers", Type: "list", Description: "cipher kinds an SSL 2.0 SERVER-HELLO accepts"},
			{Name: "response.tls_cipher_suite", Type: "string", Description: "cipher suite chosen by the server"},
			{Name: "response.tls_alpn", Type: "string", Description: "application protocol selected by the server"},
			{Name: "response.tls_hello_retry", Type: "bool", Description: "the ServerHello was a TLS 1.3 HelloRetryRequest"},
			{Name: "response.tls_alert", Type: "string", Description: "description of the alert (or SSL 2.0 ERROR) that ended the handshake: the server's answer to the hello, or in TLS 1.2 either side's (bad_certificate, certificate_expired, ...)"},
			{Name: "response.tls_alert_level", Type: "string", Description: "warning or fatal"},
			{Name: "response.tls_alert_from", Type: "string", Description: "who sent the alert: client or server"},
		},
	}
}

// Probe recognises a hello record, or with modest confidence any TLS record.
func (*Dissector) Probe(_ sdk.Direction, data []byte) sdk.Probe {
	return probe(data)
}

// Open starts a connection.
func (*Dissector) Open(_ sdk.ConnInfo, out sdk.Emitter) sdk.Conn {
	return &conn{out: out}
}
