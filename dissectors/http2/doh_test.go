package http2

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

func mustDNS(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// dnsQuery packs a DoH query: id 0 as RFC 8484 §4.1 recommends, EDNS.
func dnsQuery(t *testing.T, name string, typ dnsmessage.Type) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{RecursionDesired: true})
	mustDNS(t, b.StartQuestions())
	mustDNS(t, b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}))
	mustDNS(t, b.StartAdditionals())
	var rh dnsmessage.ResourceHeader
	mustDNS(t, rh.SetEDNS0(4096, 0, false))
	mustDNS(t, b.OPTResource(rh, dnsmessage.OPTResource{}))
	out, err := b.Finish()
	mustDNS(t, err)
	return out
}

// dnsAnswer packs the response to dnsQuery with one A record per address.
func dnsAnswer(t *testing.T, name string, typ dnsmessage.Type, rcode dnsmessage.RCode, addrs ...string) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{Response: true, RecursionDesired: true, RecursionAvailable: true, RCode: rcode})
	b.EnableCompression()
	mustDNS(t, b.StartQuestions())
	n := dnsmessage.MustNewName(name)
	mustDNS(t, b.Question(dnsmessage.Question{Name: n, Type: typ, Class: dnsmessage.ClassINET}))
	mustDNS(t, b.StartAnswers())
	for _, a := range addrs {
		h := dnsmessage.ResourceHeader{Name: n, Class: dnsmessage.ClassINET, TTL: 300}
		mustDNS(t, b.AResource(h, dnsmessage.AResource{A: netip.MustParseAddr(a).As4()}))
	}
	out, err := b.Finish()
	mustDNS(t, err)
	return out
}

// viaDNS is the record the DNS dissector itself (the built-in module,
// c/dns.wasm, run by the host) emits for query and response carried over
// UDP.
func viaDNS(t *testing.T, query, response []byte) *sdk.Record {
	t.Helper()
	dr := sdktest.Open(dissectortest.NewGuest(t, dissectortest.Wasm(t, "dns")), sdk.ConnInfo{ID: 9, PortA: 40000, PortB: 53, UDP: true, Oriented: true})
	if query != nil {
		dr.Feed(cli, query, 10)
	}
	if response != nil {
		dr.Feed(srv, response, 20)
	}
	dr.Close(30)
	if len(dr.Records) != 1 {
		t.Fatalf("dns dissector emitted %d records", len(dr.Records))
	}
	return dr.Records[0]
}

// fieldsJSON renders a message's fields, without dns_transport, for
// comparison.
func fieldsJSON(t *testing.T, m *sdk.Message) string {
	t.Helper()
	if m == nil {
		return "null"
	}
	f := map[string]any{}
	for k, v := range m.Fields {
		if k != "dns_transport" {
			f[k] = v
		}
	}
	b, err := json.Marshal(f)
	mustDNS(t, err)
	return string(b)
}

// checkDoH checks that r is the record the DNS dissector builds for query
// and response, marked as carried by DoH.
func checkDoH(t *testing.T, r *sdk.Record, query, response []byte) {
	t.Helper()
	want := viaDNS(t, query, response)
	if r.Protocol != "dns" || r.Method != want.Method || r.Path != want.Path || r.Status != want.Status ||
		r.StatusText != want.StatusText || r.Failed != want.Failed || r.Summary != want.Summary {
		t.Fatalf("dns record %+v\nwant %+v", r, want)
	}
	if (r.Request == nil) != (want.Request == nil) || (r.Response == nil) != (want.Response == nil) {
		t.Fatalf("request %v response %v, want %v %v", r.Request, r.Response, want.Request, want.Response)
	}
	for _, p := range [][2]*sdk.Message{{r.Request, want.Request}, {r.Response, want.Response}} {
		if got, exp := fieldsJSON(t, p[0]), fieldsJSON(t, p[1]); got != exp {
			t.Fatalf("fields\n got %s\nwant %s", got, exp)
		}
		if p[0] != nil {
			if p[0].Fields["dns_transport"] != "doh" {
				t.Fatalf("dns_transport %v", p[0].Fields["dns_transport"])
			}
			if p[0].Size != p[1].Size {
				t.Fatalf("size %d, want %d", p[0].Size, p[1].Size)
			}
		}
	}
	if r.RequestDir != cli {
		t.Fatalf("request dir %d", r.RequestDir)
	}
}

