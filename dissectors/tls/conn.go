package tls

import (
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// side is the record parser of one direction.
type side struct {
	hs    []byte // handshake bytes not yet parsed into a message
	size  int    // wire bytes of the records carrying the message in hs
	start int64  // capture time of the first of those records
	done  bool   // nothing more to read here: the rest is consumed unread
	// started: a message was read in this direction, so SSL 2.0 framing
	// (first messages only) no longer applies.
	started bool
}

// exchange is a ClientHello waiting for the server's answer.
type exchange struct {
	rec *sdk.Record
}

type conn struct {
	out      sdk.Emitter
	sides    [2]side
	cur      *exchange
	retry    bool // a HelloRetryRequest was answered: a second ClientHello follows
	answered bool // the server's answer ended the hello phase
	// held: a TLS 1.2 (or older) ServerHello answered cur, whose record
	// waits for the end of the plaintext handshake: a ChangeCipherSpec
	// (the client accepted the certificate) or an alert (it did not:
	// bad_certificate, certificate_expired, ...). heldEnd is the
	// ServerHello's time, the end of a record that completes.
	held    bool
	heldEnd int64
}

func nanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Feed reads one TLS record at a time while the hellos are in flight, and
// swallows everything once they are done.
func (c *conn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	s := &c.sides[dir]
	if s.done || c.answered {
		return len(data), 0
	}
	if !s.started && len(data) > 0 && data[0]&0x80 != 0 {
		return c.v2(dir, s, data, first, last)
	}
	if len(data) < 5 {
		return 0, 5
	}
	typ, length, ok := recordHeader(data)
	if !ok {
		return c.notTLS(dir, s, len(data), last)
	}
	if len(data) < 5+length {
		return 0, 5 + length
	}
	s.started = true
	c.record(dir, s, typ, data[5:5+length], first, last)
	return 5 + length, 0
}

// notTLS gives up on a direction that does not (or no longer) speak TLS: a
// plaintext reply to a ClientHello, or damage. It consumes the n bytes
// offered.
func (c *conn) notTLS(dir sdk.Direction, s *side, n int, last int64) (int, int) {
	s.done = true
	if c.cur != nil && c.cur.rec.RequestDir != dir {
		c.finish(last, "server did not answer in TLS", true)
	}
	return n, 0
}

func (c *conn) record(dir sdk.Direction, s *side, typ byte, body []byte, first, last int64) {
	switch typ {
	case 22: // handshake
		if len(s.hs) == 0 {
			s.start = first
		}
		s.size += 5 + len(body)
		if len(s.hs)+len(body) > maxHandshake {
			s.done = true
			return
		}
		s.hs = append(s.hs, body...)
		c.handshake(dir, s, last)
	case 20: // change_cipher_spec
		if c.held {
			// Either side's ChangeCipherSpec ends the plaintext handshake
			// without an alert: the client took the certificate, or the
			// server resumed a session.
			c.held = false
			c.finish(c.heldEnd, "", false)
			c.answered = true
			return
		}
		// TLS 1.3 middlebox compatibility puts one before the second
		// ClientHello; otherwise what follows it is encrypted.
		if !c.retry {
			s.done = true
		}
	case 21: // alert
		if c.cur != nil && len(body) == 2 && (c.held || c.cur.rec.RequestDir != dir) {
			r := c.cur.rec
			level := "warning"
			if body[0] == 2 {
				level = "fatal"
			}
			if r.Response == nil {
				r.Response = &sdk.Message{}
			}
			from := "server"
			if dir == r.RequestDir {
				from = "client"
			}
			r.Response.Size += int64(5 + len(body))
			r.Response.Set("tls_alert", alertName(int(body[1]))).Set("tls_alert_level", level).Set("tls_alert_from", from)
			r.StatusText = alertName(int(body[1]))
			c.held = false
			// A warning from the server answering the hello is a refusal
			// all the same; after the ServerHello only a fatal alert is.
			c.finish(last, "", level == "fatal" || from == "server")
			c.answered = true
			return
		}
		s.done = true
	default:
		s.done = true
	}
}

// handshake parses the complete handshake messages gathered in s.hs.
func (c *conn) handshake(dir sdk.Direction, s *side, last int64) {
	for !s.done && len(s.hs) >= 4 {
		n := int(s.hs[1])<<16 | int(s.hs[2])<<8 | int(s.hs[3])
		if n > maxHandshake {
			s.done = true
			return
		}
		if len(s.hs) < 4+n {
			return
		}
		msgType, body := s.hs[0], s.hs[4:4+n]
		switch msgType {
		case 1:
			c.clientHello(dir, s, body)
		case 2:
			c.serverHello(dir, s, body, last)
		default:
			if !c.held {
				// Anything else ends the plaintext hellos of this direction.
				s.done = true
				return
			}
			// Certificate, key exchange, ServerHelloDone: the rest of a
			// TLS 1.2 handshake, read past until it ends.
		}
		s.hs = s.hs[4+n:]
		if len(s.hs) == 0 {
			s.hs = nil
		}
		s.size = 0
	}
}

func (c *conn) clientHello(dir sdk.Direction, s *side, body []byte) {
	if c.cur != nil {
		c.finish(0, "no response captured", false)
	}
	c.retry = false
	r := &sdk.Record{Protocol: "tls", Method: "ClientHello", Timestamp: nanos(s.start), RequestDir: dir}
	req := &sdk.Message{Size: int64(s.size)}
	r.Request = req
	c.cur = &exchange{rec: r}
	ch, err := parseClientHello(body)
	if err != nil {
		r.Error = "malformed ClientHello"
		r.Failed = true
		s.done = true
		return
	}
	r.Path = ch.sni
	req.Set("tls_version", versionName(ch.version))
	var versions []string
	for _, v := range ch.versions {
		if !grease(v) {
			versions = append(versions, versionName(v))
		}
	}
	if versions != nil {
		req.Set("tls_supported_versions", versions)
	}
	if ch.hasSNI {
		req.Set("tls_sni", ch.sni)
	}
	if ch.alpn != nil {
		req.Set("tls_alpn", ch.alpn)
	}
	n := 0
	for _, cs := range ch.ciphers {
		if !grease(cs) {
			n++
		}
	}
	req.Set("tls_cipher_suites", n)
	js, jh := ja3(ch)
	req.Set("ja3", jh).Set("ja3_string", js).Set("ja4", ja4(ch))
}

func (c *conn) serverHello(dir sdk.Direction, s *side, body []byte, last int64) {
	sh, err := parseServerHello(body)
	if c.cur == nil || c.cur.rec.RequestDir == dir {
		// No ClientHello to answer (the capture lost it): tshark counts
		// ClientHellos only, and so do we.
		if err != nil || !sh.retry {
			c.answered = true
		}
		return
	}
	r := c.cur.rec
	resp := &sdk.Message{Size: int64(s.size)}
	r.Response = resp
	if err != nil {
		r.StatusText = "ServerHello"
		c.finish(last, "malformed ServerHello", true)
		c.answered = true
		return
	}
	resp.Set("tls_version", versionName(sh.version)).Set("tls_cipher_suite", cipherName(sh.cipher))
	if sh.alpn != "" {
		resp.Set("tls_alpn", sh.alpn)
	}
	if sh.retry {
		resp.Set("tls_hello_retry", true)
		r.StatusText = "HelloRetryRequest"
		c.finish(last, "", false)
		c.retry = true
		return
	}
	r.StatusText = "ServerHello"
	if sh.version < 0x0304 {
		// TLS 1.2 and older send the certificate and the client's verdict
		// on it in plaintext: the record waits for them.
		c.held, c.heldEnd = true, last
		return
	}
	c.finish(last, "", false)
	c.answered = true
}

// finish emits the pending exchange.
func (c *conn) finish(end int64, note string, failed bool) {
	r := c.cur.rec
	c.cur = nil
	r.End = nanos(end)
	if failed {
		r.Failed = true
	}
	if note != "" {
		if r.Error != "" {
			r.Error += "; "
		}
		r.Error += note
	}
	r.Summary = summary(r)
	c.out.Emit(r)
}

func summary(r *sdk.Record) string {
	var b strings.Builder
	b.WriteString("ClientHello")
	if r.Path != "" {
		b.WriteString(" " + r.Path)
	}
	if r.Response == nil {
		return b.String()
	}
	b.WriteString(" →")
	if a, ok := stringField(r.Response, "tls_alert"); ok {
		return b.String() + " alert " + a
	}
	for _, k := range []string{"tls_version", "tls_cipher_suite", "tls_alpn"} {
		if v, ok := stringField(r.Response, k); ok {
			b.WriteString(" " + v)
		}
	}
	if r.StatusText == "HelloRetryRequest" {
		b.WriteString(" (HelloRetryRequest)")
	}
	return b.String()
}

// Gap ends the reading of a direction: a hello cut by lost bytes cannot be
// trusted, and after the hellos nothing is read anyway.
func (c *conn) Gap(dir sdk.Direction, _ int, _ int64) {
	c.sides[dir].done = true
	c.sides[dir].hs = nil
	if c.held {
		c.held = false
		c.finish(c.heldEnd, "", false)
		c.answered = true
	}
}

// Close emits a ClientHello that never saw an answer, and one whose TLS 1.2
// handshake the connection's end cut short (neither ChangeCipherSpec nor
// alert), as the ServerHello left it: a capture that ends there says
// nothing against the certificate.
func (c *conn) Close(int64) {
	if c.held {
		c.held = false
		c.finish(c.heldEnd, "", false)
		return
	}
	if c.cur != nil {
		c.finish(0, "no response captured", false)
	}
}

// stringField reads a string field of m, which Set may have kept in the
// Fields map or (inside a wasm guest) in its list.
func stringField(m *sdk.Message, key string) (string, bool) {
	v, _ := m.Get(key)
	s, ok := v.(string)
	return s, ok
}
