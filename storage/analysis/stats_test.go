package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage/kfl"
)

// statsRecords: 100 GET /api/orders/<i> (one per second, latency i+1 ms,
// every tenth failing with 500), 50 POST /api/users (every 2s, 10ms, 201),
// and 20 DNS queries (every 5s, the last 5 unanswered).
func statsRecords() []*sdk.Record {
	var cs []call
	for i := 0; i < 100; i++ {
		c := call{at: sec(float64(i)), src: "10.0.0.9", dst: "10.0.0.2:80", path: fmt.Sprintf("/api/orders/%d?v=%d", i, i),
			ms: float64(i + 1), reqSize: 100, respSize: 200}
		if i%10 == 0 {
			c.status, c.failed = 500, true
		}
		cs = append(cs, c)
	}
	for i := 0; i < 50; i++ {
		cs = append(cs, call{at: sec(float64(2 * i)), src: "10.0.0.8", dst: "10.0.0.2:80", method: "POST", path: "/api/users", status: 201, ms: 10})
	}
	for i := 0; i < 20; i++ {
		c := call{at: sec(float64(5 * i)), src: "10.0.0.9", dst: "10.0.0.53:53", proto: "dns", method: "A", path: "example.com", ms: 2}
		if i >= 15 {
			c.ms = -1
		}
		cs = append(cs, c)
	}
	return recs(cs...)
}

func TestStats(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, statsRecords())
	res, err := Stats(ctx, st, StatsQuery{Window: win(0, sec(100)), Buckets: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.Count != 170 || res.Total.Errors != 10 || res.GroupsSeen != 3 || res.Truncated {
		t.Fatalf("total %d calls %d errors, %d groups, truncated %v", res.Total.Count, res.Total.Errors, res.GroupsSeen, res.Truncated)
	}
	var keys []string
	for _, g := range res.Groups {
		keys = append(keys, g.Key)
	}
	wantKeys := []string{"http 10.0.0.2:80 GET /api/orders/{id}", "http 10.0.0.2:80 POST /api/users", "dns 10.0.0.53:53 A example.com"}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Fatalf("groups %q, want %q", keys, wantKeys)
	}
	orders := res.Groups[0]
	if orders.Count != 100 || orders.Errors != 10 || orders.ErrorRate != 0.1 {
		t.Errorf("orders: %d calls %d errors rate %v", orders.Count, orders.Errors, orders.ErrorRate)
	}
	if want := (Latency{Samples: 100, P50: 50, P95: 95, P99: 99, Max: 100}); orders.Latency != want {
		t.Errorf("orders latency %+v, want %+v", orders.Latency, want)
	}
	if orders.RequestBytes != 10000 || orders.ResponseBytes != 20000 {
		t.Errorf("orders bytes %d/%d", orders.RequestBytes, orders.ResponseBytes)
	}
	if want := []StatusCount{{"http", 200, 90}, {"http", 500, 10}}; !reflect.DeepEqual(orders.Statuses, want) {
		t.Errorf("orders statuses %v, want %v", orders.Statuses, want)
	}
	if orders.Server != "10.0.0.2:80" || orders.Method != "GET" || orders.Path != "/api/orders/{id}" || orders.Protocol != "http" {
		t.Errorf("orders group %+v", orders.Group)
	}
	if !orders.FirstSeen.Equal(t0) || !orders.LastSeen.Equal(t0.Add(sec(99))) {
		t.Errorf("orders seen %v..%v", orders.FirstSeen, orders.LastSeen)
	}
	// Ten 10s buckets, each with ten calls (i = 10k..10k+9, latency
	// 10k+1..10k+10, one failure).
	if len(orders.Series) != 10 || res.BucketSeconds != 10 {
		t.Fatalf("series of %d buckets of %vs", len(orders.Series), res.BucketSeconds)
	}
	for k, b := range orders.Series {
		want := Bucket{Start: t0.Add(sec(float64(10 * k))), Count: 10, Errors: 1, P95: float64(10*k + 10)}
		if !b.Start.Equal(want.Start) || b.Count != want.Count || b.Errors != want.Errors || b.P95 != want.P95 {
			t.Errorf("bucket %d = %+v, want %+v", k, b, want)
		}
	}
	dns := res.Groups[2]
	if dns.NoResponse != 5 || dns.Latency.Samples != 15 || dns.Count != 20 {
		t.Errorf("dns: %d calls, %d unanswered, %d timed", dns.Count, dns.NoResponse, dns.Latency.Samples)
	}
	var protos []string
	for _, p := range res.Protocols {
		protos = append(protos, fmt.Sprintf("%s=%d", p.Protocol, p.Count))
	}
	if want := []string{"http=150", "dns=20"}; !reflect.DeepEqual(protos, want) {
		t.Errorf("protocols %v, want %v", protos, want)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("result does not marshal: %v", err)
	}
}

