// Package http2 is the built-in HTTP/2 cleartext dissector, which also
// reports gRPC calls. It is ordinary Go written against the sdk: the wasm/
// subdirectory builds it into a WebAssembly module, and its tests run
// natively.
//
// One record per stream. Frames of both directions are parsed as they come;
// header blocks (HEADERS or PUSH_PROMISE plus CONTINUATION) are decoded with
// one HPACK decoder per direction, because each direction has its own
// dynamic table. A stream becomes a record once both sides have ended it,
// when it is reset, when a GOAWAY says it will not be processed, or when the
// connection closes. A stream whose content-type is application/grpc* is a
// gRPC call: its status is grpc-status, and its messages are counted from
// their length prefixes. Messages sent compressed (grpc-encoding gzip,
// deflate, snappy or zstd) appear in the preview decoded, as if they had
// been sent uncompressed; decoding stops at the preview's size, so a
// decompression bomb costs no more than an ordinary message.
//
// Captures that start mid-connection, or lose bytes, miss HPACK table
// insertions. The decoder is fed one field at a time so that a reference to
// an unseen entry costs only that field, and the table starts over after a
// loss so that a stale table never produces wrong headers.
//
// A stream that carries DNS over HTTPS (RFC 8484: request or response
// content-type application/dns-message, or a GET with a dns= query
// parameter) becomes two records: its http2 record, unchanged, and a dns
// record built by the DNS dissector's own code (dns.RecordFromMessages)
// from the query (the POST body or the base64url dns= parameter) and the
// response body, so that a lookup reads the same whatever carried it. Its
// messages carry dns_transport "doh".
//
// An h2c upgrade is split between dissectors: HTTP/1 records the Upgrade
// request and its 101, then hands the connection over; the response on
// stream 1 that answers the upgraded request becomes a record without a
// request.
package http2
