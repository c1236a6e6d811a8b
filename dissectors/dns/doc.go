// Package dns is the built-in DNS dissector: DNS over UDP (one message per
// datagram) and over TCP (RFC 1035 §4.2.2 two-byte length prefix, several
// pipelined messages per connection). mDNS and LLMNR use the same format and
// are recognised too.
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
// DNS over HTTPS) build their dns records with RecordFromMessages, which is
// the code this dissector's own records come from.
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
