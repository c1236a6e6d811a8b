package http2

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func TestProbe(t *testing.T) {
	c, s := newSide(), newSide()
	req := c.headers(1, true, ":method", "GET", ":path", "/", ":scheme", "http", ":authority", "x")
	resp := s.headers(1, false, ":status", "200", "content-type", "text/plain")
	tests := []struct {
		name       string
		data       []byte
		confident  bool // Confidence >= 50
		fromServer bool
		needMore   bool
	}{
		{"preface", []byte(preface), true, false, false},
		{"preface and settings", cat([]byte(preface), settings(3, 100)), true, false, false},
		{"partial preface", []byte("PRI * HTTP/2"), false, false, true},
		{"server settings", settings(3, 100, 4, 65535), true, true, false},
		{"empty settings", settings(), true, true, false},
		{"settings bad max frame", settings(5, 100), false, false, false},
		{"mid-stream request frames", cat(req, data(1, true, []byte("x"))), true, false, false},
		{"mid-stream response frames", cat(resp, data(1, true, []byte("hello"))), true, true, false},
		{"one frame only", req, false, false, true},
		{"short", []byte{0, 0}, false, false, true},
		{"http1 request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, false, false},
		{"http1 response", []byte("HTTP/1.1 200 OK\r\n\r\n"), false, false, false},
		{"http2 text status", []byte("HTTP/2 200\r\n\r\n"), false, false, false},
		{"tls client hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0, 0}, false, false, false},
		{"redis", []byte("*1\r\n$4\r\nPING\r\n"), false, false, false},
		{"postgres ssl request", []byte{0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f}, false, false, true},
		{"postgres startup", []byte{0, 0, 0, 0x54, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0}, false, false, false},
		{"zeros", make([]byte, 64), false, false, false},
		{"data on stream 0", cat(data(0, false, []byte("ab")), data(0, false, nil)), false, false, false},
	}
	d := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := d.Probe(sdk.DirA, tt.data)
			if got := p.Confidence >= 50; got != tt.confident {
				t.Errorf("confidence %d, want confident=%v", p.Confidence, tt.confident)
			}
			if p.FromServer != tt.fromServer {
				t.Errorf("FromServer %v, want %v", p.FromServer, tt.fromServer)
			}
			if p.NeedMore != tt.needMore {
				t.Errorf("NeedMore %v, want %v", p.NeedMore, tt.needMore)
			}
		})
	}
	if p := d.Probe(sdk.DirA, []byte(preface)); p.Confidence != 100 {
		t.Errorf("preface confidence %d", p.Confidence)
	}
}
