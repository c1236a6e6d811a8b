package mqtt

import (
	"encoding/binary"
	"errors"
	"strings"
	"unicode/utf8"
)

// Packet types.
const (
	tConnect     = 1
	tConnack     = 2
	tPublish     = 3
	tPuback      = 4
	tPubrec      = 5
	tPubrel      = 6
	tPubcomp     = 7
	tSubscribe   = 8
	tSuback      = 9
	tUnsubscribe = 10
	tUnsuback    = 11
	tPingreq     = 12
	tPingresp    = 13
	tDisconnect  = 14
	tAuth        = 15
)

func typeName(t byte) string {
	names := [...]string{"", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE",
		"SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}
	if int(t) < len(names) {
		return names[t]
	}
	return ""
}

// fixedHeader reads a packet's first byte and remaining length. n is the
// header's size; n == 0 means more bytes are needed.
func fixedHeader(data []byte) (typ, flags byte, rem int, n int, err error) {
	if len(data) < 2 {
		return 0, 0, 0, 0, nil
	}
	typ, flags = data[0]>>4, data[0]&0x0f
	if typ == 0 {
		return 0, 0, 0, 0, errors.New("reserved packet type 0")
	}
	switch typ {
	case tPublish:
		if flags&0x06 == 0x06 {
			return 0, 0, 0, 0, errors.New("PUBLISH with QoS 3")
		}
	case tPubrel, tSubscribe, tUnsubscribe:
		if flags != 2 {
			return 0, 0, 0, 0, errors.New("bad fixed header flags")
		}
	default:
		if flags != 0 {
			return 0, 0, 0, 0, errors.New("bad fixed header flags")
		}
	}
	mult := 1
	for i := 1; i < 5; i++ {
		if i >= len(data) {
			return 0, 0, 0, 0, nil
		}
		b := data[i]
		rem += int(b&0x7f) * mult
		if b&0x80 == 0 {
			return typ, flags, rem, i + 1, nil
		}
		mult *= 128
	}
	return 0, 0, 0, 0, errors.New("remaining length longer than 4 bytes")
}

// reader walks a packet's variable header and payload.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(why string) {
	if r.err == nil {
		r.err = errors.New(why)
	}
	r.b = nil
}

func (r *reader) u8() byte {
	if len(r.b) < 1 {
		r.fail("packet too short")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if len(r.b) < 2 {
		r.fail("packet too short")
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) u32() uint32 {
	if len(r.b) < 4 {
		r.fail("packet too short")
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) varint() int {
	v, mult := 0, 1
	for i := 0; i < 4; i++ {
		b := r.u8()
		if r.err != nil {
			return 0
		}
		v += int(b&0x7f) * mult
		if b&0x80 == 0 {
			return v
		}
		mult *= 128
	}
	r.fail("variable byte integer longer than 4 bytes")
	return 0
}

func (r *reader) bin() []byte {
	n := int(r.u16())
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail("string runs past the packet")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// str reads a UTF-8 string; MQTT forbids invalid UTF-8 and NUL.
func (r *reader) str() string {
	b := r.bin()
	if r.err != nil {
		return ""
	}
	if !utf8.Valid(b) || strings.IndexByte(string(b), 0) >= 0 {
		r.fail("string is not valid UTF-8")
		return ""
	}
	return string(b)
}

func clipString(s string) string {
	if len(s) <= maxString {
		return s
	}
	i := maxString
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// property kinds by MQTT 5 property id: b byte, h two-byte, w four-byte,
// v variable byte integer, s string, d binary data, p string pair.
func propertyKind(id int) (name string, kind byte) {
	switch id {
	case 0x01:
		return "payload_format_indicator", 'b'
	case 0x02:
		return "message_expiry_interval", 'w'
	case 0x03:
		return "content_type", 's'
	case 0x08:
		return "response_topic", 's'
	case 0x09:
		return "correlation_data", 'd'
	case 0x0B:
		return "subscription_identifier", 'v'
	case 0x11:
		return "session_expiry_interval", 'w'
	case 0x12:
		return "assigned_client_identifier", 's'
	case 0x13:
		return "server_keep_alive", 'h'
	case 0x15:
		return "authentication_method", 's'
	case 0x16:
		return "authentication_data", 'd'
	case 0x17:
		return "request_problem_information", 'b'
	case 0x18:
		return "will_delay_interval", 'w'
	case 0x19:
		return "request_response_information", 'b'
	case 0x1A:
		return "response_information", 's'
	case 0x1C:
		return "server_reference", 's'
	case 0x1F:
		return "reason_string", 's'
	case 0x21:
		return "receive_maximum", 'h'
	case 0x22:
		return "topic_alias_maximum", 'h'
	case 0x23:
		return "topic_alias", 'h'
	case 0x24:
		return "maximum_qos", 'b'
	case 0x25:
		return "retain_available", 'b'
	case 0x26:
		return "user_property", 'p'
	case 0x27:
		return "maximum_packet_size", 'w'
	case 0x28:
		return "wildcard_subscription_available", 'b'
	case 0x29:
		return "subscription_identifier_available", 'b'
	case 0x2A:
		return "shared_subscription_available", 'b'
	}
	return "", 0
}

// properties reads an MQTT 5 property list. Unknown ids are an error: the
// length of their value cannot be known.
func (r *reader) properties() map[string]any {
	n := r.varint()
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail("properties run past the packet")
		return nil
	}
	pr := reader{b: r.b[:n]}
	r.b = r.b[n:]
	if n == 0 {
		return nil
	}
	out := map[string]any{}
	count := 0
	for len(pr.b) > 0 && pr.err == nil {
		id := pr.varint()
		name, kind := propertyKind(id)
		var v any
		switch kind {
		case 'b':
			v = int(pr.u8())
		case 'h':
			v = int(pr.u16())
		case 'w':
			v = int64(pr.u32())
		case 'v':
			v = pr.varint()
		case 's':
			v = clipString(pr.str())
		case 'd':
			b := pr.bin()
			v = len(b) // binary data: its length only
			name += "_length"
		case 'p':
			k, val := pr.str(), pr.str()
			if pr.err == nil && count < maxProps {
				list, _ := out[name].([][2]string)
				out[name] = append(list, [2]string{clipString(k), clipString(val)})
				count++
			}
			continue
		default:
			pr.fail("unknown property id")
		}
		if pr.err == nil && count < maxProps {
			out[name] = v
			count++
		}
	}
	if pr.err != nil {
		r.fail("properties: " + pr.err.Error())
	}
	return out
}
