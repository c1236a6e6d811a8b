package mysql

import (
	"encoding/binary"
	"testing"
)

func TestProbe(t *testing.T) {
	pgStartup := []byte("\x00\x00\x00\x21\x00\x03\x00\x00user\x00alice\x00database\x00db\x00\x00")
	pgQuery := append([]byte{'Q', 0, 0, 0, 13}, []byte("select 1;\x00")...)
	binary.BigEndian.PutUint32(pgQuery[1:], uint32(len(pgQuery)-1))
	tests := []struct {
		name       string
		data       []byte
		min, max   uint8
		fromServer bool
	}{
		{"greeting", greetingPkt(baseCaps), 90, 100, true},
		{"query", query("SELECT * FROM t"), 60, 85, false},
		{"pings and query", cat(pkt(0, []byte{comPing}), pkt(0, []byte{comPing}), query("select 1")), 60, 85, false},
		{"ok responses", cat(okPkt(1, 0, 0), okPkt(1, 0, 0)), 50, 70, true},
		{"compressed command", compress(0, query("SELECT 1"), false), 60, 85, false},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0, 0, false},
		{"http response", []byte("HTTP/1.1 200 OK\r\n\r\n"), 0, 0, false},
		{"tls", []byte{0x16, 3, 1, 0, 0xc4, 1, 0, 0, 0xc0, 3, 3}, 0, 0, false},
		{"pg startup", pgStartup, 0, 0, false},
		{"pg ssl", []byte{0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f}, 0, 0, false},
		{"pg query", pgQuery, 0, 0, false},
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
