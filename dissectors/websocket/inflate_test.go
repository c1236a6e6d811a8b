package websocket

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// sender compresses messages as a permessage-deflate endpoint does (RFC
// 7692 §7.2.1): a sync flush ends each message and its trailing 0x00 0x00
// 0xff 0xff is removed. With takeover the LZ77 window carries over from
// message to message; without, each message starts afresh, as with
// *_no_context_takeover.
type sender struct {
	t        testing.TB
	takeover bool
	buf      bytes.Buffer
	w        *flate.Writer
}

func newSender(t testing.TB, takeover bool) *sender {
	s := &sender{t: t, takeover: takeover}
	w, err := flate.NewWriter(&s.buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	s.w = w
	return s
}

func (s *sender) deflate(p []byte) []byte {
	s.buf.Reset()
	if !s.takeover {
		s.w.Reset(&s.buf)
	}
	if _, err := s.w.Write(p); err != nil {
		s.t.Fatal(err)
	}
	if err := s.w.Flush(); err != nil {
		s.t.Fatal(err)
	}
	b := s.buf.Bytes()
	if !bytes.HasSuffix(b, []byte{0, 0, 0xff, 0xff}) {
		s.t.Fatalf("sync flush did not end in 00 00 ff ff: % x", b)
	}
	return bytes.Clone(b[:len(b)-4])
}

// compressed marks a frame's payload as compressed (RSV1).
func compressed(f []byte) []byte {
	f[0] |= 0x40
	return f
}

// step is one delivery (or, with gap set, a loss) in a compressed-message
// test.
type step struct {
	dir  sdk.Direction
	data []byte
	gap  int
}

// describe renders a record for the tests: direction, opcode, preview
// (with "…" when truncated) and any error.
func describe(r *sdk.Record) string {
	m := r.Request
	s := "s:"
	if r.RequestDir == cli {
		s = "c:"
	}
	s += r.Method + " " + m.Body
	if m.Encoding != "" {
		s += " [" + m.Encoding + "]"
	}
	if m.BodyTruncated {
		s += " …"
	}
	if r.Error != "" {
		s += " !" + r.Error
	}
	return s
}

func TestPermessageDeflate(t *testing.T) {
	// Messages that repeat one another, so that with context takeover the
	// later ones are mostly references into the earlier ones.
	msgs := []string{
		`{"type":"ticker","symbol":"BTC-USD","price":"64012.10","volume":"1200.5"}`,
		`{"type":"ticker","symbol":"BTC-USD","price":"64013.20","volume":"1201.5"}`,
		`{"type":"ticker","symbol":"ETH-USD","price":"3120.75","volume":"9800.0"}`,
		`{"type":"ticker","symbol":"BTC-USD","price":"64011.00","volume":"1203.0"}`,
	}
	fresh := newSender(t, false)
	prose := proseText(3000)
	type tc struct {
		name  string
		steps func(t *testing.T) []step
		want  []string
	}
	tests := []tc{
		{
			// RFC 7692 §7.2.3.1–7.2.3.5, byte for byte: independent of the
			// compressor used elsewhere in these tests.
			name: "RFC 7692 examples",
			steps: func(*testing.T) []step {
				return []step{
					{dir: srv, data: []byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}},
					// §7.2.3.2: the second "Hello" refers back to the first.
					{dir: srv, data: []byte{0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00}},
					// §7.2.3.1 fragmented: "Hel" then "lo".
					{dir: srv, data: []byte{0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00}},
					// §7.2.3.3: a stored (uncompressed) block.
					{dir: srv, data: []byte{0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}},
					// §7.2.3.4: a block with BFINAL set.
					{dir: srv, data: []byte{0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}},
					// §7.2.3.5: two blocks in one message.
					{dir: srv, data: []byte{0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}},
				}
			},
			want: []string{"s:TEXT Hello", "s:TEXT Hello", "s:TEXT Hello", "s:TEXT Hello", "s:TEXT Hello", "s:TEXT Hello"},
		},
		{
			name: "context takeover, both sides interleaved",
			steps: func(t *testing.T) []step {
				c, s := newSender(t, true), newSender(t, true)
				var out []step
				for _, m := range msgs {
					// Both sides send the same text, so decoding one side
					// with the other's history would still find matches
					// but at the wrong distances.
					out = append(out, step{dir: cli, data: compressed(frame(true, opText, true, c.deflate([]byte(m))))})
					out = append(out, step{dir: srv, data: compressed(frame(true, opText, false, s.deflate([]byte(strings.ToUpper(m)))))})
				}
				return out
			},
			want: []string{
				"c:TEXT " + msgs[0], "s:TEXT " + strings.ToUpper(msgs[0]),
				"c:TEXT " + msgs[1], "s:TEXT " + strings.ToUpper(msgs[1]),
				"c:TEXT " + msgs[2], "s:TEXT " + strings.ToUpper(msgs[2]),
				"c:TEXT " + msgs[3], "s:TEXT " + strings.ToUpper(msgs[3]),
			},
		},
		{
			name: "no context takeover",
			steps: func(t *testing.T) []step {
				var out []step
				for _, m := range msgs {
					out = append(out, step{dir: srv, data: compressed(frame(true, opText, false, fresh.deflate([]byte(m))))})
				}
				return out
			},
			want: []string{"s:TEXT " + msgs[0], "s:TEXT " + msgs[1], "s:TEXT " + msgs[2], "s:TEXT " + msgs[3]},
		},
		{
			name: "fragmented compressed message, binary, control frame between fragments",
			steps: func(t *testing.T) []step {
				s := newSender(t, true)
				first := s.deflate([]byte(msgs[0]))
				p := s.deflate(append([]byte{0, 1, 2}, msgs[1]...))
				return []step{
					{dir: cli, data: compressed(frame(true, opText, true, first))},
					{dir: cli, data: cat(
						compressed(frame(false, opBinary, true, p[:3])),
						frame(true, opPing, true, nil),
						frame(false, opCont, true, p[3:7]),
						frame(true, opCont, true, p[7:]))},
				}
			},
			want: []string{
				"c:TEXT " + msgs[0],
				"c:BINARY " + base64.StdEncoding.EncodeToString(append([]byte{0, 1, 2}, msgs[1]...)) + " [base64]",
				"c:PING  !no response captured",
			},
		},
		{
			name: "corrupt message: error, history dropped, the other side unaffected",
			steps: func(t *testing.T) []step {
				s, c := newSender(t, true), newSender(t, true)
				return []step{
					{dir: srv, data: compressed(frame(true, opText, false, s.deflate([]byte(msgs[0]))))},
					{dir: cli, data: compressed(frame(true, opText, true, c.deflate([]byte(msgs[0]))))},
					// BTYPE 11 is reserved.
					{dir: srv, data: compressed(frame(true, opText, false, []byte{0xff, 0xff, 0xff}))},
					// Refers back to the first message, whose output is
					// no longer trusted.
					{dir: srv, data: compressed(frame(true, opText, false, s.deflate([]byte(msgs[1]))))},
					// Refers to nothing before it: decodes again.
					{dir: srv, data: compressed(frame(true, opText, false, fresh.deflate([]byte("standalone"))))},
					{dir: cli, data: compressed(frame(true, opText, true, c.deflate([]byte(msgs[1]))))},
				}
			},
			want: []string{
				"s:TEXT " + msgs[0],
				"c:TEXT " + msgs[0],
				"s:TEXT RAW(corrupt)",
				"s:TEXT RAW(history lost)",
				"s:TEXT standalone",
				"c:TEXT " + msgs[1],
			},
		},
		{
			name: "gap inside a compressed message",
			steps: func(t *testing.T) []step {
				s := newSender(t, true)
				p := s.deflate([]byte(prose))
				f := compressed(frame(true, opText, false, p))
				hdr := len(f) - len(p)
				return []step{
					{dir: srv, data: f[:hdr+len(p)/2]},
					{dir: srv, gap: 5},
					{dir: srv, data: f[hdr+len(p)/2+5:]},
					// Repeats the cut-off message, so it is all references.
					{dir: srv, data: compressed(frame(true, opText, false, s.deflate([]byte(prose[:500]))))},
				}
			},
			want: []string{"s:TEXT PREFIX …", "s:TEXT RAW(history lost)"},
		},
		{
			name: "connection ends inside a compressed message",
			steps: func(t *testing.T) []step {
				s := newSender(t, true)
				p := s.deflate([]byte(prose))
				f := compressed(frame(true, opText, true, p))
				return []step{{dir: cli, data: f[:len(f)-3]}}
			},
			want: []string{"c:TEXT PREFIX … !connection ended before the message did"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := tt.steps(t)
			for _, split := range []int{0, 1, 5} {
				dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
				ts := int64(1)
				for _, st := range steps {
					ts++
					if st.gap > 0 {
						dr.Gap(st.dir, st.gap, ts)
						continue
					}
					if split == 0 {
						dr.Feed(st.dir, st.data, ts)
						continue
					}
					for i := 0; i < len(st.data); i += split {
						dr.Feed(st.dir, st.data[i:min(i+split, len(st.data))], ts)
					}
				}
				dr.Close(ts + 1)
				if dr.Misbehaved != "" {
					t.Fatal(dr.Misbehaved)
				}
				var got []string
				for _, r := range dr.Records {
					got = append(got, abbreviate(t, r, prose))
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("split %d:\n got  %q\n want %q", split, got, tt.want)
				}
			}
		})
	}
}

