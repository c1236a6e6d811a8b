package fanout

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// benchStores fills n in-memory stores with per records each, spread
// over the same minutes, and one store with all of them.
func benchStores(b *testing.B, n, per int) ([]*storage.Store, *storage.Store) {
	ctx := context.Background()
	open := func() *storage.Store {
		st, err := storage.Open(ctx, storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	}
	all := open()
	t0 := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	var stores []*storage.Store
	for i := range n {
		st := open()
		var recs []*sdk.Record
		for j := range per {
			ms := float64(j%97) + 0.5
			recs = append(recs, &sdk.Record{Protocol: "http", Timestamp: t0.Add(time.Duration(j*n+i) * time.Millisecond),
				Src: sdk.Endpoint{IP: fmt.Sprintf("10.0.%d.1", i), Port: 40000}, Dst: sdk.Endpoint{IP: "10.0.9.9", Port: 80},
				Method: "GET", Path: fmt.Sprintf("/api/items/%d", j%50), Status: 200 + 300*(j%17/16), ElapsedMs: &ms,
				Request: &sdk.Message{Size: 200}, Response: &sdk.Message{Size: 900}})
		}
		for k := 0; k < len(recs); k += 1000 {
			if err := st.Put(ctx, recs[k:min(k+1000, len(recs))]); err != nil {
				b.Fatal(err)
			}
		}
		for _, r := range recs {
			r.ID = ""
		}
		for k := 0; k < len(recs); k += 1000 {
			if err := all.Put(ctx, recs[k:min(k+1000, len(recs))]); err != nil {
				b.Fatal(err)
			}
		}
		stores = append(stores, st)
	}
	return stores, all
}

type querier interface {
	Query(ctx context.Context, q storage.Query) (storage.Page, error)
}

func pageAll(b *testing.B, src querier) int {
	q := storage.Query{Limit: 1000, SizesOnly: true}
	n := 0
	for {
		p, err := src.Query(context.Background(), q)
		if err != nil {
			b.Fatal(err)
		}
		n += len(p.Records)
		if p.Next == "" {
			return n
		}
		q.Cursor = p.Next
	}
}

// BenchmarkPageAll reads 60,000 records in pages of 1,000, as the
// statistics scan does: from one store, and merged from three workers
// over loopback HTTP.
func BenchmarkPageAll(b *testing.B) {
	stores, all := benchStores(b, 3, 20000)
	b.Run("one-store", func(b *testing.B) {
		for b.Loop() {
			if n := pageAll(b, all); n != 60000 {
				b.Fatal(n)
			}
		}
		b.ReportMetric(float64(60000*b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("three-workers", func(b *testing.B) {
		var static Static
		for i, st := range stores {
			h, err := WorkerHandler(WorkerOptions{Node: fmt.Sprint(i), Store: FixedStore(st)})
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(h)
			b.Cleanup(srv.Close)
			static = append(static, Worker{Node: fmt.Sprint(i), URL: srv.URL})
		}
		cl, err := New(Options{Discovery: static})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if n := pageAll(b, cl); n != 60000 {
				b.Fatal(n)
			}
		}
		b.ReportMetric(float64(60000*b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
