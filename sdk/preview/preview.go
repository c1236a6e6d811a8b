package preview

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Set stores a bounded preview of body on m, decoding the
// Content-Encoding codings it knows (gzip, deflate, stacked in any order)
// so that a reader sees the payload rather than compressed bytes.
func Set(m *sdk.Message, body []byte, encoding string, truncated bool) {
	if encoding != "" {
		if dec, ok := Decode(body, encoding); ok {
			m.Set("content_encoding", encoding)
			body = dec
			truncated = truncated || len(dec) > MaxBytes
		} else {
			m.Set("content_encoding_error", "could not decode "+encoding+" preview")
		}
	}
	if len(body) > MaxBytes {
		body = body[:MaxBytes]
		truncated = true
	}
	m.BodyTruncated = truncated
	if t := trimCutRune(body); truncated && len(t) < len(body) && IsText(t) {
		body = t
	}
	if IsText(body) {
		m.Body = string(body)
		return
	}
	m.Body = base64.StdEncoding.EncodeToString(body)
	m.Encoding = "base64"
}

// Decode undoes Content-Encoding codings, last applied first. It
// reads at most MaxBytes+1 decoded bytes per layer, so a compression bomb
// costs no more than the preview. A cut-off stream still yields what
// decoded.
func Decode(body []byte, encoding string) ([]byte, bool) {
	codings := strings.Split(encoding, ",")
	out := body
	for i := len(codings) - 1; i >= 0; i-- {
		var r io.Reader
		var err error
		switch strings.ToLower(strings.TrimSpace(codings[i])) {
		case "", "identity":
			continue
		case "gzip", "x-gzip":
			r, err = gzip.NewReader(bytes.NewReader(out))
		case "deflate":
			// "deflate" is zlib-wrapped per RFC 9110, but servers send raw
			// deflate often enough that both are tried.
			if zr, zerr := zlib.NewReader(bytes.NewReader(out)); zerr == nil {
				r = zr
			} else {
				r = flate.NewReader(bytes.NewReader(out))
			}
		default:
			return nil, false
		}
		if err != nil {
			return nil, false
		}
		dec, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
		if len(dec) == 0 && err != nil {
			return nil, false
		}
		out = dec
	}
	return out, true
}

// trimCutRune drops a multi-byte rune the preview cap cut in half, so that a
// text preview stays valid UTF-8. A cut rune in a whole body is not text.
func trimCutRune(b []byte) []byte {
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

// IsText accepts valid UTF-8 without control characters other than
// whitespace.
func IsText(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			return false
		}
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return false
		}
		b = b[n:]
	}
	return true
}
