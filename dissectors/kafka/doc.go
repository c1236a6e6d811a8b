// Package kafka is the Apache Kafka dissector: length-prefixed requests and
// responses, classic and flexible (KIP-482) encodings, paired per
// connection by correlation id.
//
// One record per request. Path names the topics a request touches for the
// APIs that carry topic names; Status is the first non-zero error code in
// the response. Messages larger than what one connection may hold are
// parsed from their first bytes and the rest is skipped, so a 50 MB Produce
// costs no more memory than a small one.
package kafka
