package main_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
)

// TestEveryToolOverStdioAndHTTP runs the real binary end to end: the
// cascade sample (real net/http services) imported through the wasm
// dissectors, then every tool, resource and prompt through mcp-go's client
// over stdio (`kubeshark mcp`) and Streamable HTTP (`kubeshark hub`), each
// answer checked against its output schema and against the capture.
func TestEveryToolOverStdioAndHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("imports through the wasm dissectors")
	}
	data := t.TempDir()
	pcap := filepath.Join(t.TempDir(), "cascade.pcap")
	if r := ks(t, data, "sample", "--scenario", "cascade", "--start", "2026-11-20T14:00:00Z", pcap); r.code != 0 {
		t.Fatalf("sample: %s", r.stderr)
	}
	if r := ks(t, data, "import", pcap); r.code != 0 || !strings.Contains(r.stdout, "3 L4 flows stored") {
		t.Fatalf("import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	t.Run("hub", func(t *testing.T) {
		h := startHubProcess(t, data)
		tok := strings.TrimSpace(ks(t, data, "hub", "token").stdout)
		c, err := client.NewStreamableHttpClient(h.url+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + tok}))
		if err != nil {
			t.Fatal(err)
		}
		exerciseAll(t, mcptest.Connect(t, c))
		if code := h.stop(t); code != 0 {
			t.Fatalf("hub exit %d", code)
		}
	})
	t.Run("stdio", func(t *testing.T) {
		c, err := client.NewStdioMCPClient(binary_, nil, "--data", data, "mcp")
		if err != nil {
			t.Fatal(err)
		}
		s := mcptest.Connect(t, c)
		exerciseAll(t, s)

		// The assistant keeps its server; the user imports another
		// capture meanwhile. The server lets go of the store between
		// calls, so the import goes through, and the next answer
		// includes it.
		more := sample(t, 20)
		if r := ks(t, data, "import", more); r.code != 0 {
			t.Fatalf("import while kubeshark mcp runs: exit %d: %s", r.code, r.stderr)
		}
		var b struct {
			Records struct{ Count int } `json:"records"`
		}
		s.Get(t, "get_data_boundaries", nil, &b)
		if b.Records.Count <= 282 {
			t.Fatalf("after the second import the server sees %d records", b.Records.Count)
		}
	})
}

