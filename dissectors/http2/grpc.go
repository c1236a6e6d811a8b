package http2

import (
	"strconv"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// grpcCounter follows the length-prefixed message framing of gRPC (one
// compressed-flag byte and a 4-byte big-endian length) across DATA frames.
type grpcCounter struct {
	prefix     [5]byte
	have       int    // prefix bytes collected
	left       uint64 // message bytes still to come
	messages   int    // messages complete
	compressed int    // of them with the compressed flag
	broken     bool   // framing lost (a gap, or DATA seen from mid-message)
}

func (g *grpcCounter) feed(p []byte) {
	for len(p) > 0 && !g.broken {
		if g.left > 0 {
			n := min(uint64(len(p)), g.left)
			g.left -= n
			p = p[n:]
			if g.left == 0 {
				g.messages++
			}
			continue
		}
		n := copy(g.prefix[g.have:], p)
		g.have += n
		p = p[n:]
		if g.have < 5 {
			return
		}
		g.have = 0
		if g.prefix[0] > 1 {
			g.broken = true
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
