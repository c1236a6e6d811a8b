package mcp_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
	"github.com/kubeshark-wasm/kubeshark/storage/snapshot"
)

// textData splits a tool result's text content into its summary line and
// the JSON after it, as a client that reads only content would.
func textData(t *testing.T, name string, res *mcpgo.CallToolResult) (string, any) {
	t.Helper()
	text := mcptest.Text(res)
	summary, data, ok := strings.Cut(text, "\n")
	if !ok || strings.TrimSpace(summary) == "" || strings.HasPrefix(summary, "{") {
		t.Fatalf("%s: text content is not a summary line and JSON: %.300q", name, text)
	}
	var v any
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		t.Fatalf("%s: the text after the summary line is not JSON: %v\n%.300s", name, err, data)
	}
	return summary, v
}

// structuredData is the result as a client that reads only
// structuredContent sees it.
func structuredData(t *testing.T, res *mcpgo.CallToolResult) any {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// bothForms calls a tool and fails unless the text and the structured
// content carry the same data; it returns that data decoded into out.
func bothForms(t *testing.T, c *mcptest.Session, name string, args map[string]any, out any) string {
	t.Helper()
	res := c.Call(t, name, args)
	c.Structured(t, name, res, out)
	summary, fromText := textData(t, name, res)
	fromStruct := structuredData(t, res)
	if !reflect.DeepEqual(fromText, fromStruct) {
		a, _ := json.Marshal(fromText)
		b, _ := json.Marshal(fromStruct)
		t.Fatalf("%s: the text's JSON and structuredContent differ\ntext:       %.500s\nstructured: %.500s", name, a, b)
	}
	return summary
}

// TestEveryToolAnswersTheSameInTextAndStructuredContent plays the two kinds
// of MCP client: one that hands the model only the text content (most
// clients) and one that hands it only structuredContent (Claude Code, VS
// Code, Copilot CLI). Both must get the same data from every tool, over
// the cascade and audit captures.
func TestEveryToolAnswersTheSameInTextAndStructuredContent(t *testing.T) {
	// Before the scenario: cleanups run last-first, so the snapshot
	// manager stops its background dissection before the dissector's
	// runtime closes under it.
	dissect := dissectHTTP(t)
	sc := newScenario(t)
	s, err := mcp.New(mcp.Options{Store: sc.store, Dissectors: dissectorList(), Snapshots: sc.snaps, ExportDir: filepath.Join(sc.dir, "exports"), Version: "test", AllowDestructive: true, Dissect: dissect})
	if err != nil {
		t.Fatal(err)
	}
	c := mcptest.Connect(t, mustInProcess(t, s))
	cs := sc.cascade
	end := rfc(cs.End.Add(time.Second))

	var calls mcp.ListCallsResult
	bothForms(t, c, "list_api_calls", map[string]any{"kfl": "status_code == 503", "format": "full", "limit": 5}, &calls)
	if len(calls.Calls) == 0 {
		t.Fatal("no 503s")
	}
	var snap snapshot.Info
	bothForms(t, c, "create_snapshot", map[string]any{"name": "both forms", "start": rfc(cs.FailureOnset), "end": end}, &snap)

	args := map[string]map[string]any{
		"list_api_calls":                 {"limit": 20, "format": "full"},
		"get_api_call":                   {"id": calls.Calls[0].ID, "include_l4": true},
		"get_api_stats":                  {},
		"compare_traffic":                {"baseline_start": rfc(cs.Start), "baseline_end": rfc(cs.FailureOnset), "start": rfc(cs.FailureOnset), "end": end},
		"find_anomalies":                 {"baseline_start": rfc(cs.Start), "baseline_end": rfc(cs.FailureOnset), "start": rfc(cs.FailureOnset), "end": end},
		"get_service_map":                {},
		"get_dependencies":               {"endpoint": "10.0.0.30"},
		"search_payloads":                {"query": "UPSTREAM_TIMEOUT", "limit": 5},
		"find_sensitive_data":            {},
		"find_unauthenticated_calls":     {},
		"list_workloads":                 {},
		"list_ips":                       {},
		"list_l4_flows":                  {},
		"get_l4_flow_summary":            {},
		"get_tcp_insights":               {"call_id": calls.Calls[0].ID},
		"get_data_boundaries":            {},
		"list_dissectors":                {},
		"get_dissection_status":          {},
		"disable_dissection":             {"name": "http"},
		"enable_dissection":              {"name": "http"},
		"list_snapshots":                 {},
		"create_snapshot":                {"name": "again", "start": rfc(cs.FailureOnset), "end": end},
		"get_snapshot":                   {"id": snap.ID},
		"export_snapshot_pcap":           {"id": snap.ID, "kfl": "status_code == 503"},
		"check_kubeshark_status":         {},
		"get_l7_data_boundaries":         {},
		"start_snapshot_dissection":      {"snapshot_id": snap.ID},
		"get_snapshot_dissection_status": {"snapshot_id": snap.ID},
		"list_snapshot_dissections":      {},
		"get_cloud_storage_status":       {},
	}
	// These answer every call with an error saying they are not available.
	notAvailable := map[string]bool{"upload_snapshot_to_cloud": true, "download_snapshot_from_cloud": true}
	for _, tool := range c.Tools {
		if notAvailable[tool.Name] {
			continue
		}
		a, ok := args[tool.Name]
		if !ok {
			t.Errorf("tool %s is not exercised by this test: add its arguments", tool.Name)
			continue
		}
		t.Run(tool.Name, func(t *testing.T) {
			var v map[string]any
			summary := bothForms(t, c, tool.Name, a, &v)
			if len(summary) > 600 {
				t.Errorf("summary line is %d characters; it should be short: %.200q", len(summary), summary)
			}
		})
	}

	// What the structured-only clients relied on is in the text: the 503's
	// response body (the evidence) and the anomalies' example call ids.
	res := c.Call(t, "get_api_call", map[string]any{"id": calls.Calls[0].ID})
	if !strings.Contains(mcptest.Text(res), "UPSTREAM_TIMEOUT") {
		t.Errorf("get_api_call text lacks the response body: %.300q", mcptest.Text(res))
	}
	res = c.Call(t, "find_anomalies", args["find_anomalies"])
	_, data := textData(t, "find_anomalies", res)
	an, _ := data.(map[string]any)["anomalies"].([]any)
	if len(an) == 0 || len(an[0].(map[string]any)["example_ids"].([]any)) == 0 {
		t.Errorf("find_anomalies text lacks anomalies with example ids: %.300q", mcptest.Text(res))
	}
}

// TestCappedAnswersTruncateTheSameInBothForms makes answers pass a small
// limit: both forms are cut the same way, the summary says so, and paging
// with the cursor read from the text alone visits every call once.
func TestCappedAnswersTruncateTheSameInBothForms(t *testing.T) {
	sc := newScenario(t)
	const limit = 6 << 10
	s, err := mcp.New(mcp.Options{Store: sc.store, Dissectors: dissectorList(), Snapshots: sc.snaps, Version: "test", MaxResultBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	c := mcptest.Connect(t, mustInProcess(t, s))

	var all mcp.ListCallsResult
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		args := map[string]any{"format": "full", "limit": 1000}
		if cursor != "" {
			args["cursor"] = cursor
		}
		res := c.Call(t, "list_api_calls", args)
		summary := bothForms(t, c, "list_api_calls", args, &all)
		if n := len(mcptest.Text(res)) - len(summary) - 1; n > limit {
			t.Fatalf("page JSON is %d bytes, over the %d limit", n, limit)
		}
		_, data := textData(t, "list_api_calls", res)
		m := data.(map[string]any)
		for _, call := range m["calls"].([]any) {
			id := call.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("call %s listed twice", id)
			}
			seen[id] = true
		}
		next, _ := m["next_cursor"].(string)
		if next == "" {
			break
		}
		if !strings.Contains(summary, "cursor="+next) {
			t.Fatalf("a truncated page's summary does not give the cursor: %q", summary)
		}
		cursor = next
	}
	var bounds mcp.BoundariesResult
	c.Get(t, "get_data_boundaries", nil, &bounds)
	if total := int(bounds.Records.Count); len(seen) != total {
		t.Fatalf("paging through the text saw %d calls, the store holds %d", len(seen), total)
	}

	// A tool without a cursor is cut from the end of its longest list and
	// says so in both forms.
	var st map[string]any
	summary := bothForms(t, c, "get_api_stats", map[string]any{"group_by": "client", "limit": 100, "buckets": 60}, &st)
	if st["truncated"] != true || !strings.Contains(summary, "truncated") {
		t.Fatalf("stats over the limit: truncated=%v, summary %q", st["truncated"], summary)
	}
	// The scenario's four flows take about 4 KiB: at 2.5 KiB a page holds
	// two, and the store's cursor continues after them.
	s2, err := mcp.New(mcp.Options{Store: sc.store, Dissectors: dissectorList(), Version: "test", MaxResultBytes: 2560})
	if err != nil {
		t.Fatal(err)
	}
	c2 := mcptest.Connect(t, mustInProcess(t, s2))
	var flows mcp.ListFlowsResult
	summary = bothForms(t, c2, "list_l4_flows", map[string]any{"limit": 1000}, &flows)
	if b, _ := json.Marshal(flows); len(b) > 2560 || flows.NextCursor == "" || !strings.Contains(summary, flows.NextCursor) {
		t.Fatalf("flows over the limit: %d bytes, cursor %q, summary %q", len(b), flows.NextCursor, summary)
	}
}
