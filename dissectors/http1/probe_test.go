package http1

import (
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func TestProbe(t *testing.T) {
	clientHello := []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, ' ', 'G', 'E', 'T', '\n', 0x00}
	tests := []struct {
		name       string
		data       string
		confident  bool // Confidence >= 50
		fromServer bool
		needMore   bool
	}{
		{"GET", "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", true, false, false},
		{"POST with query", "POST /a?b=c HTTP/1.0\r\n", true, false, false},
		{"PROPFIND", "PROPFIND /dav/ HTTP/1.1\r\n", true, false, false},
		{"CCM_POST", "CCM_POST /cgi HTTP/1.1\r\n", true, false, false},
		{"M-SEARCH", "M-SEARCH * HTTP/1.1\r\n", true, false, false},
		{"OPTIONS star", "OPTIONS * HTTP/1.1\r\n", true, false, false},
		{"no line end yet", "GET / HTTP/1.1", true, false, false},
		{"status 200", "HTTP/1.1 200 OK\r\n", true, true, false},
		{"status 1.0 404", "HTTP/1.0 404 Not Found\r\n", true, true, false},
		{"status no reason", "HTTP/1.1 204\r\n", true, true, false},
		{"long target", "GET /" + strings.Repeat("a", 20<<10) + " HTTP/1.1\r\n", true, false, false},
		{"partial method", "GE", false, false, true},
		{"partial target", "GET /ind", false, false, true},
		{"partial version", "GET / HTT", false, false, true},
		{"partial status", "HTTP/1.", false, false, true},
		{"partial status code", "HTTP/1.1 2", false, false, true},
		{"empty", "", false, false, true},
		{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", false, false, false},
		{"h2 preface line", "PRI * HTTP/2.0\r\n", false, false, false},
		{"HTTP/2 status", "HTTP/2 200\r\n", false, false, false},
		{"binary junk", "\x00\x01\x02\xff\xfe GET / HTTP/1.1\r\n", false, false, false},
		{"lowercase", "get / HTTP/1.1\r\n", false, false, false},
		{"lowercase text", "hello world, how are you\r\n", false, false, false},
		{"tls client hello", string(clientHello), false, false, false},
		{"redis", "*1\r\n$4\r\nPING\r\n", false, false, false},
		{"smtp", "220 mail.example.com ESMTP\r\n", false, false, false},
		{"wrong version", "GET / FTP/1.0\r\n", false, false, false},
	}
	d := under(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, dir := range []sdk.Direction{sdk.DirA, sdk.DirB} {
				p := d.Probe(dir, []byte(tt.data))
				if got := p.Confidence >= 50; got != tt.confident {
					t.Errorf("confidence %d, want confident=%v", p.Confidence, tt.confident)
				}
				if !tt.confident && !tt.needMore && p.Confidence != 0 {
					t.Errorf("confidence %d, want 0", p.Confidence)
				}
				if p.FromServer != tt.fromServer {
					t.Errorf("FromServer %v, want %v", p.FromServer, tt.fromServer)
				}
				if p.NeedMore != tt.needMore {
					t.Errorf("NeedMore %v, want %v", p.NeedMore, tt.needMore)
				}
			}
		})
	}
}

func TestManifest(t *testing.T) {
	m := Manifest()
	if m.Name != "http" || !m.HasTransport("tcp") || m.HasTransport("udp") || len(m.Protocols) != 1 || m.Protocols[0] != "http" {
		t.Fatalf("manifest %+v", m)
	}
}
