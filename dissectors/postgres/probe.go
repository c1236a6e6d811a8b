package postgres

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// probeWindow bounds how much of a first message the probe waits for: the
// host offers up to 16 KiB.
const probeWindow = 16 << 10

func be32(b []byte) int { return int(binary.BigEndian.Uint32(b)) }

func be16(b []byte) int { return int(binary.BigEndian.Uint16(b)) }

// probe judges the first bytes of one direction.
func probe(data []byte) sdk.Probe {
	if len(data) < 5 {
		// Both an untyped length and most typed lengths start with a zero
		// byte somewhere in the first five; anything else is not ours.
		if len(data) == 0 || data[0] == 0 || knownType(data[0], true) || knownType(data[0], false) {
			return sdk.Probe{NeedMore: true}
		}
		return sdk.Probe{}
	}
	if data[0] == 0 && len(data) >= 8 {
		if p, ok := probeUntyped(data); ok {
			return p
		}
	} else if data[0] == 0 {
		return sdk.Probe{NeedMore: true}
	}
	if p := probeFrontend(data); p.Confidence > 0 || p.NeedMore {
		return p
	}
	return probeBackend(data)
}

// probeUntyped recognises StartupMessage, SSLRequest, GSSENCRequest and
// CancelRequest by their length and protocol code.
func probeUntyped(data []byte) (sdk.Probe, bool) {
	n, code := be32(data), be32(data[4:])
	switch {
	case (code == codeSSL || code == codeGSSENC) && n == 8:
		return sdk.Probe{Confidence: 95}, true
	case code == codeCancel && n == 16:
		return sdk.Probe{Confidence: 90}, true
	case code>>16 == 3 && n >= 9 && n <= 10000:
		if len(data) < n {
			return sdk.Probe{NeedMore: true}, true
		}
		if _, ok := parseStartup(data[8:n]); ok {
			return sdk.Probe{Confidence: 95}, true
		}
	}
	return sdk.Probe{}, false
}

// probeFrontend recognises a whole Query or Parse message: the start of a
// client's stream captured mid-connection.
func probeFrontend(data []byte) sdk.Probe {
	t := data[0]
	if t != 'Q' && t != 'P' {
		return sdk.Probe{}
	}
	n := be32(data[1:])
	if n < 5 || n > probeWindow {
		return sdk.Probe{}
	}
	if len(data) < n+1 {
		if !sqlish(data[5:], false) {
			return sdk.Probe{}
		}
		return sdk.Probe{NeedMore: true}
	}
	body := data[5 : n+1]
	switch t {
	case 'Q':
		if len(body) < 2 || body[len(body)-1] != 0 || !sqlish(body[:len(body)-1], true) {
			return sdk.Probe{}
		}
	case 'P':
		name, rest, ok := cstring(body)
		if !ok || !printable(name) {
			return sdk.Probe{}
		}
		sql, rest, ok := cstring(rest)
		if !ok || len(sql) == 0 || !sqlish(sql, true) || len(rest) < 2 || len(rest) != 2+4*be16(rest) {
			return sdk.Probe{}
		}
	}
	return sdk.Probe{Confidence: 80}
}

// probeBackend walks the typed messages at the start of a server's stream.
// Every whole message must be well formed; one strong message (an
// authentication request, a command tag, an error with fields) or two
// well-formed ones in a row make a confident guess.
func probeBackend(data []byte) sdk.Probe {
	good, strong := 0, false
	for pos := 0; pos < len(data) && good < 8; {
		rest := data[pos:]
		if len(rest) < 5 {
			if good == 0 {
				return sdk.Probe{NeedMore: true}
			}
			break
		}
		t, n := rest[0], be32(rest[1:])
		if !knownType(t, false) || n < 4 || n > probeWindow {
			return sdk.Probe{}
		}
		if len(rest) < n+1 {
			if good == 0 {
				return sdk.Probe{NeedMore: true}
			}
			break
		}
		ok, s := validBackend(t, rest[5:n+1])
		if !ok {
			return sdk.Probe{}
		}
		strong = strong || s
		good++
		pos += n + 1
	}
	switch {
	case good >= 2 && strong:
		return sdk.Probe{Confidence: 85, FromServer: true}
	case strong, good >= 3:
		return sdk.Probe{Confidence: 70, FromServer: true}
	case good > 0:
		return sdk.Probe{Confidence: 30, FromServer: true, NeedMore: len(data) < 64}
	}
	return sdk.Probe{}
}

