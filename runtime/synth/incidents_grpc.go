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
	stock, co := newService("stock", "10.0.0.80:50051"), newService("checkout", incFrontAt)
	const method = "/inventory.v1.Stock/Reserve"
	const why = "no healthy upstream: stock-db connection refused"
	var down atomic.Bool
	smux := http.NewServeMux()
	stock.handle(s.clock, smux, "POST "+method, func(w http.ResponseWriter, r *http.Request) {
		req, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/grpc")
		if down.Load() {
			s.clock.Sleep(5 * time.Millisecond)
			w.Header().Set("Grpc-Status", "14")
			w.Header().Set("Grpc-Message", why)
			w.WriteHeader(http.StatusOK)
			return
		}
		s.clock.Sleep(3*time.Millisecond + jitter(len(req), 2*time.Millisecond))
		w.WriteHeader(http.StatusOK)
		w.Write(grpcFrame(append(protoString(1, fmt.Sprintf("rsv-%d", len(req)*7919)), protoVarint(2, 1)...)))
		w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
	})
	toStock, err := s.serveProto(stock, incFrontIP, smux, true)
	if err != nil {
		return GroundTruth{}, err
	}
	cmux := http.NewServeMux()
	health(s.clock, co, cmux, "checkout/6.1")
	co.handle(s.clock, cmux, "POST /api/checkout/{user}", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		user := r.PathValue("user")
		msg := grpcFrame(append(protoString(1, "sku-"+user), protoVarint(2, 1)...))
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, stock.base+method, bytes.NewReader(msg))
		if err != nil {
			s.errs.set(err)
			return
		}
		req.Host = stock.host
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Te", "trailers")
		req.Header.Set("User-Agent", "grpc-go/1.70.0")
		resp, err := toStock.Do(req)
		if err != nil {
			s.errs.set(fmt.Errorf("reserve for %s: %w", user, err))
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
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "stock unavailable", "grpc_status": code})
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
		Description: "checkout (10.0.0.10:8080) reserves stock over gRPC (h2c) on stock (10.0.0.80:50051). From the onset stock answers every Reserve grpc-status 14 UNAVAILABLE (\"" + why + "\") and checkout answers 503.",
		Kind:        "errors", RootCause: stock.addr.String(), Onset: onset,
		Evidence: Evidence{Method: http.MethodPost, Path: method, Status: 14, BodyContains: "no healthy upstream"},
	}, err
}
