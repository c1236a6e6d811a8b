package dns

import (
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

func TestProbe(t *testing.T) {
	q := buildQuery(t, 7, "example.com.", dnsmessage.TypeA)
	r := buildResponse(t, 7, "example.com.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "192.0.2.1")
	tests := []struct {
		name       string
		data       []byte
		confident  bool
		fromServer bool
		needMore   bool
	}{
		{"udp query", q, true, false, false},
		{"udp response", r, true, true, false},
		{"tcp query", tcpFrame(q), true, false, false},
		{"tcp response", tcpFrame(r), true, true, false},
		{"tcp two pipelined", append(tcpFrame(q), tcpFrame(q)...), true, false, false},
		{"tcp partial", tcpFrame(q)[:20], false, false, true},
		{"empty", nil, false, false, true},
		{"http", []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), false, false, false},
		{"http response", []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), false, false, false},
		{"redis", []byte("*1\r\n$4\r\nPING\r\n"), false, false, false},
		{"tls client hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x5a, 0x11, 0x22, 0x33, 0x44, 0x55}, false, false, false},
		{"postgres startup", []byte{0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f}, false, false, false},
		{"zeros", make([]byte, 64), false, false, false},
		{"query with rcode", func() []byte { b := append([]byte(nil), q...); b[3] |= 2; return b }(), false, false, false},
		{"count overflow", func() []byte { b := append([]byte(nil), q...); b[7] = 9; return b }(), false, false, false},
		{"bad opcode", func() []byte { b := append([]byte(nil), q...); b[2] |= 3 << 3; return b }(), false, false, false},
		{"forward pointer", []byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x20, 0, 1, 0, 1}, false, false, false},
		{"control chars in name", []byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 1, 2, 0, 0, 1, 0, 1}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := under(t).Probe(0, tt.data)
			if got := p.Confidence >= 50; got != tt.confident {
				t.Errorf("confidence %d", p.Confidence)
			}
			if tt.confident && p.FromServer != tt.fromServer {
				t.Errorf("FromServer %v", p.FromServer)
			}
			if p.NeedMore != tt.needMore {
				t.Errorf("NeedMore %v", p.NeedMore)
			}
		})
	}
}
