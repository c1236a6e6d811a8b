package tls

import (
	"errors"
	"fmt"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// SSL 2.0 framing (draft-hickman-netscape-ssl-00; RFC 5246 Appendix E.2
// for the SSLv2-compatible ClientHello): a 2-byte header whose high bit is
// set and whose other 15 bits are the length of the message after it. Only
// the first message of each direction is read in this format: the client's
// CLIENT-HELLO and, from an SSL 2.0 server, its SERVER-HELLO or ERROR.
const (
	v2ClientHello = 1
	v2ServerHello = 4
	v2Error       = 0

	// v2HelloFixed is the CLIENT-HELLO's fixed part: message type,
	// version, and the cipher-spec, session-id and challenge lengths.
	v2HelloFixed = 9
	// v2ServerFixed is the SERVER-HELLO's: message type, session-id hit,
	// certificate type, version, and the certificate, cipher-spec and
	// connection-id lengths.
	v2ServerFixed = 11
)

// v2Version accepts the versions a CLIENT-HELLO in SSL 2.0 format carries:
// 0x0002 from an SSL 2.0 client, SSL 3.0 to TLS 1.2 from a client that also
// speaks SSL 2.0. TLS 1.3 clients must not send one (RFC 8446 Appendix
// D.5), and their version would say 0x0303 anyway.
func v2Version(v int) bool { return v == 0x0002 || v >= 0x0300 && v <= 0x0303 }

// v2HelloLengths checks the fixed part of a CLIENT-HELLO (from its message
// type on) against the message length the header announced: cipher specs
// of 3 bytes each, a session id of at most 32 bytes, a challenge of 16 to
// 32 bytes, and nothing else.
func v2HelloLengths(fixed []byte, msgLen int) bool {
	specs := int(fixed[3])<<8 | int(fixed[4])
	sid := int(fixed[5])<<8 | int(fixed[6])
	challenge := int(fixed[7])<<8 | int(fixed[8])
	return specs > 0 && specs%3 == 0 && sid <= 32 && challenge >= 16 && challenge <= 32 &&
		msgLen == v2HelloFixed+specs+sid+challenge
}

// probeV2 judges a client's first bytes in SSL 2.0 format. Every field of
// the fixed part is checked and the lengths must add up to the header's
// exactly, so that binary protocols whose first byte has the high bit set
// are not mistaken for it; still, such hellos are rare (scanners, very old
// clients), so the confidence stays below a TLS record's.
func probeV2(data []byte) sdk.Probe {
	// Each check runs as soon as its bytes are there, so that a prefix is
	// only agreed with while it can still become a hello.
	msgLen := 0
	if len(data) >= 2 {
		msgLen = int(data[0]&0x7f)<<8 | int(data[1])
		if msgLen < v2HelloFixed+3+16 {
			return sdk.Probe{}
		}
	}
	if len(data) >= 3 && data[2] != v2ClientHello ||
		len(data) >= 4 && data[3] != 0 && data[3] != 3 ||
		len(data) >= 5 && !v2Version(int(data[3])<<8|int(data[4])) {
		return sdk.Probe{}
	}
	if len(data) < 2+v2HelloFixed {
		return sdk.Probe{NeedMore: true}
	}
	if !v2HelloLengths(data[2:], msgLen) {
		return sdk.Probe{}
	}
	return sdk.Probe{Confidence: 75}
}

// v2Hello is a CLIENT-HELLO read from SSL 2.0 framing.
type v2Hello struct {
	version int
	specs   []int // 3-byte cipher kinds as offered
}

func parseV2ClientHello(msg []byte) (*v2Hello, error) {
	if len(msg) < v2HelloFixed || msg[0] != v2ClientHello {
		return nil, errShort
	}
	if !v2HelloLengths(msg, len(msg)) {
		return nil, errors.New("SSLv2 CLIENT-HELLO lengths do not add up")
	}
	h := &v2Hello{version: int(msg[1])<<8 | int(msg[2])}
	if !v2Version(h.version) {
		return nil, fmt.Errorf("SSLv2 CLIENT-HELLO version 0x%04x", h.version)
	}
	n := int(msg[3])<<8 | int(msg[4])
	for specs := msg[v2HelloFixed : v2HelloFixed+n]; len(specs) >= 3; specs = specs[3:] {
		h.specs = append(h.specs, int(specs[0])<<16|int(specs[1])<<8|int(specs[2]))
	}
	return h, nil
}

// tlsSuite reports whether a cipher kind is a TLS cipher suite carried in
// SSL 2.0 format (RFC 5246 Appendix E.2: a zero byte, then the suite).
func tlsSuite(spec int) bool { return spec>>16 == 0 }

// v2CipherNames are the cipher kinds SSL 2.0 defines, and the one
// Netscape added.
var v2CipherNames = map[int]string{
	0x010080: "SSL_CK_RC4_128_WITH_MD5",
	0x020080: "SSL_CK_RC4_128_EXPORT40_WITH_MD5",
	0x030080: "SSL_CK_RC2_128_CBC_WITH_MD5",
	0x040080: "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5",
	0x050080: "SSL_CK_IDEA_128_CBC_WITH_MD5",
	0x060040: "SSL_CK_DES_64_CBC_WITH_MD5",
	0x0700c0: "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
	0x080080: "SSL_CK_RC4_64_WITH_MD5",
}

func v2CipherName(spec int) string {
	if s, ok := v2CipherNames[spec]; ok {
		return s
	}
	return fmt.Sprintf("0x%06x", spec)
}

// v2ErrorNames are the codes of an SSL 2.0 ERROR message, named like the
// TLS alerts that replaced them.
var v2ErrorNames = map[int]string{
	1: "no_cipher",
	2: "no_certificate",
	4: "bad_certificate",
	6: "unsupported_certificate_type",
}

func v2ErrorName(code int) string {
	if s, ok := v2ErrorNames[code]; ok {
		return s
	}
	return fmt.Sprintf("sslv2_error_%d", code)
}

// v2 reads the first message of a direction in SSL 2.0 framing. It
// returns Feed's results.
func (c *conn) v2(dir sdk.Direction, s *side, data []byte, first, last int64) (int, int) {
	if len(data) < 3 {
		return 0, 3
	}
	n := int(data[0]&0x7f)<<8 | int(data[1])
	answer := c.cur != nil && c.cur.rec.RequestDir != dir
	// Judge the message type before waiting for the whole message, so
	// that non-TLS bytes are not held for up to 32 KiB.
	ok := false
	switch data[2] {
	case v2ClientHello:
		ok = c.cur == nil && n >= v2HelloFixed
	case v2ServerHello:
		ok = answer && n >= v2ServerFixed
	case v2Error:
		ok = answer && n == 3
	}
	if !ok {
		return c.notTLS(dir, s, len(data), last)
	}
	if len(data) < 2+n {
		return 0, 2 + n
	}
	s.started = true
	msg := data[2 : 2+n]
	if msg[0] == v2ClientHello {
		s.start, s.size = first, 2+n
		c.v2ClientHello(dir, s, msg)
		// Whatever follows comes in TLS records (the answer to an
		// SSLv2-compatible hello), or is encrypted.
		return 2 + n, 0
	}
	r := c.cur.rec
	resp := &sdk.Message{Size: int64(2 + n)}
	r.Response = resp
	if msg[0] == v2Error {
		code := int(msg[1])<<8 | int(msg[2])
		resp.Set("tls_alert", v2ErrorName(code)).Set("tls_alert_level", "fatal")
		r.StatusText = v2ErrorName(code)
		c.finish(last, "", true)
		c.answered = true
		return 2 + n, 0
	}
	version := int(msg[3])<<8 | int(msg[4])
	cert := int(msg[5])<<8 | int(msg[6])
	specs := int(msg[7])<<8 | int(msg[8])
	conn := int(msg[9])<<8 | int(msg[10])
	r.StatusText = "ServerHello"
	if v2ServerFixed+cert+specs+conn != n || specs%3 != 0 {
		c.finish(last, "malformed SSLv2 SERVER-HELLO", true)
		c.answered = true
		return 2 + n, 0
	}
	resp.Set("tls_version", versionName(version))
	var names []string
	for b := msg[v2ServerFixed+cert : v2ServerFixed+cert+specs]; len(b) >= 3 && len(names) < maxList; b = b[3:] {
		names = append(names, v2CipherName(int(b[0])<<16|int(b[1])<<8|int(b[2])))
	}
	if names != nil {
		resp.Set("tls_sslv2_ciphers", names)
	}
	c.finish(last, "", false)
	c.answered = true
	return 2 + n, 0
}

// v2ClientHello records a CLIENT-HELLO in SSL 2.0 format. It has no
// extensions, so no SNI, ALPN or supported_versions: its version field is
// the highest the client offers.
func (c *conn) v2ClientHello(dir sdk.Direction, s *side, msg []byte) {
	r := &sdk.Record{Protocol: "tls", Method: "ClientHello", Timestamp: nanos(s.start), RequestDir: dir}
	req := &sdk.Message{Size: int64(s.size)}
	r.Request = req
	c.cur = &exchange{rec: r}
	req.Set("tls_sslv2_hello", true)
	h, err := parseV2ClientHello(msg)
	if err != nil {
		r.Error = "malformed ClientHello: " + err.Error()
		r.Failed = true
		s.done = true
		return
	}
	req.Set("tls_version", versionName(h.version))
	suites := 0
	var v2Only []string
	for _, spec := range h.specs {
		switch {
		case !tlsSuite(spec):
			if len(v2Only) < maxList {
				v2Only = append(v2Only, v2CipherName(spec))
			}
		case !grease(spec):
			suites++
		}
	}
	req.Set("tls_cipher_suites", suites)
	if v2Only != nil {
		req.Set("tls_sslv2_ciphers", v2Only)
	}
	// JA3 as Zeek's ja3 script computes it for these hellos, so that
	// fingerprints match what Zeek users share: each cipher kind as its
	// 24-bit number (a TLS suite's is the suite's own), and no
	// extensions, groups or point formats. JA4 is left out: it is defined
	// over the TLS ClientHello's 2-byte suites and extensions.
	js, jh := ja3(&clientHello{version: h.version, ciphers: h.specs})
	req.Set("ja3", jh).Set("ja3_string", js)
}