// abbreviate is describe with the previews the table cannot spell out
// summarised: a raw compressed preview becomes RAW(why), after checking
// that the inflate error is both in the field and in the record's Error, and
// a cut-off decoded preview becomes PREFIX, after checking that it is a
// prefix of prose.
func abbreviate(t *testing.T, r *sdk.Record, prose string) string {
	t.Helper()
	m := r.Request
	if r.Method != "TEXT" && r.Method != "BINARY" {
		return describe(r)
	}
	if m.Fields["websocket_compressed"] != true {
		t.Fatalf("record not marked compressed: %v", m.Fields)
	}
	if r.Failed {
		t.Fatalf("a decoding problem failed the record: %+v", r)
	}
	c := *r
	short := func(body string) {
		c.Request = &sdk.Message{Body: body, BodyTruncated: m.BodyTruncated}
	}
	errField, _ := m.Fields["websocket_inflate_error"].(string)
	_, whole := m.Fields["websocket_decompressed_length"]
	switch {
	case errField != "":
		if m.Encoding != "base64" || !strings.Contains(r.Error, errField) || whole {
			t.Fatalf("error %q field %q preview %q", r.Error, errField, m.Body)
		}
		why := "corrupt"
		if strings.Contains(errField, "earlier output") {
			why = "history lost"
		}
		short("RAW(" + why + ")")
		c.Error = strings.TrimPrefix(strings.TrimPrefix(r.Error, errField), "; ")
	case !whole:
		if !m.BodyTruncated || len(m.Body) == 0 || !strings.HasPrefix(prose, m.Body) {
			t.Fatalf("cut-off preview %q is not a prefix of the message", m.Body)
		}
		short("PREFIX")
	default:
		if n := m.Fields["websocket_decompressed_length"].(int64); m.Encoding == "" && n != int64(len(m.Body)) {
			t.Fatalf("decompressed length %d for %d preview bytes", n, len(m.Body))
		}
	}
	return describe(&c)
}

