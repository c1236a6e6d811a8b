package http1

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// parseHead parses a start line and its header fields. It always returns a
// message, partially filled when err is not nil, so the caller can still
// report what it saw.
//
// The block is converted to one string and every name and value is a
// substring of it: inside WebAssembly each heap allocation costs about as
// much as parsing the whole block, so the head costs three allocations
// (message, string, header slice) however many fields it has.
func parseHead(block []byte, request bool) (*message, error) {
	m := &message{}
	text := string(block)
	first, rest, _ := strings.Cut(text, "\n")
	start := strings.TrimRight(first, "\r")
	var err error
	if request {
		err = parseRequestLine(m, start)
	} else {
		err = parseStatusLine(m, start)
	}
	if n := strings.Count(rest, "\n"); n > 0 {
		m.headers = make([]sdk.Header, 0, min(n, maxHeaders+2))
	}
	connUpgrade := false
	for rest != "" {
		var raw string
		raw, rest, _ = strings.Cut(rest, "\n")
		line := strings.TrimRight(raw, "\r")
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			// Obsolete line folding: continue the previous value.
			if n := len(m.headers); n > 0 {
				m.headers[n-1].Value += " " + strings.TrimSpace(line)
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
		name := strings.TrimRight(line[:i], " \t")
		value := strings.TrimSpace(line[i+1:])
		if len(m.headers) >= maxHeaders {
			if err == nil {
				err = errors.New("more than 256 header fields")
			}
			// Framing fields are still needed to find where the message
			// ends; the block's own size bounds how many there can be.
			if !strings.EqualFold(name, "Content-Length") && !strings.EqualFold(name, "Transfer-Encoding") {
				continue
			}
		}
		m.headers = append(m.headers, sdk.Header{Name: name, Value: value})
		switch {
		case strings.EqualFold(name, "Connection"):
			for tok := range strings.SplitSeq(value, ",") {
				if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
					connUpgrade = true
				}
			}
		case strings.EqualFold(name, "Upgrade"):
			m.upgrade = value
		}
	}
	if !connUpgrade {
		m.upgrade = ""
	}
	return m, err
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
