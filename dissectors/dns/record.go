package dns

import (
	"strconv"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// query is one side of an exchange: a message, the direction it went,
// when it began and its size on the wire.
type query struct {
	msg  *parsed
	dir  sdk.Direction
	ts   int64
	size int
}

func nanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// build is the record of one exchange, as the DNS module (c/dns.c) makes
// it: q or resp may be nil (a query never answered, a response whose query
// the capture missed), not both.
func build(q, resp *query, end int64, respSize int, note string) *sdk.Record {
	r := &sdk.Record{Protocol: "dns"}
	head := q
	if head == nil {
		head = resp
		r.RequestDir = resp.dir.Reverse()
		r.Timestamp = nanos(resp.ts)
	} else {
		r.RequestDir = q.dir
		r.Timestamp = nanos(q.ts)
		r.Request = messageFields(q.msg, int64(q.size))
	}
	if len(head.msg.questions) > 0 {
		r.Method = typeName(head.msg.questions[0].typ)
		r.Path = head.msg.questions[0].name
	} else if ans := head.msg.sections[0]; resp != nil && len(ans) > 0 {
		// mDNS announcements carry answers without a question.
		t, _ := ans[0].Get("type")
		n, _ := ans[0].Get("name")
		r.Method, _ = t.(string)
		r.Path, _ = n.(string)
	}
	errs := []string{}
	if note != "" {
		errs = append(errs, note)
	}
	if q != nil && q.msg.err != "" {
		errs = append(errs, "query: "+q.msg.err)
	}
	if resp != nil {
		m := resp.msg
		r.End = nanos(end)
		r.Status = m.rcode
		r.StatusText = rcodeName(m.rcode)
		r.Failed = rcodeFailed(m.rcode)
		r.Response = messageFields(m, int64(respSize))
		if m.err != "" {
			errs = append(errs, "response: "+m.err)
		}
	}
	r.Error = strings.Join(errs, "; ")
	r.Summary = summary(r, resp)
	return r
}

func messageFields(m *parsed, size int64) *sdk.Message {
	msg := &sdk.Message{Size: size}
	msg.Set("dns_id", int(m.id))
	msg.Set("dns_opcode", opcodeValue(m.opcode))
	msg.Set("dns_flags", m.flags)
	msg.Set("dns_section_counts", m.counts)
	qs := make([]sdk.Object, 0, len(m.questions))
	for _, q := range m.questions {
		qs = append(qs, sdk.Object{{Key: "name", Value: q.name}, {Key: "type", Value: typeValue(q.typ)}, {Key: "class", Value: classValue(q.class)}})
	}
	msg.Set("dns_questions", qs)
	if m.response {
		msg.Set("dns_answers", orEmpty(m.sections[0]))
		if len(m.sections[1]) > 0 {
			msg.Set("dns_authorities", m.sections[1])
		}
		if len(m.sections[2]) > 0 {
			msg.Set("dns_additionals", m.sections[2])
		}
	}
	if m.edns != nil {
		msg.Set("dns_edns", m.edns)
	}
	return msg
}

func orEmpty(l []sdk.Object) []sdk.Object {
	if l == nil {
		return []sdk.Object{}
	}
	return l
}

// summary is one line: the question, the outcome and the first answers.
func summary(r *sdk.Record, resp *query) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte(' ')
	b.WriteString(r.Path)
	if resp == nil {
		b.WriteString(" (no response)")
		return b.String()
	}
	b.WriteString(" → ")
	b.WriteString(r.StatusText)
	ans := resp.msg.sections[0]
	for i, a := range ans {
		if i == 2 {
			b.WriteString(" +" + strconv.Itoa(len(ans)-2) + " more")
			break
		}
		v, _ := a.Get("data")
		d, _ := v.(string)
		if len(d) > 64 {
			d = d[:64] + "…"
		}
		b.WriteString(" ")
		b.WriteString(d)
	}
	return b.String()
}
