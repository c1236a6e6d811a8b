package mqtt

import (
	"bytes"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Probe recognises the start of an MQTT stream.
//
// A CONNECT with a known protocol name and level is unambiguous (95).
// Captures that start mid-connection are judged by structure: every
// complete packet in the data must be well formed for its type (flags,
// lengths, UTF-8 topics, valid properties), and the data must end on a
// packet boundary or inside the last packet. A lone two-byte PINGREQ or
// PINGRESP is the weakest acceptable evidence (50).
func (*Dissector) Probe(_ sdk.Direction, data []byte) sdk.Probe {
	if len(data) == 0 {
		return sdk.Probe{NeedMore: true}
	}
	if data[0] == tConnect<<4 {
		return probeConnect(data)
	}
	return probeMidstream(data)
}

func probeConnect(data []byte) sdk.Probe {
	_, _, rem, hn, err := fixedHeader(data)
	if err != nil {
		return sdk.Probe{}
	}
	if hn == 0 {
		return sdk.Probe{NeedMore: true}
	}
	body := data[hn:]
	for _, magic := range [][]byte{[]byte("\x00\x04MQTT\x04"), []byte("\x00\x04MQTT\x05"), []byte("\x00\x06MQIsdp\x03")} {
		n := min(len(body), len(magic))
		if !bytes.Equal(body[:n], magic[:n]) {
			continue
		}
		if n < len(magic) {
			return sdk.Probe{Confidence: 10, NeedMore: true}
		}
		if rem < len(magic)+4 {
			return sdk.Probe{}
		}
		return sdk.Probe{Confidence: 95}
	}
	return sdk.Probe{}
}

// probeMidstream validates the packets data holds.
func probeMidstream(data []byte) sdk.Probe {
	packets, fromServer, strong, v5 := 0, false, false, false
	pos := 0
	for pos < len(data) && packets < 64 {
		typ, flags, rem, hn, err := fixedHeader(data[pos:])
		if err != nil || typ == tConnect {
			return sdk.Probe{}
		}
		if hn == 0 || len(data)-pos < hn+rem {
			break
		}
		p := &packet{typ: typ, flags: flags, pid: -1, reason: -1, qos: flags >> 1 & 3}
		body := data[pos+hn : pos+hn+rem]
		if !minimalLength(typ, rem) {
			return sdk.Probe{}
		}
		if _, err := parseVariable(p, body, rem, v5); err != nil {
			if typ != tPublish && typ != tSubscribe && typ != tUnsubscribe && typ != tSuback && typ != tUnsuback {
				return sdk.Probe{}
			}
			// These carry properties only in MQTT 5: try again as such.
			v5 = true
			p = &packet{typ: typ, flags: flags, pid: -1, reason: -1, qos: flags >> 1 & 3}
			if _, err := parseVariable(p, body, rem, true); err != nil {
				return sdk.Probe{}
			}
		}
		switch typ {
		case tConnack, tSuback, tUnsuback, tPingresp:
			fromServer = packets == 0 || fromServer
		case tPublish:
			strong = strong || len(p.topic) > 0
			if !printable(p.topic) || len(p.topic) == 0 && p.props["topic_alias"] == nil {
				return sdk.Probe{}
			}
		case tSubscribe, tUnsubscribe:
			strong = true
		}
		if typ == tConnack && (p.reason > 5 && p.reason < 0x80 || rem > 2) {
			strong = strong || len(p.props) > 0
		}
		packets++
		pos += hn + rem
	}
	switch {
	case packets == 0:
		return sdk.Probe{Confidence: 10, NeedMore: len(data) < 64<<10}
	case packets > 1 && strong:
		return sdk.Probe{Confidence: 75, FromServer: fromServer}
	case strong:
		return sdk.Probe{Confidence: 65, FromServer: fromServer}
	case packets > 1:
		return sdk.Probe{Confidence: 55, FromServer: fromServer}
	}
	return sdk.Probe{Confidence: 50, FromServer: fromServer}
}

// minimalLength rejects remaining lengths impossible for the type.
func minimalLength(typ byte, rem int) bool {
	switch typ {
	case tPingreq, tPingresp:
		return rem == 0
	case tConnack, tPuback, tPubrec, tPubrel, tPubcomp, tUnsuback:
		return rem >= 2
	case tSuback:
		return rem >= 3
	case tPublish:
		return rem >= 2
	case tSubscribe, tUnsubscribe:
		return rem >= 5
	}
	return true
}

// printable accepts topics without control characters.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// plausible reports whether data starts with what could be a packet, for
// resynchronising after a gap.
func plausible(data []byte) bool {
	typ, flags, rem, hn, err := fixedHeader(data)
	if err != nil || hn == 0 || !minimalLength(typ, rem) {
		return false
	}
	if len(data) < hn+rem {
		return true
	}
	p := &packet{typ: typ, flags: flags, pid: -1, reason: -1, qos: flags >> 1 & 3}
	if _, err := parseVariable(p, data[hn:hn+rem], rem, false); err == nil {
		return true
	}
	_, err = parseVariable(p, data[hn:hn+rem], rem, true)
	return err == nil
}
