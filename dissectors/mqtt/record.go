package mqtt

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func nanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// message renders one packet for a record.
func (c *conn) message(p *packet) *sdk.Message {
	m := &sdk.Message{Size: p.size}
	if v := versionName(c.version); v != "" {
		m.Set("mqtt_version", v)
	}
	switch p.typ {
	case tConnect:
		m.Set("mqtt_version", versionName(p.version))
		m.Set("mqtt_client_id", p.clientID)
		m.Set("mqtt_keep_alive", p.keepAlive)
		m.Set("mqtt_clean_session", p.clean)
		if p.username != "" {
			m.Set("mqtt_username", p.username)
		}
	case tConnack:
		m.Set("mqtt_session_present", p.sessionPresent)
	case tPublish:
		m.Set("mqtt_qos", int(p.qos))
		m.Set("mqtt_retain", p.retain)
		if p.dup {
			m.Set("mqtt_dup", true)
		}
		m.Set("mqtt_topic", p.topic)
		setPreview(m, p.payload, p.payloadSize)
	case tSubscribe, tUnsubscribe:
		m.Set("mqtt_topic_filters", p.filters)
	case tSuback, tUnsuback:
		m.Set("mqtt_reason_codes", p.codes)
	}
	if p.pid >= 0 {
		m.Set("mqtt_packet_id", p.pid)
	}
	if p.reason >= 0 {
		m.Set("mqtt_reason_code", p.reason)
	}
	if len(p.props) > 0 {
		m.Set("mqtt_properties", p.props)
	}
	if p.missing > 0 {
		m.Set("mqtt_missing_bytes", p.missing)
	}
	return m
}

// setPreview keeps a bounded payload preview: text as text, anything else
// base64.
func setPreview(m *sdk.Message, b []byte, size int64) {
	m.BodySize = size
	m.BodyTruncated = int64(len(b)) < size
	t := b
	if m.BodyTruncated {
		// A multi-byte character the cap cut in half is still text.
		for i := len(t) - 1; i >= 0 && i >= len(t)-utf8.UTFMax+1; i-- {
			if utf8.RuneStart(t[i]) {
				if !utf8.FullRune(t[i:]) {
					t = t[:i]
				}
				break
			}
		}
	}
	if utf8.Valid(t) && !strings.ContainsFunc(string(t), func(r rune) bool {
		return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f
	}) {
		m.Body = string(t)
		return
	}
	m.Body, m.Encoding = base64.StdEncoding.EncodeToString(b), "base64"
}

// status is the record status an answer carries and whether it failed.
func status(resp *packet) (int, bool) {
	if resp == nil {
		return 0, false
	}
	code := resp.reason
	if (resp.typ == tSuback || resp.typ == tUnsuback) && len(resp.codes) > 0 {
		code = resp.codes[0]
		for _, c := range resp.codes {
			if c >= 0x80 {
				code = c
				break
			}
		}
	}
	if code < 0 {
		return 0, false
	}
	if resp.typ == tConnack && code != 0 {
		return code, true
	}
	return code, code >= 0x80
}

// reasonText names the common reason codes.
func reasonText(typ byte, code int, v5 bool) string {
	if typ == tConnack && !v5 {
		switch code {
		case 0:
			return "Connection Accepted"
		case 1:
			return "unacceptable protocol version"
		case 2:
			return "identifier rejected"
		case 3:
			return "server unavailable"
		case 4:
			return "bad user name or password"
		case 5:
			return "not authorized"
		}
		return ""
	}
	switch code {
	case 0:
		if typ == tSuback {
			return "Granted QoS 0"
		}
		return "Success"
	case 1:
		return "Granted QoS 1"
	case 2:
		return "Granted QoS 2"
	case 0x10:
		return "No matching subscribers"
	case 0x11:
		return "No subscription existed"
	case 0x18:
		return "Continue authentication"
	case 0x80:
		return "Unspecified error"
	case 0x81:
		return "Malformed Packet"
	case 0x82:
		return "Protocol Error"
	case 0x83:
		return "Implementation specific error"
	case 0x84:
		return "Unsupported Protocol Version"
	case 0x85:
		return "Client Identifier not valid"
	case 0x86:
		return "Bad User Name or Password"
	case 0x87:
		return "Not authorized"
	case 0x88:
		return "Server unavailable"
	case 0x8C:
		return "Bad authentication method"
	case 0x8F:
		return "Topic Filter invalid"
	case 0x90:
		return "Topic Name invalid"
	case 0x91:
		return "Packet Identifier in use"
	case 0x97:
		return "Quota exceeded"
	case 0x99:
		return "Payload format invalid"
	}
	return ""
}

// emit makes a record of a request (nil when the capture missed it) and its
// answer (nil when there was none or the packet is one-way).
func (c *conn) emit(req, resp *packet) {
	r := &sdk.Record{Protocol: "mqtt"}
	var problems []string
	if req != nil {
		r.Method = typeName(req.typ)
		if req.typ == tPublish {
			r.Path = req.topic
		}
		r.Timestamp = nanos(req.start)
		r.RequestDir = req.dir
		r.Request = c.message(req)
		if req.problem != "" {
			problems = append(problems, "request: "+req.problem)
		}
		if (req.typ == tDisconnect || req.typ == tAuth) && req.reason >= 0x80 {
			r.Status, r.Failed = req.reason, true
			r.StatusText = reasonText(req.typ, req.reason, true)
		}
	}
	if resp != nil {
		r.Response = c.message(resp)
		r.End = nanos(resp.end)
		r.Status, r.Failed = status(resp)
		r.StatusText = reasonText(resp.typ, r.Status, c.version == 5)
		if req == nil {
			r.Timestamp = nanos(resp.start)
			r.RequestDir = resp.dir.Reverse()
			problems = append(problems, "request not captured")
		}
		if resp.problem != "" {
			problems = append(problems, "response: "+resp.problem)
		}
	} else if req != nil && expectsAnswer(req) {
		problems = append(problems, "no response captured")
	}
	for _, p := range []*packet{req, resp} {
		if p != nil && strings.HasPrefix(p.problem, "malformed") {
			r.Failed = true
		}
	}
	r.Error = strings.Join(problems, "; ")
	r.Summary = summary(r, req, resp)
	c.out.Emit(r)
}

func expectsAnswer(p *packet) bool {
	switch p.typ {
	case tConnect, tSubscribe, tUnsubscribe, tPingreq:
		return true
	case tPublish:
		return p.qos > 0
	}
	return false
}

func summary(r *sdk.Record, req, resp *packet) string {
	var b strings.Builder
	if req != nil {
		b.WriteString(r.Method)
		if r.Path != "" {
			b.WriteByte(' ')
			b.WriteString(clipString(r.Path))
		}
		if req.typ == tPublish {
			fmt.Fprintf(&b, " (QoS %d, %d bytes)", req.qos, req.payloadSize)
		}
	} else {
		b.WriteString("(request not captured)")
	}
	if resp != nil {
		b.WriteString(" → ")
		b.WriteString(typeName(resp.typ))
		if r.StatusText != "" {
			b.WriteString(" ")
			b.WriteString(r.StatusText)
		} else if r.Status != 0 {
			fmt.Fprintf(&b, " 0x%02x", r.Status)
		}
	} else if req != nil && expectsAnswer(req) {
		b.WriteString(" → (no response)")
	}
	return b.String()
}