// proseText is n bytes of text that compresses but not to nothing.
func proseText(n int) string {
	words := strings.Fields("the quick brown fox jumps over a lazy dog while seven wizards quietly brew potions near an old stone bridge")
	rng := rand.New(rand.NewPCG(7, 11))
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.String()[:n]
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestTakeoverIsUsed makes sure the takeover cases above test what they
// claim: the compressor's later messages refer to earlier ones, so they
// cannot be decoded on their own.
func TestTakeoverIsUsed(t *testing.T) {
	s := newSender(t, true)
	s.deflate([]byte(`{"type":"ticker","symbol":"BTC-USD","price":"64012.10","volume":"1200.5"}`))
	second := s.deflate([]byte(`{"type":"ticker","symbol":"BTC-USD","price":"64013.20","volume":"1201.5"}`))
	var f inflater
	if res := f.inflate(second, true); res.err == "" {
		t.Fatalf("second message decoded without its history: %q", res.preview)
	}
}

// TestLimits covers what hostile or huge messages cost: a decompression
// bomb stops at maxInflateOutput with a bounded preview and bounded
// memory, and a message over maxInflateInput is previewed from its start.
func TestLimits(t *testing.T) {
	bomb := newSender(t, true).deflate(make([]byte, 32<<20))
	if len(bomb) > maxInflateInput {
		t.Fatalf("bomb of %d compressed bytes is over the input limit", len(bomb))
	}
	random := make([]byte, maxInflateInput+64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	big := newSender(t, true).deflate(random)
	if len(big) <= maxInflateInput {
		t.Fatalf("%d compressed bytes: not over the input limit", len(big))
	}
	tests := []struct {
		name    string
		payload []byte
		body    string
		note    string
	}{
		{"bomb", bomb, base64.StdEncoding.EncodeToString(make([]byte, bodyPreview)), "decompression stopped after 4194304 bytes"},
		{"over the input limit", big, base64.StdEncoding.EncodeToString(random[:bodyPreview]), "only the first 262144 compressed bytes were decompressed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			dr.Feed(srv, compressed(frame(true, opBinary, false, tt.payload)), 1)
			runtime.ReadMemStats(&after)
			// The frame itself is held once by the test; what the
			// dissector allocates must stay near the compressed size
			// plus its fixed buffers, nowhere near the 64 MiB output.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(tt.payload))*4+2<<20 {
				t.Errorf("allocated %d bytes for a %d-byte message", alloc, len(tt.payload))
			}
			// A later message that refers to the history cannot be
			// decoded: the history was given up, not half kept.
			s := newSender(t, true)
			s.deflate([]byte("history"))
			dr.Feed(srv, compressed(frame(true, opText, false, s.deflate([]byte("history again")))), 2)
			dr.Close(3)
			if len(dr.Records) != 2 {
				t.Fatalf("%d records", len(dr.Records))
			}
			r := dr.Records[0]
			if r.Request.Body != tt.body || !r.Request.BodyTruncated || r.Error != tt.note || r.Request.BodySize != int64(len(tt.payload)) {
				t.Fatalf("preview of %d bytes truncated %v size %d error %q", len(r.Request.Body), r.Request.BodyTruncated, r.Request.BodySize, r.Error)
			}
			if _, ok := r.Request.Fields["websocket_decompressed_length"]; ok {
				t.Fatal("a partly decoded message has a decompressed length")
			}
			if dr.Records[1].Request.Fields["websocket_inflate_error"] == nil {
				t.Fatalf("after %s: %+v", tt.name, dr.Records[1].Request)
			}
		})
	}
}

// BenchmarkPermessageDeflate decodes 1000 compressed 1 KiB JSON-like
// messages with context takeover; throughput is of decoded bytes.
func BenchmarkPermessageDeflate(b *testing.B) {
	s := newSender(b, true)
	var frames [][]byte
	size := 0
	for i := range 1000 {
		text := []byte(strings.Repeat(`{"seq":`+string(rune('0'+i%10))+`,"v":"abcdefghij"}`, 40))
		frames = append(frames, compressed(frame(true, opText, false, s.deflate(text))))
		size += len(text)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
		for i, f := range frames {
			dr.Feed(srv, f, int64(i+1))
		}
		dr.Close(int64(len(frames) + 1))
		if len(dr.Records) != len(frames) || dr.Records[len(frames)-1].Error != "" {
			b.Fatalf("%d records", len(dr.Records))
		}
	}
}