// validBackend checks the body of one backend message; strong reports a
// message whose structure is unlikely by chance.
func validBackend(t byte, body []byte) (ok, strong bool) {
	switch t {
	case 'R':
		if len(body) < 4 {
			return false, false
		}
		switch be32(body) {
		case 0, 2, 3, 6, 7, 9:
			return len(body) == 4, len(body) == 4
		case 5:
			return len(body) == 8, true
		case 8, 11, 12:
			return true, false
		case 10:
			return len(body) > 5 && body[len(body)-1] == 0, true
		}
		return false, false
	case 'Z':
		return len(body) == 1 && (body[0] == 'I' || body[0] == 'T' || body[0] == 'E'), false
	case 'C':
		return len(body) > 1 && body[len(body)-1] == 0 && tagish(body[:len(body)-1]), true
	case 'E', 'N':
		_, ok := parseFields(body)
		return ok, ok
	case 'S':
		k, rest, ok := cstring(body)
		if !ok || !printable(k) {
			return false, false
		}
		v, rest, ok := cstring(rest)
		return ok && len(rest) == 0 && len(k) > 0 && printable(v), false
	case 'K':
		return len(body) >= 8 && len(body) <= 260, false
	case '1', '2', '3', 'n', 'I', 'c':
		return len(body) == 0, false
	case 'T':
		cols, ok := parseRowDescription(body)
		return ok, ok && len(cols) > 0
	case 'D':
		return validDataRow(body), false
	case 't':
		return len(body) >= 2 && len(body) == 2+4*be16(body), false
	case 's', 'd', 'A', 'G', 'H', 'W', 'V', 'v':
		return true, false
	}
	return false, false
}

// knownType reports a message type byte of the frontend or the backend.
func knownType(t byte, frontend bool) bool {
	if frontend {
		return bytes.IndexByte([]byte("QPBDESHCXdcfpF"), t) >= 0
	}
	return bytes.IndexByte([]byte("RKSZTDCEN123nItsGHWdcAVv"), t) >= 0
}

func validDataRow(body []byte) bool {
	if len(body) < 2 {
		return false
	}
	n, p := be16(body), 2
	for range n {
		if len(body)-p < 4 {
			return false
		}
		l := int(int32(binary.BigEndian.Uint32(body[p:])))
		p += 4
		if l == -1 {
			continue
		}
		if l < 0 || l > len(body)-p {
			return false
		}
		p += l
	}
	return p == len(body)
}

// cstring splits off a NUL-terminated string.
func cstring(b []byte) (s, rest []byte, ok bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return nil, b, false
	}
	return b[:i], b[i+1:], true
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

// sqlish accepts what a query string can be: printable text and, when the
// message is whole, not empty. A cut-off prefix may end inside a rune.
func sqlish(b []byte, whole bool) bool {
	if whole {
		return len(b) > 0 && printable(b)
	}
	for len(b) > 0 && !utf8.Valid(b) && len(b) > 0 {
		b = b[:len(b)-1]
	}
	return printable(b)
}

// tagish accepts a CommandComplete tag: an upper-case word, maybe followed
// by counts ("SELECT 3", "INSERT 0 1", "CREATE TABLE").
func tagish(b []byte) bool {
	if len(b) == 0 || len(b) > 64 || b[0] < 'A' || b[0] > 'Z' {
		return false
	}
	for _, c := range b {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == ' ' || c == '_') {
			return false
		}
	}
	return true
}
