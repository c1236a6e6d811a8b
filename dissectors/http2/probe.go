package http2

import (
	"bytes"
	"encoding/binary"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// probe judges the first bytes of one direction. The client preface is
// unambiguous. A server speaks first with SETTINGS (RFC 9113 §3.4), which is
// only nine bytes of structure, so it needs a clean payload to score well.
// Anything else must be a chain of strictly plausible frame headers: one
// frame alone is too easy to fake by chance.
func probe(data []byte) sdk.Probe {
	if len(data) < prefaceLen && len(data) > 0 && bytes.HasPrefix([]byte(preface), data) {
		return sdk.Probe{NeedMore: true}
	}
	if bytes.HasPrefix(data, []byte(preface)) {
		return sdk.Probe{Confidence: 100}
	}
	if len(data) < frameHeaderLen {
		// Frame lengths start with a zero byte in practice (frames are
		// at most 16 KiB until a peer raises the limit).
		if len(data) == 0 || data[0] == 0 {
			return sdk.Probe{NeedMore: true}
		}
		return sdk.Probe{}
	}
	first := parseFrameHeader(data)
	if !first.plausible(defaultMaxFrame) {
		return sdk.Probe{}
	}
	if first.typ == frameSettings && first.flags == 0 {
		payload := data[frameHeaderLen:]
		if len(payload) > int(first.length) {
			payload = payload[:first.length]
		}
		for i := 0; i+6 <= len(payload); i += 6 {
			if !validSetting(binary.BigEndian.Uint16(payload[i:]), binary.BigEndian.Uint32(payload[i+2:])) {
				return sdk.Probe{}
			}
		}
		return sdk.Probe{Confidence: 70, FromServer: true}
	}
	n, fromServer := frameChain(data)
	switch {
	case n >= 2:
		return sdk.Probe{Confidence: 60, FromServer: fromServer}
	case n == 1:
		return sdk.Probe{Confidence: 30, NeedMore: true}
	}
	return sdk.Probe{}
}

// frameChain counts the plausible frame headers that follow one another
// from data[0], stopping at the first implausible one or at the end of the
// data. A chain broken by bad bytes counts as none. It also reports whether
// the first header block starts like a response (an indexed :status).
func frameChain(data []byte) (n int, fromServer bool) {
	sawBlock := false
	pos := 0
	for pos+frameHeaderLen <= len(data) && n < 8 {
		h := parseFrameHeader(data[pos:])
		if !h.plausible(defaultMaxFrame) {
			return 0, false
		}
		n++
		body := pos + frameHeaderLen
		if h.typ == frameHeaders && !sawBlock {
			sawBlock = true
			off := 0
			if h.flags&flagPadded != 0 {
				off++
			}
			if h.flags&flagPriority != 0 {
				off += 5
			}
			if body+off < len(data) {
				fromServer = looksLikeResponseBlock(data[body+off])
			}
		}
		pos = body + int(h.length)
	}
	return n, fromServer
}

// looksLikeResponseBlock reads the first HPACK representation of a header
// block: pseudo-headers come first and are almost always sent with a
// static-table name, :status being indexes 8 to 14 (indexed, or literal with
// incremental, without or never indexing).
func looksLikeResponseBlock(b byte) bool {
	switch {
	case b&0x80 != 0:
		return b&0x7f >= 8 && b&0x7f <= 14
	case b&0xc0 == 0x40:
		return b&0x3f >= 8 && b&0x3f <= 14
	case b&0xe0 == 0:
		return b&0x0f >= 8 && b&0x0f <= 14
	}
	return false
}
