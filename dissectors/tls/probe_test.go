package tls

import "testing"

func TestProbe(t *testing.T) {
	ch := realClientHello(t, "example.com", []string{"h2"})
	sh := buildServerHello(0x0304, 0x1301, "", false)
	appdata := append(record(23, make([]byte, 40)), record(23, make([]byte, 30))...)
	tests := []struct {
		name                 string
		data                 []byte
		confident, fromServe bool
		needMore             bool
	}{
		{"client hello", ch, true, false, false},
		{"client hello first segment", ch[:20], true, false, false},
		{"server hello", sh, true, true, false},
		{"mid-stream app data", appdata, true, false, false},
		{"one partial app data record", appdata[:20], true, false, true},
		{"short prefix", ch[:3], false, false, true},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, false, false},
		{"ssh", []byte("SSH-2.0-OpenSSH_9.6\r\n"), false, false, false},
		{"zero length record", []byte{23, 3, 3, 0, 0, 23, 3, 3, 0, 1, 0}, false, false, false},
		{"app data then junk", append(record(23, make([]byte, 10)), "junkjunk"...), false, false, false},
		{"hello with bad inner version", append(append([]byte(nil), ch[:9]...), 7, 7, 0, 0), false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New().Probe(0, tt.data)
			if got := p.Confidence >= 50; got != tt.confident {
				t.Errorf("confidence %d", p.Confidence)
			}
			if p.FromServer != tt.fromServe {
				t.Errorf("FromServer %v", p.FromServer)
			}
			if p.NeedMore != tt.needMore {
				t.Errorf("NeedMore %v", p.NeedMore)
			}
			if tt.name == "client hello" && p.Confidence < 90 {
				t.Errorf("hello confidence %d", p.Confidence)
			}
			if tt.name == "mid-stream app data" && p.Confidence >= 90 {
				t.Errorf("mid-stream confidence %d", p.Confidence)
			}
		})
	}
}
