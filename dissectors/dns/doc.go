// Package dns describes the built-in DNS dissector and holds the Go code
// that renders DNS messages as its records for other dissectors. The
// dissector itself is written in C (c/dns.c, built to the committed module
// c/dns.wasm that `make wasm` embeds; c/README.md): a module of 90 KB that
// compiles in milliseconds where the Go guest's 3.5 MB took a second, which
// is what a first start on DNS traffic pays (RATIONALE.md, "The DNS
// dissector in C"). This package keeps its manifest (Manifest, known to the
// host without compiling the module), the module's tests, and
// RecordFromMessages, which the HTTP/2 dissector (a Go guest) uses for DNS
// over HTTPS; tests hold RecordFromMessages to the module's records.
//
// The dissector reads DNS over UDP (one message per datagram) and over TCP
// (RFC 1035 §4.2.2 two-byte length prefix, several pipelined messages per
// connection). mDNS and LLMNR use the same format and are recognised too.
//
// One record per query/response pair. Queries wait per connection (a UDP
// 5-tuple or a TCP connection) and pair with the response carrying the same
// message id and question; several ids may be outstanding at once. A
// response whose query the capture missed still becomes a record, its method
// and path taken from its question section. Queries still unanswered when
// the connection closes are emitted with Error "no response captured".
//
// Method is the query type name ("A", "HTTPS", or "TYPE65280" for types
// without a mnemonic), Path the query name without its trailing dot, Status
// the header RCODE and StatusText its mnemonic.
//
// Other dissectors that carry whole DNS messages (the HTTP/2 dissector, for
// DNS over HTTPS) build their dns records with RecordFromMessages, the Go
// rendering the C module was ported from line by line and is tested
// against (TestRecordFromMessagesMatchesModule, FuzzDNS).
//
// Failed is set for every RCODE other than NOERROR: NXDOMAIN, SERVFAIL,
// REFUSED, FORMERR, NOTIMP and the UPDATE/TSIG errors. A name that does
// not resolve fails the lookup of whoever asked, which is how an incident
// shows up (a deleted Service, a typo in a config): counting NXDOMAIN as
// a success hid exactly those from failed, the error rates and the
// anomalies. The price is the steady NXDOMAIN of search-path expansion
// (ndots in Kubernetes pods); anomalies compare with a baseline, where it
// is already, and `failed && status_text != "NXDOMAIN"` leaves it out. A
// NOERROR answer with no records (NODATA) is not failed.
package dns
