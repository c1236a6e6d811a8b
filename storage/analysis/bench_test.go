package analysis

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// benchN is the size of the benchmark store; the figures scale linearly
// (every function is one scan).
const benchN = 100000

// benchRecord is a varied record: 4 protocols, 60 servers, 500 paths with
// ids, headers with credentials on most calls, and JSON bodies.
func benchRecord(i int) *sdk.Record {
	protos := []string{"http", "http", "http", "postgres"}
	r := &sdk.Record{
		Protocol:  protos[i%len(protos)],
		Timestamp: t0.Add(time.Duration(i) * time.Millisecond),
		Src:       sdk.Endpoint{IP: fmt.Sprintf("10.0.0.%d", i%20), Port: uint16(40000 + i%1000)},
		Dst:       sdk.Endpoint{IP: fmt.Sprintf("10.0.1.%d", i%60), Port: 80},
		Stream:    fmt.Sprintf("s%d", i%50),
		Dissector: "bench@1",
		Method:    []string{"GET", "POST", "GET", "PUT"}[i%4],
		Path:      fmt.Sprintf("/api/v1/users/%d/orders/%d", i%500, i),
		Status:    []int{200, 200, 404, 500, 201}[i%5],
		Failed:    i%5 == 3,
	}
	if r.Protocol == "postgres" {
		r.Dst.Port, r.Method, r.Path = 5432, "SELECT", fmt.Sprintf("SELECT * FROM users WHERE id = %d", i)
	}
	v := float64(i%200) + 0.5
	r.ElapsedMs = &v
	r.Request = &sdk.Message{Size: 400, Body: fmt.Sprintf(`{"user":%d,"name":"user %d"}`, i, i),
		Headers: []sdk.Header{{Name: "Host", Value: "users"}, {Name: "Accept", Value: "application/json"}}}
	if i%10 != 0 {
		r.Request.Headers = append(r.Request.Headers, sdk.Header{Name: "Authorization", Value: "Bearer abcdefgh12345678"})
	}
	r.Response = &sdk.Message{Size: 350, Body: fmt.Sprintf(`{"id":%d,"email":"user%d@example.com"}`, i, i)}
	return r
}

// BenchmarkAnalysis runs every analysis over one store of benchN records
// (in memory: the figures are about this package's cost over storage's,
// which BenchmarkScan* give). ns/record divides by the records scanned.
func BenchmarkAnalysis(b *testing.B) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Options{InMemory: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for from := 0; from < benchN; from += 5000 {
		batch := make([]*sdk.Record, 5000)
		for i := range batch {
			batch[i] = benchRecord(from + i)
		}
		if err := st.Put(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	mid := t0.Add(benchN / 2 * time.Millisecond)
	count := func(n *int) func(*sdk.Record) bool { return func(*sdk.Record) bool { *n++; return true } }
	for _, bm := range []struct {
		name string
		run  func() error
	}{
		{"ScanOnly", func() error { var n int; return scan(ctx, st, Window{}, nil, false, count(&n)) }},
		{"ScanBodies", func() error { var n int; return scan(ctx, st, Window{}, nil, true, count(&n)) }},
		{"Stats", func() error { _, err := Stats(ctx, st, StatsQuery{}); return err }},
		{"Compare", func() error {
			_, err := Compare(ctx, st, CompareQuery{A: Window{End: mid}, B: Window{Start: mid}})
			return err
		}},
		{"Anomalies", func() error {
			_, err := Anomalies(ctx, st, AnomalyQuery{Baseline: Window{End: mid}, Target: Window{Start: mid}})
			return err
		}},
		{"ServiceMap", func() error { _, err := ServiceMap(ctx, st, MapQuery{}); return err }},
		{"Endpoints", func() error { _, err := Endpoints(ctx, st, EndpointsQuery{}); return err }},
		{"FindUnauthenticated", func() error { _, err := FindUnauthenticated(ctx, st, UnauthQuery{}); return err }},
		{"FindSensitiveData", func() error { _, err := FindSensitiveData(ctx, st, SensitiveQuery{}); return err }},
	} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				if err := bm.run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchN), "ns/record")
		})
	}
}

// BenchmarkStatsRollups compares Stats over an hour of rollupN records
// read from warm per-minute rollups with the same query scanned (the
// figures are equal, TestRollupsMatchScan). ns/record divides by the
// records of the window.
func BenchmarkStatsRollups(b *testing.B) {
	const rollupN = 200000
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	for from := 0; from < rollupN; from += 5000 {
		batch := make([]*sdk.Record, 5000)
		for i := range batch {
			batch[i] = benchRecord(from + i)
			batch[i].Timestamp = start.Add(time.Duration(from+i) * (time.Hour / rollupN))
		}
		if err := st.Put(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	hour := Window{Start: start, End: start.Add(time.Hour)}
	if err := WarmRollups(ctx, st, hour); err != nil {
		b.Fatal(err)
	}
	for _, bm := range []struct {
		name string
		src  Source
		w    Window
	}{
		{"Rollups", st, hour},
		{"RollupsUnalignedEdges", st, Window{Start: start.Add(97 * time.Second), End: start.Add(time.Hour - 83*time.Second)}},
		{"Scan", scanOnly{st}, hour},
	} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Stats(ctx, bm.src, StatsQuery{Window: bm.w}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rollupN), "ns/record")
		})
	}
}

// BenchmarkRollupBuilderAdd is the statistics an import builds as it
// stores, on the shape of the small-message capture (BENCHMARKS.md): benchN
// GET /item.json → 200 exchanges from 20 client ports to one server,
// 20 µs apart, handed to a RollupBuilder in batches of 1000 as the
// import's sink hands them, without storing them.
func BenchmarkRollupBuilderAdd(b *testing.B) {
	ctx := context.Background()
	st := openStore(b, nil)
	recs := make([]*sdk.Record, benchN)
	for i := range recs {
		v := 0.05 + float64(i%7)/100
		r := &sdk.Record{
			Protocol: "http", Timestamp: t0.Add(time.Duration(i) * 20 * time.Microsecond),
			Src:    sdk.Endpoint{IP: "127.0.0.1", Port: uint16(40000 + i%20)},
			Dst:    sdk.Endpoint{IP: "127.0.0.1", Port: 8080},
			Method: "GET", Path: "/item.json", Status: 200, StatusText: "OK", ElapsedMs: &v,
			Request:  &sdk.Message{Size: 80},
			Response: &sdk.Message{Size: 350, BodySize: 100},
		}
		r.ID = storage.NewID(r.Timestamp, uint64(i))
		recs[i] = r
	}
	for b.Loop() {
		rb, err := NewRollupBuilder(ctx, st)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(recs); i += 1000 {
			// st holds none of these records: the minutes Add stores
			// early fail the count check and are left alone.
			if err := rb.Add(ctx, recs[i:i+1000]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*benchN)/b.Elapsed().Seconds(), "records/s")
}
