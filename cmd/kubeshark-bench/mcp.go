package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/http1"
	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/analysis"
)

// mcpBench fills a store with n records shaped like a busy cluster's HTTP
// traffic over one hour (40 services, 10 endpoints each with ids in their
// paths, 1% server errors, long-tailed latencies), then times the MCP tools
// through mcp.Server.Call — what a tool call costs apart from the
// transport.
func mcpBench(ctx context.Context, n, runs int, dir string, out io.Writer) error {
	log := slog.New(slog.DiscardHandler)
	st, err := storage.Open(ctx, storage.Options{Dir: filepath.Join(dir, "mcp-store"), Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Date(2026, 11, 20, 13, 0, 0, 0, time.UTC)
	span := time.Hour
	t0 := time.Now()
	if err := fillStore(ctx, st, n, start, span); err != nil {
		return err
	}
	fill := time.Since(t0)
	size, _ := st.DiskSize(ctx)
	fmt.Fprintf(out, "\nMCP tools over %d records (%s of traffic; filled in %s, %.0f records/s; %d MB on disk)\n",
		n, span, fill.Round(time.Millisecond), float64(n)/fill.Seconds(), size>>20)

	// Warm the per-minute rollups as `kubeshark import` does after an
	// import, and report what that costs; the rows below are then the
	// steady state an assistant sees.
	t0 = time.Now()
	if err := analysis.WarmRollups(ctx, st, analysis.Window{}); err != nil {
		return err
	}
	var memo analysis.TemplateMemo // the endpoint templates, as import caches them
	if _, err := memo.Templates(ctx, st); err != nil {
		return err
	}
	fmt.Fprintf(out, "Rollups and endpoint templates precomputed in %s (as after an import).\n\n", time.Since(t0).Round(time.Millisecond))

	s, err := mcp.New(mcp.Options{Store: st, Dissectors: []mcp.Dissector{{Manifest: http1.Manifest(), Source: "native", ABIVersion: sdk.ABIVersion}}, Logger: log})
	if err != nil {
		return err
	}
	end := start.Add(span)
	mid := start.Add(span / 2)
	var someID string
	if p, err := st.Query(ctx, storage.Query{Since: mid, Limit: 1}); err == nil && len(p.Records) > 0 {
		someID = p.Records[0].ID
	}
	cases := []struct{ name, tool, args string }{
		{"list_api_calls, newest 50", "list_api_calls", `{}`},
		{"list_api_calls, http && status_code >= 500 (index)", "list_api_calls", `{"kfl":"http && status_code >= 500"}`},
		{"list_api_calls, path.contains(\"/orders/\") (scan)", "list_api_calls", `{"kfl":"path.contains(\"/orders/\")"}`},
		{"list_api_calls, 5-minute window, status_code == 503", "list_api_calls", fmt.Sprintf(`{"kfl":"status_code == 503","start":%q,"end":%q}`, mid.Format(time.RFC3339), mid.Add(5*time.Minute).Format(time.RFC3339))},
		{"list_api_calls, format full, limit 200", "list_api_calls", `{"format":"full","limit":200}`},
		{"get_api_call", "get_api_call", fmt.Sprintf(`{"id":%q}`, someID)},
		{"get_api_stats, last 5 minutes", "get_api_stats", fmt.Sprintf(`{"start":%q}`, end.Add(-5*time.Minute).Format(time.RFC3339))},
		{"get_api_stats, last 15 minutes", "get_api_stats", fmt.Sprintf(`{"start":%q}`, end.Add(-15*time.Minute).Format(time.RFC3339))},
		{"get_api_stats, whole hour", "get_api_stats", `{}`},
		{"find_anomalies, 5 minutes vs the 5 before", "find_anomalies", fmt.Sprintf(`{"start":%q}`, end.Add(-5*time.Minute).Format(time.RFC3339))},
	}
	fmt.Fprintln(out, "| tool call | p50 ms | p99 ms | max ms | runs |")
	fmt.Fprintln(out, "|---|---|---|---|---|")
	for _, c := range cases {
		var d []float64
		reps := runs
		if reps < 5 {
			reps = 5
		}
		for i := 0; i < reps; i++ {
			t := time.Now()
			if _, _, err := s.Call(ctx, c.tool, json.RawMessage(c.args)); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			d = append(d, float64(time.Since(t).Microseconds())/1000)
		}
		sort.Float64s(d)
		p := func(q float64) float64 { return d[min(len(d)-1, int(q*float64(len(d))))] }
		fmt.Fprintf(out, "| %s | %.1f | %.1f | %.1f | %d |\n", c.name, p(0.5), p(0.99), d[len(d)-1], reps)
	}
	return nil
}

func fillStore(ctx context.Context, st *storage.Store, n int, start time.Time, span time.Duration) error {
	rng := rand.New(rand.NewPCG(1, 2))
	paths := []string{"/api/orders/%d", "/api/users/%d", "/api/catalog?page=%d", "/health", "/api/cart/%d/items", "/api/payments/%d", "/api/search?q=item%d", "/metrics", "/api/inventory/%d", "/login"}
	methods := []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	batch := make([]*sdk.Record, 0, 5000)
	step := span / time.Duration(n)
	for i := 0; i < n; i++ {
		ts := start.Add(time.Duration(i) * step)
		srv := rng.IntN(40)
		path := paths[rng.IntN(len(paths))]
		if len(path) > 0 && path[len(path)-1] == 'd' {
			path = fmt.Sprintf(path, rng.IntN(100000))
		}
		status := 200
		switch r := rng.IntN(1000); {
		case r < 5:
			status = 503
		case r < 10:
			status = 500
		case r < 40:
			status = 404
		}
		el := 1 + rng.ExpFloat64()*20
		rec := &sdk.Record{
			Protocol: "http", Timestamp: ts, ElapsedMs: &el,
			Src:    sdk.Endpoint{IP: fmt.Sprintf("10.1.%d.%d", rng.IntN(4), rng.IntN(250)), Port: uint16(30000 + rng.IntN(30000))},
			Dst:    sdk.Endpoint{IP: fmt.Sprintf("10.2.0.%d", srv), Port: 8080},
			Stream: fmt.Sprintf("%x", rng.Uint64()), Dissector: "http@1.0.0",
			Method: methods[rng.IntN(len(methods))], Path: path, Status: status, Failed: status >= 500,
			Summary: fmt.Sprintf("%d", status),
			Request: &sdk.Message{Headers: []sdk.Header{{Name: "Host", Value: "svc"}, {Name: "User-Agent", Value: "client/1.0"}}, Size: 180},
			Response: &sdk.Message{Headers: []sdk.Header{{Name: "Content-Type", Value: "application/json"}},
				Body: `{"ok":true,"items":[1,2,3]}`, BodySize: 27, Size: 120},
		}
		rec.ID = storage.NewID(ts, uint64(i))
		batch = append(batch, rec)
		if len(batch) == cap(batch) || i == n-1 {
			if err := st.Put(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return nil
}