func dohGet(c *side, stream uint32, q []byte) []byte {
	return c.headers(stream, true, ":method", "GET", ":scheme", "https", ":authority", "dns.example",
		":path", "/dns-query?dns="+base64.RawURLEncoding.EncodeToString(q), "accept", "application/dns-message")
}

func dohPost(c *side, stream uint32, q []byte) []byte {
	return cat(c.headers(stream, false, ":method", "POST", ":scheme", "https", ":authority", "dns.example",
		":path", "/dns-query", "accept", "application/dns-message", "content-type", "application/dns-message"),
		data(stream, true, q))
}

func dohResponse(s *side, stream uint32, r []byte) []byte {
	return cat(s.headers(stream, false, ":status", "200", "content-type", "application/dns-message", "cache-control", "max-age=300"),
		data(stream, true, r))
}

func TestDoHGet(t *testing.T) {
	qa := dnsQuery(t, "www.example.com.", dnsmessage.TypeA)
	ra := dnsAnswer(t, "www.example.com.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "192.0.2.1", "192.0.2.2", "192.0.2.3")
	qh := dnsQuery(t, "svc.example.com.", dnsmessage.TypeHTTPS)
	rh := dnsAnswer(t, "svc.example.com.", dnsmessage.TypeHTTPS, dnsmessage.RCodeNameError)

	c, s := newSide(), newSide()
	dr := open(true)
	dr.Feed(cli, cat([]byte(preface), settings(), dohGet(c, 1, qa), dohGet(c, 3, qh)), 100)
	dr.Feed(srv, cat(settings(), dohResponse(s, 3, rh)), 200)
	dr.Feed(srv, dohResponse(s, 1, ra), 300)
	dr.Close(400)

	path1 := "/dns-query?dns=" + base64.RawURLEncoding.EncodeToString(qa)
	path3 := "/dns-query?dns=" + base64.RawURLEncoding.EncodeToString(qh)
	wantBriefs(t, dr,
		"http2 GET "+path3+" -> 200", "dns HTTPS svc.example.com -> 3 NXDOMAIN failed",
		"http2 GET "+path1+" -> 200", "dns A www.example.com -> 0 NOERROR")
	checkDoH(t, dr.Records[1], qh, rh)
	checkDoH(t, dr.Records[3], qa, ra)
	r := dr.Records[3]
	if r.Timestamp.UnixNano() != 100 || r.End.UnixNano() != 300 || r.Error != "" {
		t.Fatalf("timestamp %d end %d error %q", r.Timestamp.UnixNano(), r.End.UnixNano(), r.Error)
	}
	if r.Summary != "A www.example.com → NOERROR 192.0.2.1 192.0.2.2 +1 more" {
		t.Fatalf("summary %q", r.Summary)
	}
	// The http2 record is the one it was before DoH was recognised.
	if h := dr.Records[2]; h.Request.Fields["dns_transport"] != nil || h.Response.Body == "" || h.Response.Encoding != "base64" {
		t.Fatalf("http2 record %+v", h.Response)
	}
}

func TestDoHPost(t *testing.T) {
	names := []string{"a.example.", "b.example.", "c.example.", "fail.example."}
	rcodes := []dnsmessage.RCode{dnsmessage.RCodeSuccess, dnsmessage.RCodeSuccess, dnsmessage.RCodeNameError, dnsmessage.RCodeServerFailure}
	var qs, rs [][]byte
	for i, n := range names {
		qs = append(qs, dnsQuery(t, n, dnsmessage.TypeA))
		var addrs []string
		if rcodes[i] == dnsmessage.RCodeSuccess {
			addrs = []string{"198.51.100.7"}
		}
		rs = append(rs, dnsAnswer(t, n, dnsmessage.TypeA, rcodes[i], addrs...))
	}
	c, s := newSide(), newSide()
	dr := open(true)
	// Four multiplexed POSTs; the body of the second is split over two
	// DATA frames; responses come back out of order, one gzip-encoded.
	dr.Feed(cli, cat([]byte(preface), settings(), dohPost(c, 1, qs[0]),
		c.headers(3, false, ":method", "POST", ":scheme", "https", ":authority", "dns.example", ":path", "/dns-query",
			"content-type", "application/dns-message"), data(3, false, qs[1][:5])), 100)
	dr.Feed(cli, cat(data(3, true, qs[1][5:]), dohPost(c, 5, qs[2]), dohPost(c, 7, qs[3])), 110)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(rs[1])
	zw.Close()
	dr.Feed(srv, cat(settings(), dohResponse(s, 5, rs[2]),
		s.headers(3, false, ":status", "200", "content-type", "application/dns-message; charset=binary", "content-encoding", "gzip"),
		data(3, true, gz.Bytes())), 200)
	dr.Feed(srv, cat(dohResponse(s, 7, rs[3]), dohResponse(s, 1, rs[0])), 300)
	dr.Close(400)

	wantBriefs(t, dr,
		"http2 POST /dns-query -> 200", "dns A c.example -> 3 NXDOMAIN failed",
		"http2 POST /dns-query -> 200", "dns A b.example -> 0 NOERROR",
		"http2 POST /dns-query -> 200", "dns A fail.example -> 2 SERVFAIL failed",
		"http2 POST /dns-query -> 200", "dns A a.example -> 0 NOERROR")
	for i, k := range []int{2, 1, 3, 0} {
		checkDoH(t, dr.Records[2*i+1], qs[k], rs[k])
	}
	if r := dr.Records[7]; r.Timestamp.UnixNano() != 100 || r.End.UnixNano() != 300 {
		t.Fatalf("timestamp %d end %d", r.Timestamp.UnixNano(), r.End.UnixNano())
	}
}

func TestDoHIncomplete(t *testing.T) {
	q := dnsQuery(t, "x.example.", dnsmessage.TypeAAAA)
	r := dnsAnswer(t, "x.example.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess)

	t.Run("error response", func(t *testing.T) {
		c, s := newSide(), newSide()
		dr := open(true)
		dr.Feed(cli, cat([]byte(preface), dohPost(c, 1, q)), 1)
		dr.Feed(srv, cat(s.headers(1, false, ":status", "415", "content-type", "text/plain"), data(1, true, []byte("unsupported"))), 2)
		dr.Close(3)
		wantBriefs(t, dr, "http2 POST /dns-query -> 415 failed", "dns AAAA x.example -> none")
		checkDoH(t, dr.Records[1], q, nil)
		if e := dr.Records[1].Error; e != "HTTP response 415 carried no DNS message" {
			t.Fatalf("error %q", e)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		c := newSide()
		dr := open(true)
		dr.Feed(cli, cat([]byte(preface), dohGet(c, 1, q), rst(1, 8)), 1)
		dr.Feed(srv, settings(), 2)
		dr.Close(3)
		wantBriefs(t, dr, "http2 GET /dns-query?dns="+base64.RawURLEncoding.EncodeToString(q)+" -> none CANCEL failed", "dns AAAA x.example -> none")
		if e := dr.Records[1].Error; e != "stream reset by client (CANCEL)" {
			t.Fatalf("error %q", e)
		}
	})
	t.Run("response only", func(t *testing.T) {
		s := newSide()
		dr := open(true)
		dr.Feed(srv, cat(dohResponse(s, 3, r), dohResponse(s, 1, r)), 2)
		dr.Close(3)
		wantBriefs(t, dr, "http2 -> 200", "dns AAAA x.example -> 0 NOERROR", "http2 -> 200", "dns AAAA x.example -> 0 NOERROR")
		checkDoH(t, dr.Records[1], nil, r)
		if e := dr.Records[1].Error; e != "request not captured" {
			t.Fatalf("error %q", e)
		}
		// Stream 1 may answer an h2c upgrade request.
		if e := dr.Records[3].Error; !strings.Contains(e, "Upgrade: h2c") {
			t.Fatalf("error %q", e)
		}
	})
	t.Run("bad base64 and no answer", func(t *testing.T) {
		c, s := newSide(), newSide()
		dr := open(true)
		dr.Feed(cli, cat([]byte(preface), c.headers(1, true, ":method", "GET", ":scheme", "https", ":authority", "d", ":path", "/dns-query?dns=!!")), 1)
		dr.Feed(srv, s.headers(1, true, ":status", "400"), 2)
		dr.Close(3)
		wantBriefs(t, dr, "http2 GET /dns-query?dns=!! -> 400 failed")
	})
	t.Run("not a dns message", func(t *testing.T) {
		c, s := newSide(), newSide()
		dr := open(true)
		dr.Feed(cli, cat([]byte(preface), dohPost(c, 1, []byte("short"))), 1)
		dr.Feed(srv, dohResponse(s, 1, r), 2)
		dr.Close(3)
		wantBriefs(t, dr, "http2 POST /dns-query -> 200", "dns AAAA x.example -> 0 NOERROR")
		if e := dr.Records[1].Error; !strings.HasPrefix(e, "query: not a DNS message (5 bytes)") {
			t.Fatalf("error %q", e)
		}
	})
}

func TestNotDoH(t *testing.T) {
	c, s := newSide(), newSide()
	dr := open(true)
	dr.Feed(cli, cat([]byte(preface), get(c, 1, "/search?q=dns&x=1"), get(c, 3, "/resolve?name=example.com&type=A"),
		c.headers(5, false, ":method", "POST", ":scheme", "http", ":path", "/dns-query", ":authority", "h", "content-type", "application/json"),
		data(5, true, []byte(`{"name":"example.com"}`))), 1)
	dr.Feed(srv, cat(s.headers(1, true, ":status", "204"), s.headers(3, false, ":status", "200", "content-type", "application/dns-json"),
		data(3, true, []byte(`{"Status":0}`)), s.headers(5, true, ":status", "404")), 2)
	dr.Close(3)
	wantBriefs(t, dr, "http2 GET /search?q=dns&x=1 -> 204", "http2 GET /resolve?name=example.com&type=A -> 200", "http2 POST /dns-query -> 404 failed")
}

func TestDoHParam(t *testing.T) {
	for _, tt := range []struct {
		path, want string
		ok         bool
	}{
		{"/dns-query?dns=AAAB", "AAAB", true},
		{"/q?ct=application/dns-message&dns=AA-_", "AA-_", true},
		{"/q?xdns=AA", "", false},
		{"/q", "", false},
		{"/q?dns=AA#frag", "AA", true},
	} {
		v, ok := dohQueryParam(tt.path)
		if v != tt.want || ok != tt.ok {
			t.Errorf("%s: %q %v", tt.path, v, ok)
		}
	}
	for _, v := range []string{"AAE-_w", "AAE-_w==", "AAE%2D_w", "AAE+/w"} {
		if b, ok := decodeDNSParam(v); !ok || !bytes.Equal(b, []byte{0, 1, 0x3e, 0xff}) {
			t.Errorf("%s: %x %v", v, b, ok)
		}
	}
}

func TestIsDNSMessage(t *testing.T) {
	for _, tc := range []struct {
		ct   string
		want bool
	}{
		{"application/dns-message", true},
		{"Application/DNS-Message", true},
		{" application/dns-message ; charset=binary", true},
		{"application/dns-message;", true},
		{"application/dns-message; bad param", true}, // parameters do not matter
		{"application/dns-json", false},
		{"application/dns-messages", false},
		{"text/plain; x=application/dns-message", false},
		{"", false},
	} {
		m := &message{headers: []sdk.Header{{Name: "content-type", Value: tc.ct}}}
		if got := m.isDNSMessage(); got != tc.want {
			t.Errorf("content-type %q: %v, want %v", tc.ct, got, tc.want)
		}
	}
	if (&message{}).isDNSMessage() {
		t.Error("no content-type: DNS message")
	}
}
