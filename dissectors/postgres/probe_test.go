package postgres

import (
	"testing"
)

func TestProbe(t *testing.T) {
	tests := []struct {
		name       string
		data       []byte
		min, max   uint8
		fromServer bool
	}{
		{"startup", startup("user", "alice", "database", "db"), 90, 100, false},
		{"ssl request", sslRequest(), 90, 100, false},
		{"cancel", cat(u32(16), u32(codeCancel), u32(1), u32(2)), 85, 100, false},
		{"query mid-stream", msg('Q', cs("select now()")), 60, 85, false},
		{"parse mid-stream", parse("", "select $1"), 60, 85, false},
		{"backend auth", cat(msg('R', u32(0)), msg('S', cs("a"), cs("b"))), 60, 90, true},
		{"backend results", cat(dataRow("1"), msg('C', cs("SELECT 1")), msg('Z', []byte("I"))), 60, 90, true},
		{"http request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0, 0, false},
		{"http response", []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0, 0, false},
		{"tls hello", []byte{0x16, 3, 1, 0, 0xc4, 1, 0, 0, 0xc0, 3, 3}, 0, 0, false},
		{"mysql greeting", append([]byte{0x4a, 0, 0, 0, 0x0a}, []byte("8.0.32\x00\x01\x00\x00\x00abcdefgh\x00\xff\xff")...), 0, 0, false},
		{"mysql query", append([]byte{0x09, 0, 0, 0, 3}, []byte("SELECT 1")...), 0, 0, false},
		{"random", []byte{0x9a, 0x11, 0x42, 0xfe, 0x00, 0x13, 0x77, 0x01}, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New().Probe(0, tt.data)
			if p.Confidence < tt.min || p.Confidence > tt.max || (tt.min > 0 && p.FromServer != tt.fromServer) {
				t.Fatalf("probe %+v, want %d..%d fromServer %v", p, tt.min, tt.max, tt.fromServer)
			}
		})
	}
}
