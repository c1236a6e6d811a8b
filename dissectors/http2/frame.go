package http2

import (
	"encoding/binary"
	"strconv"
)

// Frame types of RFC 9113 §6. Other types are extensions, which a receiver
// must ignore.
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	framePriority     = 0x2
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9
)

// Frame flags.
const (
	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20
)

const (
	frameHeaderLen = 9
	// defaultMaxFrame is SETTINGS_MAX_FRAME_SIZE until a peer raises it;
	// plausibility checks on unsynchronised bytes use it as the bound.
	defaultMaxFrame = 16384
	prefaceLen      = 24
)

// preface is what a client sends before its first frame (RFC 9113 §3.4).
const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

type frameHeader struct {
	length uint32
	typ    uint8
	flags  uint8
	stream uint32
	// reserved is the bit above the stream id, which senders must leave
	// clear: a set bit is a strong sign of misaligned bytes.
	reserved bool
}

func parseFrameHeader(b []byte) frameHeader {
	return frameHeader{
		length:   uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:      b[3],
		flags:    b[4],
		stream:   binary.BigEndian.Uint32(b[5:9]) & 0x7fffffff,
		reserved: b[5]&0x80 != 0,
	}
}

// plausible reports whether h is a frame header a conforming peer could
// send, with lengths bounded by maxFrame. It is strict on purpose: it is
// what tells frames from other bytes when the stream's alignment is not
// known (detection, mid-stream captures, after a gap).
func (h frameHeader) plausible(maxFrame uint32) bool {
	if h.reserved || h.length > maxFrame {
		return false
	}
	if !h.wellFormed() {
		return false
	}
	switch h.typ {
	case frameData:
		return h.flags&^(flagEndStream|flagPadded) == 0
	case frameHeaders:
		return h.flags&^(flagEndStream|flagEndHeaders|flagPadded|flagPriority) == 0
	case framePriority, frameRSTStream, frameGoAway, frameWindowUpdate:
		return h.flags == 0
	case frameSettings:
		return h.flags&^flagAck == 0 && (h.flags == 0 || h.length == 0)
	case framePushPromise:
		return h.flags&^(flagEndHeaders|flagPadded) == 0
	case framePing:
		return h.flags&^flagAck == 0
	case frameContinuation:
		return h.flags&^flagEndHeaders == 0 && h.length > 0
	}
	return false
}

// wellFormed checks what a frame of a known type cannot do without
// breaking its own framing: the stream it may use and fixed lengths. Unknown
// flags are ignored, as RFC 9113 §4.1 requires of receivers.
func (h frameHeader) wellFormed() bool {
	onStream := h.stream != 0
	switch h.typ {
	case frameData:
		return onStream && (h.flags&flagPadded == 0 || h.length >= 1)
	case frameHeaders:
		min := uint32(0)
		if h.flags&flagPadded != 0 {
			min++
		}
		if h.flags&flagPriority != 0 {
			min += 5
		}
		return onStream && h.length >= min
	case framePriority:
		return onStream && h.length == 5
	case frameRSTStream:
		return onStream && h.length == 4
	case frameSettings:
		return !onStream && h.length%6 == 0
	case framePushPromise:
		return onStream && h.length >= 4
	case framePing:
		return !onStream && h.length == 8
	case frameGoAway:
		return !onStream && h.length >= 8
	case frameWindowUpdate:
		return h.length == 4
	case frameContinuation:
		return onStream
	}
	return true
}

// errorCodeName names an RFC 9113 §7 error code.
func errorCodeName(code uint32) string {
	names := [...]string{"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
		"STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR",
		"ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"}
	if int(code) < len(names) {
		return names[code]
	}
	return "0x" + strconv.FormatUint(uint64(code), 16)
}

// Settings identifiers this dissector acts on.
const (
	settingHeaderTableSize = 0x1
	settingMaxFrameSize    = 0x5
)

// validSetting rejects values RFC 9113 §6.5.2 forbids, so that a SETTINGS
// frame can vouch for the bytes around it.
func validSetting(id uint16, v uint32) bool {
	switch id {
	case 0x2: // ENABLE_PUSH
		return v <= 1
	case 0x4: // INITIAL_WINDOW_SIZE
		return v <= 1<<31-1
	case settingMaxFrameSize:
		return v >= 1<<14 && v < 1<<24
	case 0x8, 0x9: // ENABLE_CONNECT_PROTOCOL, NO_RFC7540_PRIORITIES
		return v <= 1
	}
	return true
}
