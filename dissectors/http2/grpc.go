package http2

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/preview"
)

// maxGRPCDecoded bounds what decoding one compressed gRPC message may
// allocate where the decoder must produce all of it at once (a snappy
// block) or holds the sender's window (zstd, which allocates it whole), so
// that a decompression bomb costs no more than this. gRPC's default
// largest message is this size too.
const maxGRPCDecoded = 4 << 20

// grpcCounter follows the length-prefixed message framing of gRPC (one
// compressed-flag byte and a 4-byte big-endian length) across DATA frames.
type grpcCounter struct {
	prefix     [5]byte
	have       int    // prefix bytes collected
	left       uint64 // message bytes still to come
	messages   int    // messages complete
	compressed int    // of them with the compressed flag
	broken     bool   // framing lost (a gap, or DATA seen from mid-message)
	// framed counts the bytes known to follow the framing, from the first
	// DATA byte up to where it was lost; the preview decodes no further.
	framed int64
}

func (g *grpcCounter) feed(p []byte) {
	for len(p) > 0 && !g.broken {
		if g.left > 0 {
			n := min(uint64(len(p)), g.left)
			g.left -= n
			g.framed += int64(n)
			p = p[n:]
			if g.left == 0 {
				g.messages++
			}
			continue
		}
		n := copy(g.prefix[g.have:], p)
		g.have += n
		g.framed += int64(n)
		p = p[n:]
		if g.have < 5 {
			return
		}
		g.have = 0
		if g.prefix[0] > 1 {
			g.broken = true
			g.framed -= 5
			return
		}
		if g.prefix[0] == 1 {
			g.compressed++
		}
		g.left = uint64(g.prefix[1])<<24 | uint64(g.prefix[2])<<16 | uint64(g.prefix[3])<<8 | uint64(g.prefix[4])
		if g.left == 0 {
			g.messages++
		}
	}
}

// partial reports a message the stream ended inside of.
func (g *grpcCounter) partial() bool { return g.have > 0 || g.left > 0 }

var grpcCodes = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

func grpcCodeName(c int) string {
	if c >= 0 && c < len(grpcCodes) {
		return grpcCodes[c]
	}
	return "CODE_" + strconv.Itoa(c)
}

// grpcStatus reads grpc-status from the response trailers (or its only
// header block). A response that ended without one gets the code gRPC
// clients derive from the HTTP status (gRPC's http-grpc-status-mapping),
// unless the status may have been among fields the capture could not decode.
func (s *stream) grpcStatus() (int, bool) {
	if v, ok := s.resp.trailer("grpc-status"); ok {
		if c, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && c >= 0 {
			return c, true
		}
	}
	if !s.resp.ended || s.resp.status == 0 || s.resp.trailerBlock || s.resp.unknown > 0 {
		return 0, false
	}
	switch s.resp.status {
	case 400:
		return 13, true
	case 401:
		return 16, true
	case 403:
		return 7, true
	case 404:
		return 12, true
	case 429, 502, 503, 504:
		return 14, true
	}
	return 2, true
}

// grpcFields fills the gRPC part of a record.
func (s *stream) grpcFields(r *sdk.Record, status int, known bool) {
	if r.Request != nil {
		svc, method := splitGRPCPath(s.req.path)
		if svc != "" {
			r.Request.Set("grpc_service", svc)
			r.Request.Set("grpc_method", method)
		}
		if enc, ok := s.req.header("grpc-encoding"); ok {
			r.Request.Set("grpc_encoding", enc)
		}
		if !s.req.grpc.broken {
			r.Request.Set("grpc_request_messages", s.req.grpc.messages)
		}
		if n := s.req.grpc.compressed; n > 0 {
			r.Request.Set("grpc_compressed_messages", n)
		}
	}
	if r.Response == nil {
		return
	}
	if enc, ok := s.resp.header("grpc-encoding"); ok {
		r.Response.Set("grpc_encoding", enc)
	}
	if !s.resp.grpc.broken {
		r.Response.Set("grpc_response_messages", s.resp.grpc.messages)
	}
	if n := s.resp.grpc.compressed; n > 0 {
		r.Response.Set("grpc_compressed_messages", n)
	}
	if !known {
		return
	}
	r.Status = status
	r.StatusText = grpcCodeName(status)
	r.Failed = status != 0
	r.Response.Set("grpc_status", status)
	if _, ok := s.resp.trailer("grpc-status"); !ok {
		r.Response.Set("grpc_status_derived", true)
	}
	if msg, ok := s.resp.trailer("grpc-message"); ok {
		r.Response.Set("grpc_message", percentDecode(msg))
	}
}

