package preview_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/preview"
)

// compress runs b through a compressing writer.
func compress(b []byte, newWriter func(io.Writer) io.WriteCloser) []byte {
	var out bytes.Buffer
	w := newWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func gz(b []byte) []byte {
	return compress(b, func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) })
}

func zl(b []byte) []byte {
	return compress(b, func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) })
}

func raw(b []byte) []byte {
	return compress(b, func(w io.Writer) io.WriteCloser {
		fw, _ := flate.NewWriter(w, flate.BestSpeed)
		return fw
	})
}

// One Decoder previews a run of bodies, as a connection's would: every
// coding, stacked codings, a corrupt body in the middle, and a bomb. Each
// answer must equal what a fresh decoder gives, so nothing leaks from one
// body into the next.
func TestDecoderReuse(t *testing.T) {
	text := func(i int) []byte {
		return []byte(strings.Repeat(fmt.Sprintf(`{"row":%d,"name":"item-%d"}`+"\n", i, i), 5+i))
	}
	bomb := gz(bytes.Repeat([]byte{'a'}, 10<<20))
	var rows bytes.Buffer
	for k := range 400 {
		fmt.Fprintf(&rows, "%d,%x,%d\n", k, k*k*2654435761, k*7919%1000)
	}
	long := gz(rows.Bytes())
	cases := []struct {
		name     string
		body     []byte
		encoding string
		want     []byte // nil: decoding fails
	}{
		{"gzip", gz(text(1)), "gzip", text(1)},
		{"gzip again", gz(text(2)), "x-gzip", text(2)},
		{"zlib deflate", zl(text(3)), "deflate", text(3)},
		{"raw deflate", raw(text(4)), "deflate", text(4)},
		{"corrupt gzip", []byte("\x1f\x8b\x08\x00garbage"), "gzip", nil},
		{"gzip after a corrupt one", gz(text(5)), "gzip", text(5)},
		{"stacked", gz(zl(text(6))), "deflate, gzip", text(6)},
		{"stacked around identity", gz(gz(rows.Bytes())), "gzip, identity, gzip", rows.Bytes()},
		{"zlib after stacked", zl(text(7)), "deflate", text(7)},
		{"cut-off gzip yields what decoded", long[:len(long)/2], "gzip", nil},
		{"identity", text(8), "identity", text(8)},
		{"unknown coding", text(9), "br", nil},
		{"bomb stops after the preview", bomb, "gzip", bytes.Repeat([]byte{'a'}, preview.MaxBytes+1)},
		{"gzip after the bomb", gz(text(10)), "gzip", text(10)},
	}
	var d preview.Decoder
	for _, c := range cases {
		got, ok := d.Decode(c.body, c.encoding)
		fresh, freshOK := preview.Decode(c.body, c.encoding)
		if ok != freshOK || !bytes.Equal(got, fresh) {
			t.Errorf("%s: reused decoder gave %d bytes (ok %v), a fresh one %d (ok %v)", c.name, len(got), ok, len(fresh), freshOK)
		}
		switch {
		case c.name == "cut-off gzip yields what decoded":
			if !ok || len(got) == 0 || !bytes.HasPrefix(rows.Bytes(), got) {
				t.Errorf("%s: got %d bytes, ok %v; want a prefix of the body", c.name, len(got), ok)
			}
		case c.want == nil:
			if ok {
				t.Errorf("%s: decoded %q, want a failure", c.name, got)
			}
		case !ok || !bytes.Equal(got, c.want):
			t.Errorf("%s: got %d bytes (ok %v), want %d", c.name, len(got), ok, len(c.want))
		}
	}
}