func TestStatsOptions(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, statsRecords())
	env, err := kfl.NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		q      StatsQuery
		groups []string
		counts []int
		trunc  bool
	}{
		{"by server", StatsQuery{GroupBy: ByServer}, []string{"http 10.0.0.2:80", "dns 10.0.0.53:53"}, []int{150, 20}, false},
		{"by client", StatsQuery{GroupBy: ByClient}, []string{"10.0.0.9", "10.0.0.8"}, []int{120, 50}, false},
		{"by protocol", StatsQuery{GroupBy: ByProtocol}, []string{"http", "dns"}, []int{150, 20}, false},
		{"limit", StatsQuery{Limit: 1}, []string{"http 10.0.0.2:80 GET /api/orders/{id}"}, []int{100}, true},
		{"kfl match", StatsQuery{Match: env.MustCompile(`failed || dns`)}, []string{"dns 10.0.0.53:53 A example.com", "http 10.0.0.2:80 GET /api/orders/{id}"}, []int{20, 10}, false},
		{"window", StatsQuery{Window: win(sec(50), sec(60))}, []string{"http 10.0.0.2:80 GET /api/orders/{id}", "http 10.0.0.2:80 POST /api/users", "dns 10.0.0.53:53 A example.com"}, []int{10, 5, 2}, false},
	}
	for _, tt := range tests {
		res, err := Stats(ctx, st, tt.q)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var groups []string
		var counts []int
		for _, g := range res.Groups {
			groups = append(groups, g.Key)
			counts = append(counts, g.Count)
		}
		if !reflect.DeepEqual(groups, tt.groups) || !reflect.DeepEqual(counts, tt.counts) || res.Truncated != tt.trunc {
			t.Errorf("%s: groups %q counts %v truncated %v, want %q %v %v", tt.name, groups, counts, res.Truncated, tt.groups, tt.counts, tt.trunc)
		}
	}

	// An open window closes at the oldest and newest records.
	res, err := Stats(ctx, st, StatsQuery{Buckets: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Window.Start.Equal(t0) || !res.Window.End.Equal(t0.Add(sec(99)+time.Nanosecond)) || res.Groups[0].Series != nil {
		t.Errorf("open window resolved to %s, series %v", res.Window, res.Groups[0].Series)
	}

	for _, q := range []StatsQuery{{GroupBy: "pod"}, {Window: win(sec(5), sec(1))}} {
		if _, err := Stats(ctx, st, q); !errors.Is(err, ErrBadQuery) {
			t.Errorf("%+v: err %v, want ErrBadQuery", q, err)
		}
	}
}

// TestStatsPaging crosses several storage pages and the sketch's exact
// cap.
func TestStatsPaging(t *testing.T) {
	var cs []call
	for i := 0; i < 2500; i++ {
		cs = append(cs, call{at: time.Duration(i) * time.Millisecond, src: "10.0.0.1", dst: "10.0.0.2:80", path: "/x", ms: float64(i%100 + 1)})
	}
	st := openStore(t, recs(cs...))
	res, err := Stats(context.Background(), st, StatsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	g := res.Groups[0]
	if g.Count != 2500 || !g.Latency.Approximate || g.Latency.Max != 100 {
		t.Fatalf("%d calls, latency %+v", g.Count, g.Latency)
	}
	if p := g.Latency.P95; p < 94 || p > 96 {
		t.Errorf("approximate p95 %v, want 95 ± 1%%", p)
	}
	var n int
	for _, b := range g.Series {
		n += b.Count
	}
	if n != 2500 || len(g.Series) != DefaultBuckets {
		t.Errorf("series holds %d calls in %d buckets", n, len(g.Series))
	}
}

// A status code means something different per protocol: DNS rcode 2 is
// SERVFAIL, gRPC status 2 is UNKNOWN, MySQL puts its error number (1045,
// access denied) where HTTP puts 503. A row that mixes protocols (the
// total) counts each (protocol, status) apart, whether the window is
// scanned or read from rollups.
func TestStatusesArePerProtocol(t *testing.T) {
	ctx := context.Background()
	var cs []call
	add := func(n int, proto, dst string, status int, failed bool) {
		for i := 0; i < n; i++ {
			cs = append(cs, call{at: sec(float64(len(cs) * 13)), src: "10.0.0.9", dst: dst, proto: proto, status: status, failed: failed, ms: 1})
		}
	}
	add(10, "http", "10.0.0.2:80", 200, false)
	add(5, "http", "10.0.0.2:80", 503, true)
	add(4, "dns", "10.0.0.53:53", 2, true)
	add(3, "grpc", "10.0.0.2:80", 2, true)
	add(2, "mysql", "10.0.0.3:3306", 1045, true)
	st := openStore(t, recs(cs...))
	want := []StatusCount{{"http", 200, 10}, {"http", 503, 5}, {"dns", 2, 4}, {"grpc", 2, 3}, {"mysql", 1045, 2}}
	for name, src := range map[string]Source{"rollups": st, "scan": scanOnly{st}} {
		res, err := Stats(ctx, src, StatsQuery{Window: win(-time.Minute, 10*time.Minute), GroupBy: ByServer})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.Total.Statuses, want) {
			t.Errorf("%s: total statuses %v, want %v", name, res.Total.Statuses, want)
		}
	}
	if s := (StatusCount{"mysql", 1045, 2}).String(); s != "mysql:1045" {
		t.Errorf("String() = %q", s)
	}
}
