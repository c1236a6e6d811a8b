// Package tls is the built-in TLS dissector. It reads metadata only: the
// plaintext ClientHello and ServerHello at the start of a connection, never
// the encrypted traffic after them.
//
// One record per ClientHello: Method "ClientHello", Path the SNI (empty
// without one), Status 0. The request carries the offered versions, SNI,
// ALPN, cipher suite count and the JA3 and JA4 fingerprints; the response
// carries what the ServerHello chose. A TLS 1.3 HelloRetryRequest answers
// the first ClientHello and the client's second ClientHello makes a second
// record, as tshark counts them. A server that answers with an Alert makes
// a Failed record whose StatusText is the alert's description.
//
// In TLS 1.2 and older the certificate and the client's verdict on it are
// plaintext too, so after such a ServerHello the record waits for the end
// of the handshake: a ChangeCipherSpec from either side completes it as
// the ServerHello left it, and a fatal alert from either side (the client's
// bad_certificate or certificate_expired when the certificate does not
// verify) makes it Failed, with tls_alert, tls_alert_level and
// tls_alert_from ("client" or "server"). TLS 1.3 encrypts all of that: a
// refused certificate there is an alert nobody but the two ends can read.
//
// After the hellos the rest of the connection is consumed unread. A
// connection seen mid-stream (records but no hello) is claimed with modest
// confidence, so that no other dissector misreads ciphertext, and produces
// no record.
//
// A ClientHello in SSL 2.0 format (RFC 5246 Appendix E.2: a 2-byte header
// with the high bit set, message type 1, 3-byte cipher specs, session id
// and challenge) is recognised too, whether SSLv2-compatible (version SSL
// 3.0 to TLS 1.2) or a pure SSL 2.0 CLIENT-HELLO (version 0x0002, as
// scanners send). Its probe confidence (75) is below a TLS hello's: every
// fixed field is checked and the lengths must add up to the header's, but
// such hellos are rare. Its record is marked tls_sslv2_hello; tls_version is
// the hello's version, which in this format is the highest offered; specs
// with a zero first byte are TLS cipher suites (counted as usual), the
// others SSL 2.0-only cipher kinds (listed in tls_sslv2_ciphers). There is
// no SNI, ALPN or supported_versions, since the format has no extensions.
// JA3 is what Zeek's ja3 script computes for these hellos (Zeek's SSL
// analyzer hands it the cipher specs as 24-bit numbers; salesforce's
// ja3.py skips them): every cipher spec as its number, which for a TLS
// suite is the suite's own, and empty extension, group and point format
// fields. JA4 is not computed: it is defined over the TLS ClientHello's
// 2-byte suites and its extensions. The server's answer is read as usual
// (TLS records), or, from an SSL 2.0 server, as a SERVER-HELLO (version and
// accepted cipher kinds) or an ERROR (a Failed record, like an alert).
package tls