func TestSetPreview(t *testing.T) {
	var d preview.Decoder
	for _, c := range []struct {
		name, encoding string
		body           []byte
		truncated      bool
		wantBody       string
		wantBase64     bool
		wantTruncated  bool
		wantField      string
	}{
		{"json", "", []byte(`{"a":1}`), false, `{"a":1}`, false, false, ""},
		{"gzip json", "gzip", gz([]byte(`{"b":2}`)), false, `{"b":2}`, false, false, "content_encoding"},
		{"binary", "", []byte{0, 1, 2, 0xff}, false, "AAEC/w==", true, false, ""},
		{"undecodable", "gzip", []byte("nope"), false, "nope", false, false, "content_encoding_error"},
		{"over the cap", "", bytes.Repeat([]byte("x"), preview.MaxBytes+10), false, strings.Repeat("x", preview.MaxBytes), false, true, ""},
	} {
		m := &sdk.Message{}
		d.Set(m, c.body, c.encoding, c.truncated)
		if m.Body != c.wantBody || (m.Encoding == "base64") != c.wantBase64 || m.BodyTruncated != c.wantTruncated {
			t.Errorf("%s: body %.40q encoding %q truncated %v", c.name, m.Body, m.Encoding, m.BodyTruncated)
		}
		if c.wantField != "" {
			if _, ok := m.Fields[c.wantField]; !ok {
				t.Errorf("%s: no %s field in %v", c.name, c.wantField, m.Fields)
			}
		}
	}
}

func BenchmarkDecodeGzip(b *testing.B) {
	body := gz([]byte(strings.Repeat(`{"month":1,"region":"eu-west-1","revenue":1037.01,"orders":41},`, 60)))
	b.Run("fresh", func(b *testing.B) {
		for b.Loop() {
			preview.Decode(body, "gzip")
		}
	})
	b.Run("reused", func(b *testing.B) {
		var d preview.Decoder
		for b.Loop() {
			d.Decode(body, "gzip")
		}
	})
}

// isTextRuneByRune is IsText's definition, one rune at a time.
func isTextRuneByRune(b []byte) bool {
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

func TestIsText(t *testing.T) {
	long := strings.Repeat(`{"id":1,"name":"ünïcode ✓"}`+"\n", 50)
	for _, s := range []string{
		"", "a", "plain ascii text, longer than a word", "tab\there", "crlf\r\n", long,
		"nul\x00inside a long enough string", "del\x7f in the middle of a long string", "\x1f at start of a word",
		"ends with a control\x01", "bad utf8 \xff in a long string", "cut rune at the end \xe2\x9c", "é at the start",
		"0123456\x7f", "01234567\x1b", "\x80\x80\x80\x80\x80\x80\x80\x80", "~~~~~~~~ ~~~~~~~", "!!!!!!!!\"\"\"\"",
	} {
		if got, want := preview.IsText([]byte(s)), isTextRuneByRune([]byte(s)); got != want {
			t.Errorf("IsText(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzIsText(f *testing.F) {
	f.Add([]byte("hello, world\n"))
	f.Add([]byte("0123456\x7f89"))
	f.Add([]byte("ünïcode ✓ with a tab\t"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := preview.IsText(b), isTextRuneByRune(b); got != want {
			t.Fatalf("IsText(%q) = %v, want %v", b, got, want)
		}
	})
}

func BenchmarkIsText(b *testing.B) {
	body := []byte(strings.Repeat(`{"id":1000,"name":"user-1000","email":"u1000@example.com"}`+"\n", 280))[:preview.MaxBytes]
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		preview.IsText(body)
	}
}

// With Share, a body shown as it is shares the caller's memory (so writing
// the body's bytes shows through: the caller must not), while a decoded or
// base64 body is always a copy.
func TestSharedBody(t *testing.T) {
	plain := []byte(`{"ok":true}`)
	for _, tc := range []struct {
		name     string
		body     []byte
		encoding string
		shared   bool
	}{
		{"text", plain, "", true},
		{"identity", plain, "identity", true},
		{"gzip", gz(plain), "gzip", false},
		{"binary", []byte{0, 1, 2, 0xff}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, share := range []bool{false, true} {
				d := preview.Decoder{Share: share}
				body := bytes.Clone(tc.body)
				var m sdk.Message
				d.Set(&m, body, tc.encoding, false)
				before := m.Body
				before = strings.Clone(before)
				body[0] ^= 0x20
				if changed := m.Body != before; changed != (share && tc.shared) {
					t.Fatalf("share=%v: body changed with the caller's bytes: %v", share, changed)
				}
			}
		})
	}
}
