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
// After the hellos the rest of the connection is consumed unread. A
// connection seen mid-stream (records but no hello) is claimed with modest
// confidence, so that no other dissector misreads ciphertext, and produces
// no record. SSLv2-compatible ClientHellos are not recognised.
package tls
