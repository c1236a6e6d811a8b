package mysql

import (
	"bytes"
	"unicode/utf8"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// probeWindow bounds how much of a first packet the probe waits for: the
// host offers up to 16 KiB.
const probeWindow = 16 << 10

func le3(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }

func le2(b []byte) int { return int(b[0]) | int(b[1])<<8 }

func le4(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// probe judges the first bytes of one direction.
func probe(data []byte) sdk.Probe {
	if len(data) < 5 {
		if len(data) < 4 || data[3] == 0 {
			return sdk.Probe{NeedMore: true}
		}
		return sdk.Probe{}
	}
	plen, seq := le3(data), data[3]
	if seq == 1 && plen > 0 && plen <= probeWindow {
		return probeResponses(data)
	}
	if seq != 0 || plen == 0 || plen > probeWindow {
		return sdk.Probe{}
	}
	if len(data) < plen+4 {
		// Judge nothing on a partial first packet, unless its start
		// already rules it out.
		if data[4] == 0x0a || data[4] == comQuery || data[4] == comStmtPrepare {
			if !printablePrefix(data[5:]) && data[4] != 0x0a {
				return sdk.Probe{}
			}
			return sdk.Probe{NeedMore: true}
		}
		return sdk.Probe{}
	}
	p := data[4 : 4+plen]
	if p[0] == 0x0a {
		if _, ok := parseGreeting(p); ok {
			return sdk.Probe{Confidence: 90, FromServer: true}
		}
		return sdk.Probe{}
	}
	if ok, inner := compressedCommand(data); ok && p[0] == 0 {
		if inner {
			return sdk.Probe{Confidence: 70}
		}
		return sdk.Probe{Confidence: 55}
	}
	return probeCommands(data)
}

// probeCommands walks the client's packets: a query with SQL text is
// strong alone; bare commands (COM_PING) only count in numbers.
func probeCommands(data []byte) sdk.Probe {
	good, strong := 0, false
	for pos := 0; pos+4 <= len(data) && good < 8; {
		plen, seq := le3(data[pos:]), data[pos+3]
		if pos+4+plen > len(data) {
			break
		}
		p := data[pos+4 : pos+4+plen]
		if seq != 0 || plen == 0 || !plausibleCommand(p) {
			return sdk.Probe{}
		}
		strong = strong || (p[0] == comQuery || p[0] == comStmtPrepare)
		good++
		pos += 4 + plen
	}
	switch {
	case strong:
		return sdk.Probe{Confidence: 75}
	case good >= 3:
		return sdk.Probe{Confidence: 55}
	case good > 0:
		return sdk.Probe{Confidence: 30, NeedMore: true}
	}
	return sdk.Probe{}
}

// probeResponses walks the server's packets of a capture that started
// mid-connection: every response starts with sequence id 1 and an OK, ERR
// or column count packet; within one the ids count up.
func probeResponses(data []byte) sdk.Probe {
	starts, prev := 0, -1
	for pos := 0; pos+4 <= len(data) && starts < 8; {
		plen, seq := le3(data[pos:]), int(data[pos+3])
		if pos+4+plen > len(data) {
			break
		}
		p := data[pos+4 : pos+4+plen]
		switch {
		case plen == 0:
			return sdk.Probe{}
		case seq == 1:
			if !plausibleResponse(p) {
				return sdk.Probe{}
			}
			starts++
		case prev >= 0 && seq == prev+1:
		default:
			return sdk.Probe{}
		}
		prev = seq
		pos += 4 + plen
	}
	switch {
	case starts >= 2:
		return sdk.Probe{Confidence: 55, FromServer: true}
	case starts == 1:
		return sdk.Probe{Confidence: 30, FromServer: true, NeedMore: true}
	}
	return sdk.Probe{}
}

// compressedCommand recognises the compressed protocol's framing around
// a client command, for a capture that missed the handshake that turned it
// on: a 7-byte header whose payload is a whole uncompressed command packet
// (inner), or a zlib stream.
func compressedCommand(data []byte) (ok, inner bool) {
	if len(data) < 9 || data[3] != 0 {
		return false, false
	}
	clen, ulen := le3(data), le3(data[4:])
	if clen < 2 || len(data) < 7+clen {
		return false, false
	}
	body := data[7 : 7+clen]
	if ulen == 0 {
		return len(body) >= 5 && le3(body)+4 == clen && body[3] == 0 && commandName(body[4]) != "", true
	}
	return body[0] == 0x78 && (body[1] == 0x01 || body[1] == 0x5e || body[1] == 0x9c || body[1] == 0xda), false
}

// printablePrefix accepts the start of a query string.
func printablePrefix(b []byte) bool {
	for len(b) > 0 && !utf8.Valid(b) && len(b) > 0 {
		b = b[:len(b)-1]
	}
	return printable(b)
}

// printable accepts UTF-8 text without control characters other than
// whitespace.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

// sqlStart accepts a whole query: printable, starting (after blanks) with
// a keyword letter, a comment or a parenthesis.
func sqlStart(b []byte) bool {
	if !printable(b) {
		return false
	}
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 {
		return false
	}
	c := t[0]
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '(' || c == '/' || c == '-' || c == '#'
}

// greeting is what the server's initial handshake says.
type greeting struct {
	version string
	caps    uint32
}

// parseGreeting reads a protocol-10 initial handshake.
func parseGreeting(p []byte) (greeting, bool) {
	var g greeting
	if len(p) < 2 || p[0] != 0x0a {
		return g, false
	}
	i := bytes.IndexByte(p[1:], 0)
	if i < 1 || i > 64 || !printable(p[1:1+i]) || p[1] < '0' || p[1] > '9' {
		return g, false
	}
	g.version = string(p[1 : 1+i])
	rest := p[2+i:]
	// connection id, 8 bytes of auth data, a filler, the low capability
	// bytes: protocol 10 always has them.
	if len(rest) < 15 || rest[12] != 0 {
		return g, false
	}
	g.caps = uint32(le2(rest[13:]))
	if len(rest) >= 18+2 {
		g.caps |= uint32(le2(rest[18:])) << 16
	}
	return g, true
}
