package websocket

import (
	"encoding/binary"
	"errors"
)

// Opcodes.
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

func opName(op byte) string {
	switch op {
	case opText:
		return "TEXT"
	case opBinary:
		return "BINARY"
	case opClose:
		return "CLOSE"
	case opPing:
		return "PING"
	case opPong:
		return "PONG"
	case opCont:
		return "CONTINUATION"
	}
	return ""
}

// header is a frame header.
type header struct {
	fin, rsv1 bool
	op        byte
	masked    bool
	key       [4]byte
	length    int64
	size      int // header bytes
}

// parseHeader reads a frame header; size 0 means more bytes are needed.
func parseHeader(data []byte) (header, error) {
	var h header
	if len(data) < 2 {
		return h, nil
	}
	b0, b1 := data[0], data[1]
	h.fin, h.rsv1, h.op = b0&0x80 != 0, b0&0x40 != 0, b0&0x0f
	if b0&0x30 != 0 {
		return h, errors.New("RSV2/RSV3 set")
	}
	if opName(h.op) == "" {
		return h, errors.New("unknown opcode")
	}
	control := h.op >= opClose
	if control && h.rsv1 {
		return h, errors.New("RSV1 on a control frame")
	}
	h.masked = b1&0x80 != 0
	n := 2
	switch l := int64(b1 & 0x7f); {
	case l < 126:
		h.length = l
	case l == 126:
		if len(data) < 4 {
			return header{}, nil
		}
		h.length = int64(binary.BigEndian.Uint16(data[2:]))
		n = 4
		if h.length < 126 {
			return h, errors.New("non-minimal length")
		}
	default:
		if len(data) < 10 {
			return header{}, nil
		}
		v := binary.BigEndian.Uint64(data[2:])
		if v > maxFrame {
			return h, errors.New("frame length out of range")
		}
		h.length = int64(v)
		n = 10
		if h.length < 1<<16 {
			return h, errors.New("non-minimal length")
		}
	}
	if control && (!h.fin || h.length > 125) {
		return h, errors.New("bad control frame")
	}
	if h.masked {
		if len(data) < n+4 {
			return header{}, nil
		}
		copy(h.key[:], data[n:n+4])
		n += 4
	}
	h.size = n
	return h, nil
}
