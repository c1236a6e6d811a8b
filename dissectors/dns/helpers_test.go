package dns

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// buildQuery packs a query for name and type t.
func buildQuery(tb testing.TB, id uint16, name string, t dnsmessage.Type) []byte {
	tb.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	must(tb, b.StartQuestions())
	must(tb, b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: t, Class: dnsmessage.ClassINET}))
	must(tb, b.StartAdditionals())
	var rh dnsmessage.ResourceHeader
	must(tb, rh.SetEDNS0(1232, 0, true))
	must(tb, b.OPTResource(rh, dnsmessage.OPTResource{}))
	out, err := b.Finish()
	must(tb, err)
	return out
}

// buildResponse packs a response with one A answer per address.
func buildResponse(tb testing.TB, id uint16, name string, t dnsmessage.Type, rcode dnsmessage.RCode, addrs ...string) []byte {
	tb.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: true, RecursionDesired: true, RecursionAvailable: true, RCode: rcode})
	b.EnableCompression()
	must(tb, b.StartQuestions())
	n := dnsmessage.MustNewName(name)
	must(tb, b.Question(dnsmessage.Question{Name: n, Type: t, Class: dnsmessage.ClassINET}))
	must(tb, b.StartAnswers())
	for _, a := range addrs {
		ip := netip.MustParseAddr(a)
		h := dnsmessage.ResourceHeader{Name: n, Class: dnsmessage.ClassINET, TTL: 300}
		if ip.Is4() {
			must(tb, b.AResource(h, dnsmessage.AResource{A: ip.As4()}))
		} else {
			must(tb, b.AAAAResource(h, dnsmessage.AAAAResource{AAAA: ip.As16()}))
		}
	}
	out, err := b.Finish()
	must(tb, err)
	return out
}

func tcpFrame(msg []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
