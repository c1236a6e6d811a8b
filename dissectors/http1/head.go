package http1

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// parseHead parses a start line and its header fields; lines is how many
// line ends the block has (headerEnd counts them), so the header slice is
// allocated once. It always returns a message, partially filled when err is
// not nil, so the caller can still report what it saw.
//
// The block is converted to one string and every name and value is a
// substring of it: inside WebAssembly each heap allocation costs about as
// much as parsing the whole block, so the head costs three allocations
// (message, string, header slice) however many fields it has. For the same
// reason the lines are split and trimmed in one loop rather than with the
// strings package: in a Go guest every call costs more than the comparisons
// it saves (BENCHMARKS.md).
func parseHead(block []byte, lines int, request bool) (*message, error) {
	m := &message{}
	return m, m.parseHead(block, lines, request, false)
}

// parseHead fills m, a new or recycled message. With reuse the head is
// copied into m's own buffer and its strings point there; that is only
// safe when the emitter copies records (sdk.Copier), since the buffer is
// overwritten once m is recycled.
func (m *message) parseHead(block []byte, lines int, request, reuse bool) error {
	var text string
	if reuse {
		m.text = append(m.text[:0], block...)
		text = unsafe.String(unsafe.SliceData(m.text), len(m.text))
	} else {
		text = string(block)
	}
	eol := strings.IndexByte(text, '\n')
	if eol < 0 {
		eol = len(text)
	}
	var err error
	if start := trimCR(text[:eol]); request {
		err = parseRequestLine(m, start)
	} else {
		err = parseStatusLine(m, start)
	}
	if n := min(lines-1, maxHeaders+2); n > cap(m.headers) {
		m.headers = make([]sdk.Header, 0, n)
	}
	connUpgrade := false
	for pos := eol + 1; pos < len(text); {
		next := strings.IndexByte(text[pos:], '\n')
		if next < 0 {
			next = len(text)
		} else {
			next += pos
		}
		line := trimCR(text[pos:next])
		pos = next + 1
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			// Obsolete line folding: continue the previous value.
			if n := len(m.headers); n > 0 {
				m.headers[n-1].Value += " " + trimSpace(line)
			}
			continue
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 {
			if err == nil {
				err = fmt.Errorf("header line without a colon: %q", clip([]byte(line)))
			}
			continue
		}
		j := i
		for j > 0 && (line[j-1] == ' ' || line[j-1] == '\t') {
			j--
		}
		name := line[:j]
		value := trimSpace(line[i+1:])
		if len(m.headers) >= maxHeaders {
			if err == nil {
				err = errors.New("more than 256 header fields")
			}
			// Framing fields are still needed to find where the message
			// ends; the block's own size bounds how many there can be.
			if !isName(name, "Content-Length") && !isName(name, "Transfer-Encoding") {
				continue
			}
		}
		m.headers = append(m.headers, sdk.Header{Name: name, Value: value})
		switch {
		case isName(name, "Connection"):
			for tok := range strings.SplitSeq(value, ",") {
				if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
					connUpgrade = true
				}
			}
		case isName(name, "Upgrade"):
			m.upgrade = value
		}
	}
	if !connUpgrade {
		m.upgrade = ""
	}
	return err
}

// isName reports whether a header name is want, ignoring case. The length
// test comes first: most names differ in length, and in WebAssembly the
// call to EqualFold costs more than the comparison.
func isName(name, want string) bool {
	return len(name) == len(want) && strings.EqualFold(name, want)
}

// trimCR drops the carriage returns that end a line (strings.TrimRight(s,
// "\r") without the call).
func trimCR(s string) string {
	for len(s) > 0 && s[len(s)-1] == '\r' {
		s = s[:len(s)-1]
	}
	return s
}

// trimSpace is strings.TrimSpace with the ASCII cases done inline; a value
// that starts or ends with a non-ASCII byte goes to strings.TrimSpace for
// its Unicode spaces.
func trimSpace(s string) string {
	for len(s) > 0 && asciiSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && asciiSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && (s[0] >= 0x80 || s[len(s)-1] >= 0x80) {
		return strings.TrimSpace(s)
	}
	return s
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func parseRequestLine(m *message, line string) error {
	sp := strings.IndexByte(line, ' ')
	if sp == 0 {
		m.method = "?"
		return fmt.Errorf("bad request line %q", clip([]byte(line)))
	}
	if sp < 0 {
		m.method = line
		return fmt.Errorf("request line without a target: %q", clip([]byte(line)))
	}
	m.method = line[:sp]
	// Trimming before looking for the version's space would take the
	// version for the target of "GET  HTTP/1.1".
	rest := line[sp+1:]
	if sp2 := strings.LastIndexByte(rest, ' '); sp2 >= 0 {
		m.target = strings.Trim(rest[:sp2], " ")
		m.version = rest[sp2+1:]
	} else {
		m.target = rest
		m.version = "HTTP/0.9"
	}
	if m.target == "" {
		return fmt.Errorf("request line without a target: %q", clip([]byte(line)))
	}
	return nil
}

func parseStatusLine(m *message, line string) error {
	version, rest, _ := strings.Cut(line, " ")
	m.version = version
	code, reason, hasReason := strings.Cut(rest, " ")
	if len(code) != 3 {
		return fmt.Errorf("bad status line %q", clip([]byte(line)))
	}
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 999 {
		return fmt.Errorf("bad status code in %q", clip([]byte(line)))
	}
	m.status = n
	if hasReason {
		m.reason = reason
	}
	return nil
}

func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}