// exerciseAll calls every listed tool once with arguments that must
// succeed, and checks the facts of the cascade capture in the answers.
func exerciseAll(t *testing.T, s *mcptest.Session) {
	const (
		onset = "2026-11-20T14:00:30Z"
		end   = "2026-11-20T14:01:01Z"
	)
	var b struct {
		Records struct{ Count int } `json:"records"`
		Flows   struct{ Count int } `json:"flows"`
		Packets struct{ Count int } `json:"packets"`
	}
	s.Get(t, "get_data_boundaries", nil, &b)
	if b.Records.Count == 0 || b.Flows.Count != 3 || b.Packets.Count == 0 {
		t.Fatalf("boundaries: %+v", b)
	}
	var calls mcp.ListCallsResult
	s.Get(t, "list_api_calls", map[string]any{"kfl": "http && status_code == 503", "limit": 1000}, &calls)
	if calls.Returned != 60 {
		t.Fatalf("%d 503s, the cascade sends 60 (30 failed checkouts, each retried once)", calls.Returned)
	}
	var one mcp.GetCallResult
	s.Get(t, "get_api_call", map[string]any{"id": calls.Calls[0].ID, "include_l4": true}, &one)
	if !strings.Contains(one.Call.Response.Body, "UPSTREAM_TIMEOUT") || one.Flow == nil || one.Flow.Server.IP != "10.0.0.30" {
		t.Fatalf("get_api_call: %+v", one)
	}
	var an struct {
		RootCauses []string `json:"root_causes"`
	}
	s.Get(t, "find_anomalies", map[string]any{"baseline_start": "14:00", "baseline_end": "14:00:30", "start": "14:00:30", "end": end}, &an)
	if len(an.RootCauses) == 0 || !strings.Contains(an.RootCauses[0], "10.0.0.30:8080") {
		t.Fatalf("root causes %v, want payments", an.RootCauses)
	}
	var snap struct{ ID string }
	s.Get(t, "create_snapshot", map[string]any{"name": "outage", "start": onset, "end": end}, &snap)

	args := map[string]map[string]any{
		"get_api_stats":                  {"start": onset, "sort": "errors"},
		"compare_traffic":                {"baseline_start": "14:00", "baseline_end": "14:00:30", "start": "14:00:30", "end": end},
		"get_service_map":                {},
		"get_dependencies":               {"endpoint": "10.0.0.30:8080"},
		"search_payloads":                {"query": "UPSTREAM_TIMEOUT"},
		"find_sensitive_data":            {},
		"find_unauthenticated_calls":     {},
		"list_workloads":                 {},
		"list_ips":                       {},
		"list_l4_flows":                  {"sort": "bytes"},
		"get_l4_flow_summary":            {},
		"get_tcp_insights":               {"call_id": calls.Calls[0].ID},
		"list_dissectors":                {},
		"get_dissection_status":          {},
		"list_snapshots":                 {},
		"get_snapshot":                   {"id": snap.ID},
		"export_snapshot_pcap":           {"id": snap.ID, "bpf": "host 10.0.0.30"},
		"check_kubeshark_status":         {},
		"get_l7_data_boundaries":         {},
		"get_snapshot_dissection_status": {"snapshot_id": snap.ID},
		"list_snapshot_dissections":      {},
		"get_cloud_storage_status":       {},
	}
	// The snapshot's packets dissected again through the wasm dissectors,
	// in the background, as Kubeshark's network-rca skill asks.
	var job struct {
		ID           string `json:"id"`
		TotalPackets int64  `json:"total_packets"`
	}
	s.Get(t, "start_snapshot_dissection", map[string]any{"snapshot_id": snap.ID}, &job)
	if job.ID == "" || job.TotalPackets == 0 {
		t.Fatalf("start_snapshot_dissection: %+v", job)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var st mcp.DissectionStatusResult
		s.Get(t, "get_snapshot_dissection_status", map[string]any{"snapshot_id": snap.ID}, &st)
		if st.Status == "completed" {
			if st.Dissection.Records == 0 || st.Progress != 100 {
				t.Fatalf("completed dissection: %+v", st.Dissection)
			}
			break
		}
		if st.Status == "failed" || time.Now().After(deadline) {
			t.Fatalf("snapshot dissection: %+v", st.Dissection)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var redone mcp.ListCallsResult
	s.Get(t, "list_api_calls", map[string]any{"snapshot_id": snap.ID, "kfl": "http && status_code == 503", "limit": 1000}, &redone)
	if redone.Returned == 0 {
		t.Fatal("the dissected snapshot has no 503s")
	}
	for _, name := range []string{"upload_snapshot_to_cloud", "download_snapshot_from_cloud"} {
		if res := s.Call(t, name, map[string]any{"snapshot_id": snap.ID}); !res.IsError || !strings.Contains(mcptest.Text(res), "not available") {
			t.Errorf("%s: %q, want an error saying it is not available", name, mcptest.Text(res))
		}
	}

	done := map[string]bool{"get_data_boundaries": true, "list_api_calls": true, "get_api_call": true, "find_anomalies": true, "create_snapshot": true,
		"start_snapshot_dissection": true, "upload_snapshot_to_cloud": true, "download_snapshot_from_cloud": true}
	for _, tool := range s.Tools {
		if tool.Annotations.DestructiveHint != nil && *tool.Annotations.DestructiveHint {
			// Refused without --allow-destructive, with a reason.
			res := s.Call(t, tool.Name, map[string]any{"name": "http"})
			if !res.IsError || !strings.Contains(mcptest.Text(res), "--allow-destructive") {
				t.Errorf("%s on a read-only server: %q", tool.Name, mcptest.Text(res))
			}
			continue
		}
		if done[tool.Name] {
			continue
		}
		a, ok := args[tool.Name]
		if !ok {
			t.Errorf("no test arguments for tool %s", tool.Name)
			continue
		}
		var out map[string]any
		s.Get(t, tool.Name, a, &out)
		if len(out) == 0 {
			t.Errorf("%s: empty answer", tool.Name)
		}
	}

	ctx := context.Background()
	for _, uri := range []string{"kubeshark://kfl", "kubeshark://status", "kubeshark://dissectors", "kubeshark://dissectors/http", "kubeshark://calls/" + calls.Calls[0].ID, "kubeshark://flows/" + one.Flow.ID, "kubeshark://snapshots/" + snap.ID} {
		if text, err := s.Resource(t, uri); err != nil || len(text) < 20 {
			t.Errorf("resource %s: %v %q", uri, err, text)
		}
	}
	lp, err := s.C.ListPrompts(ctx, mcpgo.ListPromptsRequest{})
	if err != nil || len(lp.Prompts) != 8 {
		t.Fatalf("prompts: %v %d", err, len(lp.Prompts))
	}
	for _, p := range lp.Prompts {
		req := mcpgo.GetPromptRequest{}
		req.Params.Name = p.Name
		req.Params.Arguments = map[string]string{}
		for _, a := range p.Arguments {
			req.Params.Arguments[a.Name] = "14:00"
		}
		if _, err := s.C.GetPrompt(ctx, req); err != nil {
			t.Errorf("prompt %s: %v", p.Name, err)
		}
	}
}
