package dns

import (
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// referenceError is what a message's reason was when parse read every
// resource with Parser.Answer/Authority/Additional: the wording a record's
// error must keep now that bodies are read by their typed methods.
func referenceError(msg []byte) string {
	var p dnsmessage.Parser
	if _, err := p.Start(msg); err != nil {
		return "no header"
	}
	for {
		_, err := p.Question()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return "malformed question section: " + err.Error()
		}
	}
	for i, next := range []func() (dnsmessage.Resource, error){p.Answer, p.Authority, p.Additional} {
		for {
			_, err := next()
			if err == dnsmessage.ErrSectionDone {
				break
			}
			if err != nil {
				return "malformed " + sectionNames[i] + " section: " + err.Error()
			}
		}
	}
	return ""
}

// parseVectors are well-formed messages of several record types and the
// same damaged: every truncation, every byte one up and one down.
func parseVectors(t testing.TB) (msgs, damaged [][]byte) {
	msgs = append(msgs, buildResponse(t, 1, "a.example.", dnsmessage.TypeA, 0, "10.0.0.1", "10.0.0.2"))
	msgs = append(msgs, buildResponse(t, 2, "b.example.", dnsmessage.TypeAAAA, 0, "fd00::1"))
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 3, Response: true})
	must(t, b.StartQuestions())
	must(t, b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("c.example."), Type: dnsmessage.TypeMX, Class: dnsmessage.ClassINET}))
	must(t, b.StartAnswers())
	hdr := func(typ dnsmessage.Type) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("c.example."), Type: typ, Class: dnsmessage.ClassINET, TTL: 60}
	}
	must(t, b.MXResource(hdr(dnsmessage.TypeMX), dnsmessage.MXResource{Pref: 10, MX: dnsmessage.MustNewName("mx.example.")}))
	must(t, b.TXTResource(hdr(dnsmessage.TypeTXT), dnsmessage.TXTResource{TXT: []string{"v=spf1 -all", "x"}}))
	must(t, b.SRVResource(hdr(dnsmessage.TypeSRV), dnsmessage.SRVResource{Priority: 1, Weight: 2, Port: 443, Target: dnsmessage.MustNewName("t.example.")}))
	must(t, b.UnknownResource(hdr(99), dnsmessage.UnknownResource{Type: 99, Data: []byte{1, 2, 3}}))
	must(t, b.StartAuthorities())
	must(t, b.SOAResource(hdr(dnsmessage.TypeSOA), dnsmessage.SOAResource{NS: dnsmessage.MustNewName("ns.example."), MBox: dnsmessage.MustNewName("h.example."), Serial: 1, Refresh: 2, Retry: 3, Expire: 4, MinTTL: 5}))
	must(t, b.StartAdditionals())
	var opt dnsmessage.ResourceHeader
	must(t, opt.SetEDNS0(1232, dnsmessage.RCodeSuccess, true))
	must(t, b.OPTResource(opt, dnsmessage.OPTResource{Options: []dnsmessage.Option{{Code: 10, Data: []byte("cookie12")}}}))
	full, err := b.Finish()
	must(t, err)
	msgs = append(msgs, full)

	for _, msg := range msgs {
		for n := 12; n < len(msg); n++ {
			damaged = append(damaged, msg[:n])
		}
		// Every byte one up and one down: among them each resource's
		// data length, set too long and too short.
		for i := 12; i < len(msg); i++ {
			for _, d := range []byte{1, 0xff} {
				c := append([]byte(nil), msg...)
				c[i] += d
				damaged = append(damaged, c)
			}
		}
	}
	return msgs, damaged
}

// TestParseErrorsMatchParser damages well-formed messages of several record
// types (every truncation, every byte one up and one down) and
// checks that parse reports each one as dnsmessage's resource parser does.
func TestParseErrorsMatchParser(t *testing.T) {
	msgs, damaged := parseVectors(t)
	checked, failed := 0, 0
	for _, msg := range append(msgs, damaged...) {
		want := referenceError(msg)
		m, ok := parse(msg)
		if !ok {
			if want != "no header" {
				t.Errorf("% x: parse gave up, the parser says %q", msg, want)
			}
			continue
		}
		if m.err != want && failed < 5 {
			failed++
			t.Errorf("% x:\n got %q\nwant %q", msg, m.err, want)
		}
		checked++
	}
	if checked < 100 {
		t.Fatalf("only %d messages checked", checked)
	}
}
