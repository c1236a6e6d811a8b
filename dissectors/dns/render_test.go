package dns

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
	"golang.org/x/net/dns/dnsmessage"
)

// TestRenderedData checks the text of each kind of answer the dissector
// renders, on answers chosen for the corners of each rendering (an
// IPv4-mapped IPv6 address, two equal runs of zeros, TXT strings needing
// Go's quoting, SVCB parameters known and not, an unknown type's clipped
// generic form), and that a response pairs with its query by name as
// strings.EqualFold does, beyond ASCII too.
func TestRenderedData(t *testing.T) {
	n := dnsmessage.MustNewName("r.example.")
	h := func(typ dnsmessage.Type) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: n, Type: typ, Class: dnsmessage.ClassINET, TTL: 7}
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 42, Response: true, Authoritative: true})
	b.EnableCompression()
	must(t, b.StartQuestions())
	must(t, b.Question(dnsmessage.Question{Name: n, Type: dnsmessage.TypeALL, Class: dnsmessage.ClassINET}))
	must(t, b.StartAnswers())
	for _, a := range []string{"::ffff:192.0.2.9", "2001:db8:0:0:1:0:0:1", "::", "fe80::"} {
		must(t, b.AAAAResource(h(dnsmessage.TypeAAAA), dnsmessage.AAAAResource{AAAA: netip.MustParseAddr(a).As16()}))
	}
	must(t, b.TXTResource(h(dnsmessage.TypeTXT), dnsmessage.TXTResource{TXT: []string{"a\x00\"b\\", "é\u2028<&>\xff\U0001F600\u00ad", ""}}))
	must(t, b.SVCBResource(h(dnsmessage.TypeSVCB), dnsmessage.SVCBResource{Priority: 1, Target: dnsmessage.MustNewName("svc.example."),
		Params: []dnsmessage.SVCParam{{Key: dnsmessage.SVCParamALPN, Value: []byte("\x02h2\x02h3\x09")}, {Key: dnsmessage.SVCParamPort, Value: []byte{1, 187}}, {Key: 100, Value: []byte("x")}}}))
	must(t, b.HTTPSResource(h(dnsmessage.TypeHTTPS), dnsmessage.HTTPSResource{SVCBResource: dnsmessage.SVCBResource{Target: dnsmessage.MustNewName(".")}}))
	must(t, b.UnknownResource(h(4000), dnsmessage.UnknownResource{Data: bytes.Repeat([]byte{0xab}, 300)}))
	must(t, b.UnknownResource(h(99), dnsmessage.UnknownResource{}))
	must(t, b.CNAMEResource(h(dnsmessage.TypeCNAME), dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(".")}))
	resp, err := b.Finish()
	must(t, err)

	dr := sdktest.Open(under(t), sdk.ConnInfo{ID: 1, Oriented: true, UDP: true})
	dr.Feed(1, resp, 1)
	// Queries answered by names that differ only in case: ASCII, the
	// Kelvin sign (folds to k), the long s (folds to s); and one whose
	// name differs in an invalid byte, which EqualFold reads as U+FFFD
	// on both sides.
	pairs := [][2]string{{"Abc.example.", "aBC.example."}, {"\u212a.example.", "k.example."}, {"\u017f.example.", "S.example."}, {"\xff.example.", "\xfe.example."}, {"a.example.", "b.example."}}
	for i, p := range pairs {
		dr.Feed(0, buildQuery(t, uint16(100+i), p[0], dnsmessage.TypeA), int64(10+2*i))
		dr.Feed(1, buildResponse(t, uint16(100+i), p[1], dnsmessage.TypeA, 0, "192.0.2.1"), int64(11+2*i))
	}
	dr.Close(100)
	if dr.Misbehaved != "" {
		t.Fatal(dr.Misbehaved)
	}
	host, err := sdk.DecodeRecord(sdk.AppendRecord(nil, dr.Records[0]))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range host.Response.Fields["dns_answers"].([]any) {
		got = append(got, a.(map[string]any)["data"].(string))
	}
	want := []string{
		"::ffff:192.0.2.9", "2001:db8::1:0:0:1", "::", "fe80::",
		`"a\x00\"b\\" "é\u2028<&>\xff😀\u00ad" ""`,
		"1 svc.example. ALPN=h2,h3 Port 100",
		"0 .",
	}
	for i, w := range want {
		if i >= len(got) || got[i] != w {
			t.Errorf("answer %d: got %q, want %q", i, at(got, i), w)
		}
	}
	if len(got) != 10 || len(got[7]) != 512+len("…") || got[7][:9] != `\# 300 ab` || got[8] != `\# 0 ` || got[9] != "." {
		t.Errorf("answers 7-9: %q", got[min(7, len(got)):])
	}
	// The exchanges whose names fold alike pair; the last does not.
	paired := 0
	for _, r := range dr.Records[1:] {
		if r.Request != nil && r.Response != nil {
			paired++
		}
	}
	if paired != 4 || len(dr.Records) != 1+4+2 {
		t.Errorf("%d records, %d paired: want 7 and 4", len(dr.Records), paired)
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}