// grpcPreview sets the preview of a side that sent compressed messages: the
// kept DATA with each compressed message decoded, its flag cleared and its
// length prefix set to the decoded length, as if it had been sent
// uncompressed. A message the preview cap or the capture cut short keeps
// the length of what was decoded, so the framing still parses. A message
// that cannot be decoded is left as sent, flag and all, and
// grpc_preview_error says why.
func (m *message) grpcPreview(out *sdk.Message) {
	enc, _ := m.header("grpc-encoding")
	enc = strings.ToLower(strings.TrimSpace(enc))
	body := m.body[:min(int64(len(m.body)), m.grpc.framed)]
	truncated := int64(len(m.body)) < m.bodySize || len(body) < len(m.body)
	var dst []byte
	decoded := 0
	problem := ""
	var zd *zstd.Decoder
	defer func() {
		if zd != nil {
			zd.Close()
		}
	}()
	for len(body) > 0 && len(dst) < bodyPreview {
		if len(body) < 5 {
			dst = append(dst, body...)
			break
		}
		n := binary.BigEndian.Uint32(body[1:5])
		end := 5 + int(min(uint64(n), uint64(len(body)-5)))
		whole := uint64(n) <= uint64(len(body)-5)
		if body[0] != 1 {
			dst = append(dst, body[:end]...)
			body = body[end:]
			continue
		}
		room := bodyPreview - len(dst) - 5
		if room <= 0 {
			break
		}
		dec, err := grpcDecompress(enc, body[5:end], room+1, &zd)
		switch {
		case err == nil && whole, len(dec) > 0 && !whole && !errors.Is(err, errUnsupported):
			// A message cut short yields what decoded before the cut.
			if len(dec) > room {
				dec = dec[:room]
				truncated = true
			}
			truncated = truncated || !whole
			dst = binary.BigEndian.AppendUint32(append(dst, 0), uint32(len(dec)))
			dst = append(dst, dec...)
			decoded++
		default:
			if problem == "" {
				switch {
				case errors.Is(err, errUnsupported) || whole:
					problem = err.Error() + ": left as sent"
				case err == nil:
					problem = "nothing decoded from a message cut short: left as sent"
				default:
					problem = "message cut short, nothing decoded (" + err.Error() + "): left as sent"
				}
			}
			dst = append(dst, body[:end]...)
		}
		body = body[end:]
	}
	if decoded > 0 {
		out.Set("grpc_decompressed_messages", decoded)
	}
	if problem != "" {
		out.Set("grpc_preview_error", problem)
	}
	preview.Set(out, dst, "", truncated || len(body) > 0)
}

// errUnsupported reports a grpc-encoding the preview cannot undo.
var errUnsupported = errors.New("cannot decode")

// grpcDecompress decodes one message's payload, returning at most limit
// bytes. A payload cut short returns what decoded with the error. zd holds
// a zstd decoder made on first use, for the caller to close.
func grpcDecompress(enc string, p []byte, limit int, zd **zstd.Decoder) ([]byte, error) {
	var r io.Reader
	switch enc {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(p))
		if err != nil {
			return nil, fmt.Errorf("gzip message of %d bytes: %w", len(p), err)
		}
		r = zr
	case "deflate":
		// grpc-java's deflate is zlib-wrapped; raw deflate is accepted
		// too, as for Content-Encoding.
		if zr, err := zlib.NewReader(bytes.NewReader(p)); err == nil {
			r = zr
		} else {
			r = flate.NewReader(bytes.NewReader(p))
		}
	case "snappy":
		if bytes.HasPrefix(p, []byte("\xff\x06\x00\x00sNaPpY")) {
			// The framing format, which gRPC's snappy compressors use.
			r = snappy.NewReader(bytes.NewReader(p))
			break
		}
		// A bare block must be decoded whole; its header says how big.
		n, err := snappy.DecodedLen(p)
		if err != nil {
			return nil, fmt.Errorf("snappy message of %d bytes: %w", len(p), err)
		}
		if n > maxGRPCDecoded {
			return nil, fmt.Errorf("snappy message of %d bytes claims %d decoded bytes, over %d", len(p), n, maxGRPCDecoded)
		}
		out, err := snappy.Decode(nil, p)
		if err != nil {
			return nil, fmt.Errorf("snappy message of %d bytes: %w", len(p), err)
		}
		return out[:min(len(out), limit)], nil
	case "zstd":
		if *zd == nil {
			d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxGRPCDecoded), zstd.WithDecoderLowmem(true))
			if err != nil {
				return nil, fmt.Errorf("zstd decoder: %w", err)
			}
			*zd = d
		}
		if err := (*zd).Reset(bytes.NewReader(p)); err != nil {
			return nil, fmt.Errorf("zstd message of %d bytes: %w", len(p), err)
		}
		r = *zd
	case "":
		return nil, fmt.Errorf("%w: compressed flag set but no grpc-encoding captured", errUnsupported)
	case "identity":
		return nil, fmt.Errorf("%w: compressed flag set but grpc-encoding is identity", errUnsupported)
	default:
		return nil, fmt.Errorf("%w grpc-encoding %q", errUnsupported, enc)
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)))
	if err != nil {
		return out, fmt.Errorf("%s message of %d bytes: %w", enc, len(p), err)
	}
	return out, nil
}

func splitGRPCPath(p string) (svc, method string) {
	p = strings.TrimPrefix(p, "/")
	i := strings.LastIndexByte(p, '/')
	if i <= 0 || i == len(p)-1 {
		return "", ""
	}
	return p[:i], p[i+1:]
}

// percentDecode undoes the percent-encoding gRPC applies to grpc-message;
// malformed escapes are kept as sent.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
