package storage

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// jsonCodec is the alternative value encoding measured against wireCodec;
// see the comment in codec.go for the figures.
var jsonCodec = valueCodec{
	name:   "json",
	encode: func(b []byte, r *sdk.Record) []byte { js, _ := json.Marshal(r); return append(b, js...) },
	decode: func(b []byte) (*sdk.Record, error) {
		var r sdk.Record
		err := json.Unmarshal(b, &r)
		return &r, err
	},
}

func BenchmarkCodec(b *testing.B) {
	summary, _, _ := splitBodies(new(summaryScratch), synth(1), DefaultMaxBodyBytes)
	for _, c := range []valueCodec{wireCodec, jsonCodec} {
		b.Run(c.name, func(b *testing.B) {
			var buf []byte
			for b.Loop() {
				buf = c.encode(buf[:0], summary)
				if _, err := c.decode(buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "value-bytes")
		})
	}
}

// BenchmarkPutGet compares the value encodings through the real paths: one
// Put of 1000 records, then a Get of each.
func BenchmarkPutGet(b *testing.B) {
	ctx := context.Background()
	for _, c := range []valueCodec{wireCodec, jsonCodec} {
		b.Run(c.name, func(b *testing.B) {
			s := openDir(b, b.TempDir(), Options{})
			defer s.Close()
			s.codec = c
			i := 0
			for b.Loop() {
				b.StopTimer()
				recs := synthN(i, 1000)
				i += 1000
				b.StartTimer()
				if err := s.Put(ctx, recs); err != nil {
					b.Fatal(err)
				}
				for _, r := range recs {
					if _, err := s.Get(ctx, r.ID); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkPut measures import throughput: batches of 1000 ~1 KiB HTTP
// records with small bodies, into an on-disk store.
func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	s := openDir(b, b.TempDir(), Options{})
	defer s.Close()
	i := 0
	for b.Loop() {
		b.StopTimer()
		recs := synthN(i, 1000)
		i += 1000
		b.StartTimer()
		if err := s.Put(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPutGivenIDs is BenchmarkPut with the ids an import gives
// (NewID: time and place in the capture), so that Put looks up which are
// stored already, in batches from two workers whose time spans overlap:
// each batch holds every other record of 2000.
func BenchmarkPutGivenIDs(b *testing.B) {
	ctx := context.Background()
	s := openDir(b, b.TempDir(), Options{})
	defer s.Close()
	i := 0
	for b.Loop() {
		b.StopTimer()
		recs := synthN(i, 2000)
		var even, odd []*sdk.Record
		for n, r := range recs {
			r.ID = NewID(r.Timestamp, uint64(i+n))
			if n%2 == 0 {
				even = append(even, r)
			} else {
				odd = append(odd, r)
			}
		}
		i += 2000
		b.StartTimer()
		for _, batch := range [][]*sdk.Record{even, odd} {
			if err := s.Put(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*2000)/b.Elapsed().Seconds(), "records/s")
}

const benchRecords = 100_000

func benchStore(b *testing.B) *Store {
	b.Helper()
	s := openDir(b, b.TempDir(), Options{})
	b.Cleanup(func() { s.Close() })
	for i := 0; i < benchRecords; i += 1000 {
		if err := s.Put(context.Background(), synthN(i, 1000)); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func benchQuery(b *testing.B, s *Store, filter string) {
	f, err := ParseFilter(filter)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		p, err := s.Query(context.Background(), Query{Filter: f})
		if err != nil {
			b.Fatal(err)
		}
		n = len(p.Records)
	}
	b.ReportMetric(float64(n), "matches")
}

// BenchmarkQueryIndexed runs a query the src index drives (1/5 of the
// records are from the source ip, 1/30 match) over 100k records.
func BenchmarkQueryIndexed(b *testing.B) {
	s := benchStore(b)
	b.Run("src+status", func(b *testing.B) { benchQuery(b, s, `src=10.0.0.3 status=503`) })
	b.Run("failed", func(b *testing.B) { benchQuery(b, s, `failed=true path~/users/4`) })
}

// BenchmarkQueryScan runs queries with no index term: every record in the
// range is decoded and tested.
func BenchmarkQueryScan(b *testing.B) {
	s := benchStore(b)
	b.Run("summary", func(b *testing.B) { benchQuery(b, s, `summary~"item 4242"`) })
	b.Run("elapsed", func(b *testing.B) { benchQuery(b, s, `elapsed_ms>150 method=POST`) })
}
