package http2

import (
	"encoding/base64"
	"github.com/kubeshark-wasm/kubeshark/sdk/preview"
	"net/url"
	"strconv"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dns"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// DNS over HTTPS (RFC 8484): a stream whose request or response is
// application/dns-message, or a GET with a dns= query parameter, carries
// one DNS exchange. Besides its http2 record it becomes a dns record, built
// by the DNS dissector's own code (dns.RecordFromMessages), so that DNS
// lookups read the same whichever transport carried them.

const (
	dohMediaType = "application/dns-message"
	// maxDNSMessage is the largest DNS message (RFC 8484 §6: the 16-bit
	// length of DNS over TCP bounds it); DoH bodies are kept whole up to it.
	maxDNSMessage = 65535
)

// isDNSMessage reports whether m's content-type is application/dns-message.
func (m *message) isDNSMessage() bool {
	ct, ok := m.header("content-type")
	if !ok {
		return false
	}
	// The media type is what precedes any parameters, trimmed and compared
	// without case, which is all mime.ParseMediaType would tell us here, and
	// it would build a map of the parameters on every stream.
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), dohMediaType)
}

// dohQueryParam returns the dns= parameter of a request target and whether
// there is one.
func dohQueryParam(path string) (string, bool) {
	_, query, ok := strings.Cut(path, "?")
	if !ok {
		return "", false
	}
	query, _, _ = strings.Cut(query, "#")
	for _, kv := range strings.Split(query, "&") {
		if v, ok := strings.CutPrefix(kv, "dns="); ok {
			return v, true
		}
	}
	return "", false
}

// decodeDNSParam decodes the base64url value of a dns= parameter. RFC 8484
// §4.1 says unpadded base64url; padding, percent-encoding and the standard
// alphabet are tolerated.
func decodeDNSParam(v string) ([]byte, bool) {
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	v = strings.TrimRight(v, "=")
	if b, err := base64.RawURLEncoding.DecodeString(v); err == nil {
		return b, true
	}
	if b, err := base64.RawStdEncoding.DecodeString(v); err == nil {
		return b, true
	}
	return nil, false
}

// isDoH reports whether the stream is a DNS over HTTPS exchange.
func (s *stream) isDoH() bool {
	if s.req.isDNSMessage() || s.resp.isDNSMessage() {
		return true
	}
	if s.req.seen && strings.EqualFold(s.req.method, "GET") {
		_, ok := dohQueryParam(s.req.path)
		return ok
	}
	return false
}

// dnsBody is the DNS message in m's body, when m says it carries one and
// the body was captured; otherwise why it is missing ("" when m has
// nothing to say).
func (m *message) dnsBody(side string) ([]byte, string) {
	if !m.seen || !m.isDNSMessage() {
		return nil, ""
	}
	if m.bodySize == 0 {
		return nil, side + " has no body"
	}
	body := m.body
	if m.encoding != "" {
		dec, ok := preview.Decode(body, m.encoding)
		if !ok {
			return nil, side + " body could not be decoded from " + m.encoding
		}
		body = dec
	}
	if len(body) == 0 {
		return nil, side + " body not captured"
	}
	return body, ""
}

// dohRecord is the dns record of a DoH stream, or nil when neither side
// carried a DNS message.
func (s *stream) dohRecord() *sdk.Record {
	req, resp := &s.req, &s.resp
	var query []byte
	var notes []string
	if req.seen && strings.EqualFold(req.method, "GET") {
		if v, ok := dohQueryParam(req.path); ok {
			if b, ok := decodeDNSParam(v); ok {
				query = b
			} else {
				notes = append(notes, "dns= parameter is not base64url")
			}
		}
	}
	if query == nil {
		b, why := req.dnsBody("request")
		query = b
		if why != "" {
			notes = append(notes, why)
		}
	}
	answer, why := resp.dnsBody("response")
	switch {
	case why != "":
		notes = append(notes, why)
	case answer == nil && resp.seen && resp.status != 0:
		notes = append(notes, "HTTP response "+strconv.Itoa(resp.status)+" carried no DNS message")
	case answer == nil && s.reset != "":
		notes = append(notes, "stream reset by "+s.resetBy+" ("+s.reset+")")
	}
	if query == nil && !req.seen && s.reqImplicit != "" {
		notes = append(notes, s.reqImplicit)
	}
	r, err := dns.RecordFromMessages(query, answer, strings.Join(notes, "; "))
	if err != nil {
		return nil
	}
	r.RequestDir = s.reqDir
	switch {
	case req.seen:
		r.Timestamp = nanos(req.start)
	case resp.seen:
		r.Timestamp = nanos(resp.start)
	}
	if r.Response != nil {
		r.End = nanos(resp.end)
		if r.Timestamp.IsZero() {
			r.Timestamp = nanos(resp.start)
		}
	}
	for _, m := range []*sdk.Message{r.Request, r.Response} {
		if m != nil {
			m.Set("dns_transport", "doh")
		}
	}
	return r
}
