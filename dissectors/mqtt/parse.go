package mqtt

import "github.com/kubeshark-wasm/kubeshark/sdk"

// packet is one MQTT control packet.
type packet struct {
	typ, flags byte
	dir        sdk.Direction
	seq        uint64 // arrival order, to report unanswered packets in order
	start, end int64
	size       int64 // wire bytes
	missing    int64 // payload bytes lost to capture gaps
	problem    string

	version   byte // CONNECT's protocol level
	clientID  string
	username  string
	keepAlive int
	clean     bool

	qos            byte
	retain, dup    bool
	pid            int // packet identifier, -1 when the packet has none
	topic          string
	filters        []any
	codes          []int
	reason         int // reason or return code, -1 when absent
	sessionPresent bool
	props          map[string]any

	payload     []byte
	payloadSize int64
}

// versionName renders a protocol level.
func versionName(v byte) string {
	switch v {
	case 3:
		return "3.1"
	case 4:
		return "3.1.1"
	case 5:
		return "5.0"
	}
	return ""
}

// parseVariable parses everything of a packet except a PUBLISH payload.
// body holds the bytes after the fixed header (for a PUBLISH, at least the
// variable header); it returns how many bytes the variable header took.
// v5 says whether the connection speaks MQTT 5.
func parseVariable(p *packet, body []byte, rem int, v5 bool) (int, error) {
	r := &reader{b: body}
	switch p.typ {
	case tConnect:
		name := r.str()
		p.version = r.u8()
		flags := r.u8()
		p.keepAlive = int(r.u16())
		if r.err == nil && !(name == "MQTT" && (p.version == 4 || p.version == 5) || name == "MQIsdp" && p.version == 3) {
			r.fail("unknown protocol name or level")
		}
		p.clean = flags&0x02 != 0
		if p.version == 5 {
			p.props = r.properties()
		}
		p.clientID = clipString(r.str())
		if flags&0x04 != 0 {
			if p.version == 5 {
				r.properties()
			}
			r.str()
			r.bin()
		}
		if flags&0x80 != 0 {
			p.username = clipString(r.str())
		}
		if flags&0x40 != 0 {
			r.bin()
		}
	case tConnack:
		p.sessionPresent = r.u8()&1 != 0
		p.reason = int(r.u8())
		if rem > 2 {
			p.props = r.properties()
		}
	case tPublish:
		p.topic = r.str()
		if p.qos > 0 {
			p.pid = int(r.u16())
		}
		if v5 {
			p.props = r.properties()
		}
		return len(body) - len(r.b), r.err
	case tPuback, tPubrec, tPubrel, tPubcomp:
		p.pid = int(r.u16())
		if rem > 2 {
			p.reason = int(r.u8())
		}
		if rem > 3 {
			p.props = r.properties()
		}
	case tSubscribe, tUnsubscribe:
		p.pid = int(r.u16())
		if v5 {
			p.props = r.properties()
		}
		for len(r.b) > 0 && r.err == nil {
			f := clipString(r.str())
			if p.typ == tSubscribe {
				opts := r.u8()
				if r.err == nil && len(p.filters) < maxFilters {
					p.filters = append(p.filters, map[string]any{"filter": f, "qos": int(opts & 3)})
				}
				continue
			}
			if r.err == nil && len(p.filters) < maxFilters {
				p.filters = append(p.filters, f)
			}
		}
		if r.err == nil && len(p.filters) == 0 {
			r.fail("no topic filters")
		}
	case tSuback, tUnsuback:
		p.pid = int(r.u16())
		if v5 {
			p.props = r.properties()
		}
		for len(r.b) > 0 && r.err == nil && len(p.codes) < maxFilters {
			p.codes = append(p.codes, int(r.u8()))
		}
	case tDisconnect, tAuth:
		if rem > 0 {
			p.reason = int(r.u8())
		}
		if rem > 1 {
			p.props = r.properties()
		}
	case tPingreq, tPingresp:
	}
	if r.err == nil && len(r.b) > 0 && p.typ != tSuback && p.typ != tUnsuback {
		r.fail("trailing bytes")
	}
	return len(body) - len(r.b), r.err
}
