package mongodb

import (
	"bytes"
	"encoding/binary"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// probeWindow is how much of a message the probe insists on seeing: the
// host shows at most 16 KiB before it decides.
const probeWindow = 16 << 10

func probe(data []byte) sdk.Probe {
	if len(data) < 16 {
		if len(data) >= 4 {
			n := int32(binary.LittleEndian.Uint32(data))
			if n < 16 || n > maxMessage {
				return sdk.Probe{}
			}
		}
		return sdk.Probe{Confidence: 5, NeedMore: true}
	}
	hdr := parseHeader(data)
	if _, ok := opName(hdr.opCode); !ok || hdr.length < 20 || hdr.length > maxMessage {
		return sdk.Probe{}
	}
	total := int(hdr.length)
	if len(data) < total && len(data) < probeWindow {
		return sdk.Probe{Confidence: 5, NeedMore: true}
	}
	complete := len(data) >= total
	body := data[16:min(len(data), total)]
	reply := hdr.responseTo != 0
	conf := uint8(0)
	le := binary.LittleEndian
	switch hdr.opCode {
	case opMsg:
		if le.Uint32(body)&^uint32(1|2|1<<16) != 0 || len(body) < 10 {
			break
		}
		if body[4] == 0 && plausibleDoc(body[5:], total-21, complete) {
			conf = 80
		}
	case opQuery:
		if reply || le.Uint32(body)&^0xFE != 0 {
			break
		}
		name, n := cstring(body[4:])
		if n < 0 || !namespace(name) || len(body) < 4+n+8 {
			break
		}
		if plausibleDoc(body[4+n+8:], total-16-4-n-8, complete) {
			conf = 80
		}
	case opReply:
		if !reply || len(body) < 20 || le.Uint32(body)&^0xF != 0 {
			break
		}
		count := int32(le.Uint32(body[16:]))
		if count < 0 || count == 0 && total != 36 {
			break
		}
		if count == 0 || plausibleDoc(body[20:], total-36, complete) {
			conf = 75
		}
	case opInsert, opUpdate, opDelete, opGetMore:
		if reply || len(body) < 6 {
			break
		}
		if hdr.opCode != opInsert && le.Uint32(body) != 0 {
			break
		}
		if name, n := cstring(body[4:]); n > 0 && namespace(name) {
			conf = 70
		}
	case opKillCursors:
		if !reply && len(body) >= 8 && le.Uint32(body) == 0 {
			n := int(int32(le.Uint32(body[4:])))
			if n > 0 && total == 24+8*n {
				conf = 70
			}
		}
	case opCompressed:
		if len(body) < 9 {
			break
		}
		orig := int32(le.Uint32(body))
		size := int32(le.Uint32(body[4:]))
		if _, ok := opName(orig); ok && orig != opCompressed && size > 0 && size <= maxMessage && body[8] <= 3 {
			conf = 65
		}
	}
	if conf == 0 {
		return sdk.Probe{}
	}
	return sdk.Probe{Confidence: conf, FromServer: reply}
}

// plausibleDoc checks a BSON document at the start of b that must fit in
// room bytes of the message: the whole of it when the message is
// complete, its first element otherwise.
func plausibleDoc(b []byte, room int, complete bool) bool {
	if len(b) < 5 {
		return false
	}
	n := int(int32(binary.LittleEndian.Uint32(b)))
	if n < 5 || n > room {
		return false
	}
	if complete || n <= len(b) {
		if n > len(b) {
			return false
		}
		count := 0
		ok := elements(b[:n], func(element) bool { count++; return true })
		return ok && (count > 0 || n == 5)
	}
	// Only the start is here: the first element must still be sound.
	t := b[4]
	key, k := cstring(b[5:])
	return k > 0 && len(key) > 0 && valueLen(t, b[5+k:]) >= 0 || k < 0 && len(b) >= probeWindow-32
}

// namespace checks a legacy "db.collection" name.
func namespace(s string) bool {
	if len(s) < 3 || len(s) > 255 || bytes.IndexByte([]byte(s), '.') <= 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
