package websocket

import (
	"unicode/utf8"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Probe recognises a frame header. Two bytes of header say too little to
// claim a stream on their own, so even a well-formed frame scores below
// the threshold (45 at best); the "websocket" hint that HTTP/1 gives after
// a 101 Upgrade is what lifts it over. Masked frames come from the client,
// unmasked ones from the server.
func (*Dissector) Probe(_ sdk.Direction, data []byte) sdk.Probe {
	fh, err := parseHeader(data)
	if err != nil {
		return sdk.Probe{}
	}
	if fh.size == 0 {
		return sdk.Probe{NeedMore: true}
	}
	p := sdk.Probe{Confidence: 40, FromServer: !fh.masked}
	if fh.op == opCont || fh.rsv1 {
		// A stream rarely starts mid-message; a compressed payload
		// cannot be checked.
		p.Confidence = 30
		return p
	}
	if int64(len(data)-fh.size) < fh.length {
		return p
	}
	payload := make([]byte, min(fh.length, 1024))
	copy(payload, data[fh.size:])
	if fh.masked {
		for i := range payload {
			payload[i] ^= fh.key[i&3]
		}
	}
	if fh.op == opText && !utf8.Valid(trimCut(payload, fh.length)) {
		return sdk.Probe{}
	}
	p.Confidence = 45
	return p
}

// trimCut drops a character cut in half at the end of a partial payload.
func trimCut(b []byte, total int64) []byte {
	if int64(len(b)) == total {
		return b
	}
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}
