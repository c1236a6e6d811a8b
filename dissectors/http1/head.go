package http1

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// parseHead parses a start line and its header fields. It always returns a
// message, partially filled when err is not nil, so the caller can still
// report what it saw.
func parseHead(block []byte, request bool) (*message, error) {
	m := &message{}
	lines := bytes.Split(block, []byte{'\n'})
	start := bytes.TrimRight(lines[0], "\r")
	var err error
	if request {
		err = parseRequestLine(m, start)
	} else {
		err = parseStatusLine(m, start)
	}
	connUpgrade := false
	for _, raw := range lines[1:] {
		line := bytes.TrimRight(raw, "\r")
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			// Obsolete line folding: continue the previous value.
			if n := len(m.headers); n > 0 {
				m.headers[n-1].Value += " " + string(bytes.TrimSpace(line))
			}
			continue
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			if err == nil {
				err = fmt.Errorf("header line without a colon: %q", clip(line))
			}
			continue
		}
		name := string(bytes.TrimRight(line[:i], " \t"))
		value := string(bytes.TrimSpace(line[i+1:]))
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
			for _, tok := range strings.Split(value, ",") {
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

func parseRequestLine(m *message, line []byte) error {
	sp := bytes.IndexByte(line, ' ')
	if sp == 0 {
		m.method = "?"
		return fmt.Errorf("bad request line %q", clip(line))
	}
	if sp < 0 {
		m.method = string(line)
		return fmt.Errorf("request line without a target: %q", clip(line))
	}
	m.method = string(line[:sp])
	// Trimming before looking for the version's space would take the
	// version for the target of "GET  HTTP/1.1".
	rest := line[sp+1:]
	if sp2 := bytes.LastIndexByte(rest, ' '); sp2 >= 0 {
		m.target = string(bytes.Trim(rest[:sp2], " "))
		m.version = string(rest[sp2+1:])
	} else {
		m.target = string(rest)
		m.version = "HTTP/0.9"
	}
	if m.target == "" {
		return fmt.Errorf("request line without a target: %q", clip(line))
	}
	return nil
}

func parseStatusLine(m *message, line []byte) error {
	parts := bytes.SplitN(line, []byte{' '}, 3)
	m.version = string(parts[0])
	if len(parts) < 2 || len(parts[1]) != 3 {
		return fmt.Errorf("bad status line %q", clip(line))
	}
	code, err := strconv.Atoi(string(parts[1]))
	if err != nil || code < 100 || code > 999 {
		return fmt.Errorf("bad status code in %q", clip(line))
	}
	m.status = code
	if len(parts) == 3 {
		m.reason = string(parts[2])
	}
	return nil
}

func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}
