package synth

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// grpcFrame is a gRPC length-prefixed message: uncompressed, then its
// length, then the protobuf bytes.
func grpcFrame(msg []byte) []byte {
	out := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(out[1:], uint32(len(msg)))
	return append(out, msg...)
}

// protoString encodes a length-delimited protobuf field.
func protoString(field int, v string) []byte {
	return append([]byte{byte(field<<3 | 2), byte(len(v))}, v...)
}

// protoVarint encodes a small varint protobuf field.
func protoVarint(field int, v uint8) []byte { return []byte{byte(field << 3), v} }

// runGRPCUnavailable: client → checkout (HTTP/1.1) → stock, a gRPC
// service over h2c (net/http's unencrypted HTTP/2 on both sides). From the
// onset stock answers every Reserve with a trailers-only response,
// grpc-status 14 UNAVAILABLE, and checkout answers 503.
func runGRPCUnavailable(ctx context.Context, s *stage) (GroundTruth, error) {
	const why = "no healthy upstream: stock-db connection refused"
	return runGRPC(ctx, s, grpcCase{
		name: "stock", addr: "10.0.0.80:50051", method: "/inventory.v1.Stock/Reserve", frontVersion: "checkout/6.1",
		downTook: 5 * time.Millisecond, status: 14, message: why,
		frontStatus: http.StatusServiceUnavailable, frontError: "stock unavailable",
		description: "checkout (10.0.0.10:8080) reserves stock over gRPC (h2c) on stock (10.0.0.80:50051). From the onset stock answers every Reserve grpc-status 14 UNAVAILABLE (\"" + why + "\") and checkout answers 503.",
		evidence:    "no healthy upstream",
	})
}

// runGRPCDeadline: client → checkout → pricing over gRPC (h2c), checkout
// giving each Quote a 250ms deadline (grpc-timeout: 250m). From the onset
// pricing's database is slow; pricing honours the deadline and answers
// grpc-status 4 DEADLINE_EXCEEDED when it passes, and checkout answers
// 504.
func runGRPCDeadline(ctx context.Context, s *stage) (GroundTruth, error) {
	const why = "context deadline exceeded: quote-db query still running after 250ms"
	return runGRPC(ctx, s, grpcCase{
		name: "pricing", addr: "10.0.0.81:50051", method: "/pricing.v1.Pricing/Quote", frontVersion: "checkout/6.2",
		deadline: 250 * time.Millisecond, downTook: 250 * time.Millisecond, status: 4, message: why,
		frontStatus: http.StatusGatewayTimeout, frontError: "pricing timed out",
		description: "checkout (10.0.0.10:8080) asks pricing (10.0.0.81:50051) for a quote over gRPC (h2c) with a 250ms deadline. From the onset pricing's database queries outlast it: every Quote ends at the deadline with grpc-status 4 DEADLINE_EXCEEDED (\"" + why + "\") and checkout answers 504.",
		evidence:    "deadline exceeded",
	})
}

// grpcCase is a gRPC dependency that fails from the onset.
type grpcCase struct {
	name, addr, method, frontVersion string
	// deadline is the grpc-timeout checkout sends; 0 sends none.
	deadline time.Duration
	// downTook is how long a failing call takes; status and message are
	// its grpc-status and grpc-message.
	downTook    time.Duration
	status      int
	message     string
	frontStatus int
	frontError  string
	description string
	// evidence is what the failing call's answer says.
	evidence string
}

// runGRPC: client → checkout (HTTP/1.1) → a gRPC service over h2c
// (net/http's unencrypted HTTP/2 on both sides) that, from the onset,
// answers every call with a trailers-only response carrying the case's
// status, and checkout answers the case's HTTP status.
func runGRPC(ctx context.Context, s *stage, gc grpcCase) (GroundTruth, error) {
	dep, co := newService(gc.name, gc.addr), newService("checkout", incFrontAt)
	method := gc.method
	var down atomic.Bool
	smux := http.NewServeMux()
	dep.handle(s.clock, smux, "POST "+method, func(w http.ResponseWriter, r *http.Request) {
		req, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/grpc")
		if down.Load() {
			s.clock.Sleep(gc.downTook)
			w.Header().Set("Grpc-Status", strconv.Itoa(gc.status))
			w.Header().Set("Grpc-Message", gc.message)
			w.WriteHeader(http.StatusOK)
			return
		}
		s.clock.Sleep(3*time.Millisecond + jitter(len(req), 2*time.Millisecond))
		w.WriteHeader(http.StatusOK)
		w.Write(grpcFrame(append(protoString(1, fmt.Sprintf("rsv-%d", len(req)*7919)), protoVarint(2, 1)...)))
		w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
	})
	toDep, err := s.serveProto(dep, incFrontIP, smux, true)
	if err != nil {
		return GroundTruth{}, err
	}
	cmux := http.NewServeMux()
	health(s.clock, co, cmux, gc.frontVersion)
	co.handle(s.clock, cmux, "POST /api/checkout/{user}", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		user := r.PathValue("user")
		msg := grpcFrame(append(protoString(1, "sku-"+user), protoVarint(2, 1)...))
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, dep.base+method, bytes.NewReader(msg))
		if err != nil {
			s.errs.set(err)
			return
		}
		req.Host = dep.host
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Te", "trailers")
		req.Header.Set("User-Agent", "grpc-go/1.70.0")
		if gc.deadline > 0 {
			req.Header.Set("Grpc-Timeout", strconv.FormatInt(gc.deadline.Milliseconds(), 10)+"m")
		}
		resp, err := toDep.Do(req)
		if err != nil {
			s.errs.set(fmt.Errorf("%s for %s: %w", method, user, err))
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		st := resp.Trailer.Get("Grpc-Status")
		if st == "" {
			st = resp.Header.Get("Grpc-Status")
		}
		if code, _ := strconv.Atoi(st); code != 0 || st == "" {
			s.clock.Sleep(300 * time.Microsecond)
			writeJSON(w, gc.frontStatus, map[string]any{"error": gc.frontError, "grpc_status": code})
			return
		}
		s.clock.Sleep(time.Millisecond)
		writeJSON(w, http.StatusOK, map[string]any{"user": user, "status": "reserved"})
	})
	client, err := s.serve(co, incClientIP, cmux)
	if err != nil {
		return GroundTruth{}, err
	}
	onset, err := s.slots(ctx, down.Store, func(n int, on bool) error {
		if _, _, err := send(ctx, client, http.MethodPost, co, "/api/checkout/"+names[n%len(names)], map[string]string{"User-Agent": "shop-web/3.2"}, map[string]any{"items": 1 + n%3}); err != nil {
			return err
		}
		if n%5 == 0 {
			s.pause(n, 1)
			_, _, err := send(ctx, client, http.MethodGet, co, "/health", map[string]string{"User-Agent": "kube-probe/1.31"}, nil)
			return err
		}
		return nil
	})
	return GroundTruth{
		Description: gc.description,
		Kind:        "errors", RootCause: dep.addr.String(), Onset: onset,
		Evidence: Evidence{Method: http.MethodPost, Path: method, Status: gc.status, BodyContains: gc.evidence},
	}, err
}
