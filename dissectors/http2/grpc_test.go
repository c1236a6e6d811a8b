package http2

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// grpcFlagged frames a gRPC message with the compressed flag set.
func grpcFlagged(p []byte) []byte {
	b := grpcMsg(p)
	b[0] = 1
	return b
}

// dataFrames splits p into DATA frames no larger than the default
// SETTINGS_MAX_FRAME_SIZE.
func dataFrames(stream uint32, end bool, p []byte) []byte {
	var out []byte
	for len(p) > defaultMaxFrame {
		out = append(out, data(stream, false, p[:defaultMaxFrame])...)
		p = p[defaultMaxFrame:]
	}
	return append(out, data(stream, end, p)...)
}

func gzipped(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zlibbed(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func rawDeflated(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// snappyFramed is the snappy framing format that gRPC's snappy
// compressors write.
func snappyFramed(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w := snappy.NewBufferedWriter(&b)
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstded(t testing.TB, p []byte) []byte {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	return e.EncodeAll(p, nil)
}

// grpcExchange runs one unary-or-streaming call whose response carries
// body under grpc-encoding enc (none when empty) and returns the record.
// lose, when positive, drops that many bytes of the response body after
// its first loseAt bytes.
func grpcExchange(t *testing.T, enc string, body []byte, loseAt, lose int) *sdk.Record {
	t.Helper()
	c, s := newSide(), newSide()
	dr := open(true)
	dr.Feed(cli, cat([]byte(preface), c.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/pkg.Svc/Get", ":authority", "h", "content-type", "application/grpc", "grpc-accept-encoding", "gzip"),
		data(1, true, grpcMsg([]byte("\x0a\x01x")))), 1)
	hdr := []string{":status", "200", "content-type", "application/grpc"}
	if enc != "" {
		hdr = append(hdr, "grpc-encoding", enc)
	}
	frames := dataFrames(1, false, body)
	if lose > 0 {
		// Cut inside the first DATA frame's payload.
		dr.Feed(srv, cat(s.headers(1, false, hdr...), frames[:frameHeaderLen+loseAt]), 2)
		dr.Gap(srv, lose, 3)
		frames = frames[frameHeaderLen+loseAt+lose:]
	} else {
		dr.Feed(srv, s.headers(1, false, hdr...), 2)
	}
	dr.Feed(srv, cat(frames, s.headers(1, true, "grpc-status", "0")), 4)
	dr.Close(5)
	if dr.Misbehaved != "" {
		t.Fatal(dr.Misbehaved)
	}
	if len(dr.Records) != 1 || dr.Records[0].Response == nil {
		t.Fatalf("records %v", dr.Records)
	}
	return dr.Records[0]
}

// framing splits a preview back into gRPC messages, rendered as
// "flag:payload" (payload quoted up to 16 bytes, its length otherwise).
func framing(t *testing.T, m *sdk.Message) []string {
	t.Helper()
	b := []byte(m.Body)
	if m.Encoding == "base64" {
		var err error
		if b, err = base64.StdEncoding.DecodeString(m.Body); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for len(b) >= 5 {
		n := int(binary.BigEndian.Uint32(b[1:5]))
		if n > len(b)-5 {
			out = append(out, fmt.Sprintf("%d:cut %d of %d", b[0], len(b)-5, n))
			return out
		}
		p := b[5 : 5+n]
		if n <= 16 {
			out = append(out, fmt.Sprintf("%d:%q", b[0], p))
		} else {
			out = append(out, fmt.Sprintf("%d:%d bytes", b[0], n))
		}
		b = b[5+n:]
	}
	if len(b) > 0 {
		out = append(out, fmt.Sprintf("rest %d", len(b)))
	}
	return out
}

func TestGRPCCompressedPreview(t *testing.T) {
	hello := []byte("\x0a\x0bhello world")
	long := bytes.Repeat([]byte("a gRPC payload that repeats itself "), 30) // 1050 bytes
	random := make([]byte, 100<<10)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	corrupt := gzipped(t, hello)
	corrupt[len(corrupt)/2] ^= 0xff
	tests := []struct {
		name         string
		enc          string
		body         func(t *testing.T) []byte
		loseAt, lose int
		want         []string
		decoded      int
		compressed   int
		truncated    bool
		problem      string // in grpc_preview_error
	}{
		{
			name: "gzip, mixed with an uncompressed message",
			enc:  "gzip",
			body: func(t *testing.T) []byte {
				return cat(grpcFlagged(gzipped(t, hello)), grpcMsg([]byte("plain")), grpcFlagged(gzipped(t, long)))
			},
			want:       []string{`0:"\n\vhello world"`, `0:"plain"`, "0:1050 bytes"},
			decoded:    2,
			compressed: 2,
		},
		{
			name: "deflate, zlib-wrapped and raw",
			enc:  "deflate",
			body: func(t *testing.T) []byte {
				return cat(grpcFlagged(zlibbed(t, hello)), grpcFlagged(rawDeflated(t, []byte("raw"))))
			},
			want:       []string{`0:"\n\vhello world"`, `0:"raw"`},
			decoded:    2,
			compressed: 2,
		},
		{
			name: "snappy, framed and block",
			enc:  "snappy",
			body: func(t *testing.T) []byte {
				return cat(grpcFlagged(snappyFramed(t, long)), grpcFlagged(snappy.Encode(nil, hello)))
			},
			want:       []string{"0:1050 bytes", `0:"\n\vhello world"`},
			decoded:    2,
			compressed: 2,
		},
		{
			name:       "zstd",
			enc:        "zstd",
			body:       func(t *testing.T) []byte { return cat(grpcFlagged(zstded(t, hello)), grpcFlagged(zstded(t, long))) },
			want:       []string{`0:"\n\vhello world"`, "0:1050 bytes"},
			decoded:    2,
			compressed: 2,
		},
		{
			name:       "unknown encoding: left as sent",
			enc:        "lz4",
			body:       func(t *testing.T) []byte { return grpcFlagged([]byte("\x04\x22\x4d\x18opaque")) },
			want:       []string{`1:"\x04\"M\x18opaque"`},
			compressed: 1,
			problem:    `cannot decode grpc-encoding "lz4": left as sent`,
		},
		{
			name:       "compressed flag without grpc-encoding",
			body:       func(t *testing.T) []byte { return grpcFlagged(gzipped(t, hello)) },
			want:       []string{"1:37 bytes"},
			compressed: 1,
			problem:    "no grpc-encoding captured",
		},
		{
			name:       "corrupt gzip: left as sent, the next message still decoded",
			enc:        "gzip",
			body:       func(t *testing.T) []byte { return cat(grpcFlagged(corrupt), grpcFlagged(gzipped(t, []byte("ok")))) },
			want:       []string{"1:37 bytes", `0:"ok"`},
			decoded:    1,
			compressed: 2,
			problem:    "gzip message of 37 bytes",
		},
		{
			name: "snappy block claiming a huge size",
			enc:  "snappy",
			// A varint length of 2^32-1, then a literal.
			body:       func(t *testing.T) []byte { return grpcFlagged([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 'x'}) },
			want:       []string{`1:"\xff\xff\xff\xff\x0f\x00x"`},
			compressed: 1,
			problem:    "snappy message of 7 bytes",
		},
		{
			name: "message over the kept bytes: its start decoded",
			enc:  "gzip",
			body: func(t *testing.T) []byte {
				return cat(grpcFlagged(gzipped(t, []byte("first"))), grpcFlagged(gzipped(t, random)))
			},
			want:       []string{`0:"first"`, fmt.Sprintf("0:%d bytes", bodyPreview-10-5)},
			decoded:    2,
			compressed: 2,
			truncated:  true,
		},
		{
			name:       "framing lost to a flag byte that is neither 0 nor 1",
			enc:        "gzip",
			body:       func(t *testing.T) []byte { return cat(grpcFlagged(gzipped(t, hello)), []byte("\x05\x00\x00\x00\x01z")) },
			want:       []string{`0:"\n\vhello world"`},
			decoded:    1,
			compressed: 1,
			truncated:  true,
		},
		{
			name: "bytes lost: only what came before the loss",
			enc:  "gzip",
			body: func(t *testing.T) []byte {
				return cat(grpcFlagged(gzipped(t, hello)), grpcMsg(long), grpcFlagged(gzipped(t, []byte("after"))))
			},
			loseAt: 5 + 37 + 5 + 10, // 10 bytes into the second message

			lose:       4,
			want:       []string{`0:"\n\vhello world"`, "0:cut 10 of 1050"},
			decoded:    1,
			compressed: 1, // counting stops at the loss
			truncated:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := grpcExchange(t, tt.enc, tt.body(t), tt.loseAt, tt.lose)
			m := r.Response
			if got := framing(t, m); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("preview framing:\n got  %q\n want %q", got, tt.want)
			}
			if got, _ := m.Fields["grpc_decompressed_messages"].(int); got != tt.decoded {
				t.Errorf("grpc_decompressed_messages %v, want %d", m.Fields["grpc_decompressed_messages"], tt.decoded)
			}
			if got, _ := m.Fields["grpc_compressed_messages"].(int); got != tt.compressed {
				t.Errorf("grpc_compressed_messages %v, want %d", m.Fields["grpc_compressed_messages"], tt.compressed)
			}
			if m.BodyTruncated != tt.truncated {
				t.Errorf("truncated %v", m.BodyTruncated)
			}
			problem, _ := m.Fields["grpc_preview_error"].(string)
			if tt.problem == "" && problem != "" || !strings.Contains(problem, tt.problem) {
				t.Errorf("grpc_preview_error %q, want it to say %q", problem, tt.problem)
			}
			if r.Failed || r.Status != 0 {
				t.Errorf("status %d failed %v", r.Status, r.Failed)
			}
			// The request, sent uncompressed, keeps its preview as before.
			if r.Request.Encoding != "base64" || r.Request.Body != base64.StdEncoding.EncodeToString(grpcMsg([]byte("\x0a\x01x"))) {
				t.Errorf("request preview %q", r.Request.Body)
			}
		})
	}
}

// TestGRPCBomb checks that a message that decompresses to far more than
// the preview costs about the preview, whatever the encoding.
func TestGRPCBomb(t *testing.T) {
	zeros := make([]byte, 64<<20)
	tests := []struct {
		enc  string
		body []byte
	}{
		{"gzip", gzipped(t, zeros[:32<<20])},
		{"deflate", zlibbed(t, zeros[:32<<20])},
		{"zstd", zstded(t, zeros)},
		{"snappy", snappyFramed(t, zeros[:16<<20])},
	}
	for _, tt := range tests {
		t.Run(tt.enc, func(t *testing.T) {
			msg := grpcFlagged(tt.body)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := grpcExchange(t, tt.enc, msg, 0, 0)
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("%d compressed bytes cost %d bytes of allocation", len(tt.body), alloc)
			}
			// Decoded up to the preview, or refused (zstd's window is
			// over the decoder's memory limit) and left as sent.
			m := r.Response
			switch got := framing(t, m); {
			case m.Fields["grpc_decompressed_messages"] == 1:
				if want := []string{fmt.Sprintf("0:%d bytes", bodyPreview-5)}; !reflect.DeepEqual(got, want) || !m.BodyTruncated || len(m.Body) > 4*bodyPreview/3+4 {
					t.Errorf("preview %q of %d characters, truncated %v", got, len(m.Body), m.BodyTruncated)
				}
			case m.Fields["grpc_preview_error"] != nil:
				if n := min(len(msg), maxCompressed); len(m.Body) != base64.StdEncoding.EncodedLen(min(n, bodyPreview)) {
					t.Errorf("refused, but the preview is not the message as sent: %q", got)
				}
			default:
				t.Errorf("neither decoded nor refused: %v", m.Fields)
			}
		})
	}
}
