package http1

import "bytes"

type startKind int

const (
	startNone startKind = iota
	startMaybe
	startRequest
	startResponse
)

// tokenChars marks the bytes of an RFC 9110 token with a 1.
const tokenChars = "" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x01\x00\x01\x01\x01\x01\x01\x00\x00\x01\x01\x00\x01\x01\x00" + //  !"#$%&'()*+,-./
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x00\x00" + // 0-9 :;<=>?
	"\x00\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" + // @A-O
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x00\x00\x01\x01" + // P-Z [\]^_
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" + // `a-o
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x01\x00\x01\x00" + // p-z {|}~ DEL
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// isTokenChar is a table lookup: the set search it replaced was a call
// per byte, which a WebAssembly guest pays dearly for.
func isTokenChar(c byte) bool { return tokenChars[c] != 0 }

// classifyStart looks at the first line of data. A request line is
// `TOKEN SP TARGET SP HTTP/1.x`; a status line is `HTTP/1.x SP 3DIGIT`. The
// method may be any token (WebDAV, custom methods), so the version is what
// makes the guess confident. "PRI * HTTP/2.0" is HTTP/2's preface, not ours.
func classifyStart(data []byte) startKind {
	line := data
	complete := false
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		line, complete = data[:i], true
	}
	// Without a LF yet, CRs are judged as they will be once the line is
	// complete, so that where the stream was cut does not change the
	// verdict.
	for len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	// Long request targets (big GET queries) are real; only a line that
	// cannot fit in a header block rules HTTP out.
	if len(line) >= maxHeaderBlock {
		return startNone
	}
	if bytes.HasPrefix(line, []byte("HTTP/")) || bytes.HasPrefix([]byte("HTTP/"), line) {
		if len(line) >= 12 && (bytes.HasPrefix(line, []byte("HTTP/1.")) || bytes.HasPrefix(line, []byte("HTTP/0.9"))) && line[8] == ' ' && isDigits(line[9:12]) {
			return startResponse
		}
		if !complete && len(line) < 12 {
			return startMaybe
		}
		return startNone
	}
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		if !complete && len(line) <= 24 && allToken(line) && len(line) > 0 && upperish(line) {
			return startMaybe
		}
		return startNone
	}
	if sp == 0 || sp > 24 || !allToken(line[:sp]) || !upperish(line[:sp]) {
		return startNone
	}
	rest := line[sp+1:]
	sp2 := bytes.LastIndexByte(rest, ' ')
	if sp2 < 0 {
		if !complete {
			return startMaybe
		}
		return startNone
	}
	version := rest[sp2+1:]
	if bytes.Equal(line, []byte("PRI * HTTP/2.0")) {
		return startNone
	}
	if bytes.HasPrefix(version, []byte("HTTP/1.")) || bytes.Equal(version, []byte("HTTP/0.9")) {
		return startRequest
	}
	if !complete {
		// A later space can still turn what looks like the version into
		// part of the target ("GET /a b HTTP/1.1").
		return startMaybe
	}
	return startNone
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func allToken(b []byte) bool {
	for _, c := range b {
		if !isTokenChar(c) {
			return false
		}
	}
	return true
}

// upperish rejects lower-case words, which are far more often the start of
// some other text protocol than an HTTP method.
func upperish(b []byte) bool {
	for _, c := range b {
		if 'a' <= c && c <= 'z' {
			return false
		}
	}
	return true
}

// lenientRequest accepts a complete first line of one upper-case token,
// optionally followed by one more word: the version-less request lines that
// scanners and broken clients send. It is only used once the direction is
// known to carry requests, never for detection.
func lenientRequest(data []byte) bool {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return false
	}
	line := bytes.TrimRight(data[:i], "\r")
	method, rest, _ := bytes.Cut(line, []byte{' '})
	if len(method) == 0 || len(method) > 24 || !allToken(method) || !upperish(method) {
		return false
	}
	return bytes.IndexByte(rest, ' ') < 0
}
