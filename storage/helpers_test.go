package storage

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// base is the timestamp of the first synthetic record.
var base = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openMem(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{InMemory: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openDir(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	opts.Dir = dir
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func f64(v float64) *float64 { return &v }

// synth builds a varied, realistic HTTP-ish record number i, one
// millisecond after record i-1.
func synth(i int) *sdk.Record {
	protos := []string{"http", "http", "dns", "redis"}
	methods := []string{"GET", "POST", "GET", "PUT", "DELETE"}
	statuses := []int{200, 200, 404, 500, 201, 503}
	r := &sdk.Record{
		Protocol:  protos[i%len(protos)],
		Timestamp: base.Add(time.Duration(i) * time.Millisecond),
		Src:       sdk.Endpoint{IP: fmt.Sprintf("10.0.0.%d", i%5), Port: uint16(40000 + i%1000)},
		Dst:       sdk.Endpoint{IP: fmt.Sprintf("10.0.1.%d", i%3), Port: []uint16{80, 443}[i%2], Name: "svc", Namespace: "default"},
		Stream:    fmt.Sprintf("s%d", i%50),
		Dissector: "http@1",
		Method:    methods[i%len(methods)],
		Path:      fmt.Sprintf("/api/v1/users/%d", i%100),
		Status:    statuses[i%len(statuses)],
		Failed:    i%7 == 0,
		Summary:   fmt.Sprintf("%s /api/v1/users/%d Item %d", methods[i%len(methods)], i%100, i),
	}
	if i%11 != 0 {
		r.ElapsedMs = f64(float64(i%200) + 0.5)
	}
	r.StatusText = "OK"
	r.Request = &sdk.Message{
		Headers: []sdk.Header{
			{Name: "Host", Value: "users.default.svc.cluster.local"},
			{Name: "User-Agent", Value: "Go-http-client/1.1"},
			{Name: "Accept", Value: "application/json"},
			{Name: "Authorization", Value: "Bearer " + strings.Repeat("x", 120)},
			{Name: "X-Request-Id", Value: fmt.Sprintf("req-%08d", i)},
			{Name: "Accept", Value: "text/plain"},
		},
		Body:     fmt.Sprintf(`{"user":%d,"name":"user number %d"}`, i, i),
		BodySize: 40,
		Size:     400,
	}
	r.Request.Set("version", "HTTP/1.1")
	r.Response = &sdk.Message{
		Headers: []sdk.Header{
			{Name: "Content-Type", Value: "application/json"},
			{Name: "Content-Length", Value: "180"},
			{Name: "Date", Value: "Sun, 01 Jun 2025 12:00:00 GMT"},
			{Name: "Server", Value: "envoy"},
			{Name: "X-Envoy-Upstream-Service-Time", Value: "3"},
		},
		Body:     fmt.Sprintf(`{"id":%d,"name":"user number %d","email":"user%d@example.com","roles":["reader","writer"],"created":"2025-01-01T00:00:00Z"}`, i, i, i),
		BodySize: 180,
		Size:     350,
	}
	r.Response.Set("version", "HTTP/1.1").Set("latency_bucket", float64(i%4))
	return r
}

func synthN(from, n int) []*sdk.Record {
	out := make([]*sdk.Record, n)
	for i := range out {
		out[i] = synth(from + i)
	}
	return out
}

func mustPut(t testing.TB, s *Store, recs []*sdk.Record) {
	t.Helper()
	if err := s.Put(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

// holdsExactly checks that s holds every record of batches, each as it was
// put (sameRecord, bodies included), and nothing else.
func holdsExactly(t *testing.T, s *Store, batches ...[]*sdk.Record) {
	t.Helper()
	ctx := context.Background()
	n := 0
	for _, b := range batches {
		for _, r := range b {
			got, err := s.Get(ctx, r.ID)
			if err != nil {
				t.Fatalf("get %s: %v", r.ID, err)
			}
			sameRecord(t, r, got)
			n++
		}
	}
	if c, err := s.Count(ctx); err != nil || c != n {
		t.Fatalf("count %d (%v), want %d", c, err, n)
	}
}

func ids(recs []*sdk.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// countKeys counts keys under prefix, for checking that deletions leave
// nothing behind.
func countKeys(t testing.TB, s *Store, prefix ...byte) int {
	t.Helper()
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		return scanKeys(context.Background(), txn, prefix, func([]byte) error { n++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
