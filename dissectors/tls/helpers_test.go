package tls

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

// realClientHello captures the records crypto/tls sends to start a
// handshake.
func realClientHello(tb testing.TB, sni string, alpn []string) []byte {
	tb.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		// X25519 alone keeps the hello small (no post-quantum key share),
		// which keeps fuzz minimisation fast.
		c := tls.Client(a, &tls.Config{ServerName: sni, NextProtos: alpn, InsecureSkipVerify: true,
			CurvePreferences: []tls.CurveID{tls.X25519}})
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Handshake()
	}()
	b.SetDeadline(time.Now().Add(2 * time.Second))
	head := make([]byte, 5)
	if _, err := io.ReadFull(b, head); err != nil {
		tb.Fatal(err)
	}
	body := make([]byte, int(head[3])<<8|int(head[4]))
	if _, err := io.ReadFull(b, body); err != nil {
		tb.Fatal(err)
	}
	return append(head, body...)
}

// buildServerHello builds a ServerHello record choosing cipher, with
// supported_versions when version is TLS 1.3 and ALPN when alpn is set.
func buildServerHello(version, cipher int, alpn string, retry bool) []byte {
	var exts []byte
	if version == 0x0304 {
		exts = append(exts, 0, 43, 0, 2, 3, 4)
	}
	if alpn != "" {
		n := len(alpn)
		exts = append(exts, 0, 16, 0, byte(n+3), 0, byte(n+1), byte(n))
		exts = append(exts, alpn...)
	}
	body := []byte{3, 3}
	random := make([]byte, 32)
	if retry {
		random = helloRetryRandom[:]
	}
	body = append(body, random...)
	body = append(body, 0, byte(cipher>>8), byte(cipher), 0)
	body = append(body, byte(len(exts)>>8), byte(len(exts)))
	body = append(body, exts...)
	hs := append([]byte{2, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	return record(22, hs)
}

func record(typ byte, payload []byte) []byte {
	return append([]byte{typ, 3, 3, byte(len(payload) >> 8), byte(len(payload))}, payload...)
}
