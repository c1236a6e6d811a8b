package preview

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Set stores a bounded preview of body on m, decoding the
// Content-Encoding codings it knows (gzip, deflate, stacked in any order)
// so that a reader sees the payload rather than compressed bytes. A
// dissector that previews many compressed bodies keeps a Decoder instead.
func Set(m *sdk.Message, body []byte, encoding string, truncated bool) {
	var d Decoder
	d.Set(m, body, encoding, truncated)
}

// Decode undoes Content-Encoding codings with a Decoder used once.
func Decode(body []byte, encoding string) ([]byte, bool) {
	var d Decoder
	return d.Decode(body, encoding)
}

// Decoder previews bodies with decompressors it keeps from one body to
// the next. A gzip or deflate reader allocates about 40 KiB of tables, which
// cost more than everything else about a small compressed exchange: 260 µs
// of a dissector's time inside WebAssembly, 35 µs natively. Inside a wasm
// guest the decompression itself is the host's (the kubeshark.inflate
// import, sdk/ABI.md): Go's flate compiled to wasm ran at a tenth of its
// native speed. The zero value is ready to use; a Decoder is not safe for
// concurrent use, so a dissector keeps one per connection.
type Decoder struct {
	// Share lets Set give a message a body that shares the memory of the
	// body it was passed, when that is shown as it is (text, not decoded),
	// instead of a copy. Only for a dissector whose emitter copies records
	// (sdk.Copier) and that leaves the body's bytes alone until the record
	// is emitted; inside WebAssembly the copy is an allocation saved.
	Share bool

	inflater
	out [2][]byte // one layer's output is the next one's input
}

// Set is the package's Set with d's decompressors.
func (d *Decoder) Set(m *sdk.Message, body []byte, encoding string, truncated bool) {
	decoded := false
	if encoding != "" {
		if dec, ok := d.Decode(body, encoding); ok {
			m.Set("content_encoding", encoding)
			// Only "identity" codings give body back itself.
			decoded = unsafe.SliceData(dec) != unsafe.SliceData(body) || len(dec) != len(body)
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
		if d.Share && !decoded && len(body) > 0 {
			m.Body = unsafe.String(&body[0], len(body))
		} else {
			m.Body = string(body)
		}
		return
	}
	m.Body = base64.StdEncoding.EncodeToString(body)
	m.Encoding = "base64"
}

// Decode undoes Content-Encoding codings, last applied first. It
// reads at most MaxBytes+1 decoded bytes per layer, so a compression bomb
// costs no more than the preview. A cut-off stream still yields what
// decoded. What it returns is valid until d's next call.
func (d *Decoder) Decode(body []byte, encoding string) ([]byte, bool) {
	codings := strings.Split(encoding, ",")
	out := body
	layers := 0
	for i := len(codings) - 1; i >= 0; i-- {
		var kind Compression
		switch strings.ToLower(strings.TrimSpace(codings[i])) {
		case "", "identity":
			continue
		case "gzip", "x-gzip":
			kind = Gzip
		case "deflate":
			kind = Zlib
		default:
			return nil, false
		}
		buf := d.out[layers%2][:0]
		if cap(buf) < MaxBytes+1 {
			buf = make([]byte, 0, MaxBytes+1)
		}
		layers++
		n, ok := d.Inflate(kind, out, buf[:MaxBytes+1])
		if !ok && kind == Zlib {
			// "deflate" is zlib-wrapped per RFC 9110, but servers send raw
			// deflate often enough that both are tried.
			n, ok = d.Inflate(Raw, out, buf[:MaxBytes+1])
		}
		if !ok {
			return nil, false
		}
		d.out[(layers-1)%2] = buf
		out = buf[:n]
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
//
// Previews are mostly ASCII, so eight bytes are tested at a time and only a
// word holding something else (a tab, a line break, a multi-byte rune) is
// looked at byte by byte. Inside WebAssembly, decoding rune by rune cost
// 300 µs for a 16 KiB preview, more than the rest of its exchange.
func IsText(b []byte) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for len(b) > 0 {
		if len(b) >= 8 {
			w := binary.LittleEndian.Uint64(b)
			// No byte with the high bit set, below 0x20, or equal to 0x7f.
			below := (w - 0x20*ones) &^ w
			x := w ^ 0x7f*ones
			del := (x - ones) &^ x
			if (w|below|del)&highs == 0 {
				b = b[8:]
				continue
			}
		}
		c := b[0]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
				return false
			}
			b = b[1:]
			continue
		}
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
