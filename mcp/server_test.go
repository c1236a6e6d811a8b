package mcp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
)

func TestCallToolsFindThe503sWithTheirPayloads(t *testing.T) {
	f := newFixture(t)
	c := mcptest.Connect(t, mustInProcess(t, f.server(t, false)))
	tools := c.Tools
	if len(tools) < 8 {
		t.Fatalf("only %d tools", len(tools))
	}

	want503 := f.stats.Statuses[503]
	if want503 == 0 {
		t.Fatal("the sample capture has no 503s; the test needs some")
	}
	var list mcp.ListCallsResult
	c.Structured(t, "list_api_calls", c.Call(t, "list_api_calls", map[string]any{"kfl": "http && status_code == 503", "limit": 1000}), &list)
	if list.Returned != want503 || len(list.Calls) != want503 {
		t.Fatalf("list_api_calls found %d 503s, the capture has %d", list.Returned, want503)
	}
	for _, call := range list.Calls {
		if call.Status != 503 || call.Protocol != "http" {
			t.Fatalf("filter let through %+v", call)
		}
	}

	// The payload of one of them is the server's error text.
	var got mcp.GetCallResult
	res := c.Call(t, "get_api_call", map[string]any{"id": list.Calls[0].ID, "include_payload": true})
	c.Structured(t, "get_api_call", res, &got)
	if got.Call.Response == nil || !strings.Contains(got.Call.Response.Body, "service temporarily unavailable") {
		t.Fatalf("503 response body = %+v", got.Call.Response)
	}
	if !strings.Contains(mcptest.Text(res), "503") {
		t.Fatalf("text summary lacks the status: %q", mcptest.Text(res))
	}

	// Pages of 7 walk every call once, newest first.
	total := 0
	for _, n := range f.stats.Statuses {
		total += n
	}
	seen := map[string]bool{}
	cursor := ""
	for {
		args := map[string]any{"limit": 7}
		if cursor != "" {
			args["cursor"] = cursor
		}
		var page mcp.ListCallsResult
		c.Structured(t, "list_api_calls", c.Call(t, "list_api_calls", args), &page)
		for i, c := range page.Calls {
			if seen[c.ID] {
				t.Fatalf("call %s listed twice", c.ID)
			}
			seen[c.ID] = true
			if i > 0 && c.Timestamp.After(page.Calls[i-1].Timestamp) {
				t.Fatal("not newest first")
			}
		}
		if !page.Truncated {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != total {
		t.Fatalf("paging saw %d calls, the capture has %d", len(seen), total)
	}

	// format=full carries headers.
	var full mcp.ListCallsResult
	c.Structured(t, "list_api_calls", c.Call(t, "list_api_calls", map[string]any{"limit": 3, "format": "full", "order": "oldest"}), &full)
	if len(full.Calls) != 3 || full.Calls[0].Request == nil || len(full.Calls[0].Request.Headers) == 0 {
		t.Fatalf("full format without request headers: %+v", full.Calls)
	}
}

func TestToolErrorsAreClear(t *testing.T) {
	f := newFixture(t)
	c := mcptest.Connect(t, mustInProcess(t, f.server(t, false)))
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"list_api_calls", map[string]any{"kfl": "status_code >= "}, "kfl"},
		{"list_api_calls", map[string]any{"kfl": "stauts_code == 500"}, "status_code"},
		{"list_api_calls", map[string]any{"bogus": 1}, `unknown argument "bogus"`},
		{"list_api_calls", map[string]any{"limit": 5000}, "at most 1000"},
		{"list_api_calls", map[string]any{"limit": "ten"}, "limit"},
		{"list_api_calls", map[string]any{"start": "yesterday-ish"}, "not a time"},
		{"list_api_calls", map[string]any{"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "not after start"},
		{"list_api_calls", map[string]any{"cursor": "not-a-cursor"}, "cursor"},
		{"get_api_call", map[string]any{"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, `no call with id "01ARZ3NDEKTSV4RRFFQ69G5FAV"; list_api_calls lists the ids`},
		{"get_api_call", map[string]any{}, "id is required"},
		{"get_tcp_insights", map[string]any{"id": "nope"}, `no flow with id "nope"`},
		{"get_tcp_insights", map[string]any{"call_id": "nope"}, `no call with id "nope"`},
		{"list_l4_flows", map[string]any{"state": "sleeping"}, "want one of"},
		{"disable_dissection", map[string]any{"name": "http"}, "--allow-destructive"},
	} {
		res := c.Call(t, tc.tool, tc.args)
		if !res.IsError {
			t.Errorf("%s(%v) succeeded; want an error mentioning %q", tc.tool, tc.args, tc.want)
			continue
		}
		if !strings.Contains(mcptest.Text(res), tc.want) {
			t.Errorf("%s(%v) error %q does not mention %q", tc.tool, tc.args, mcptest.Text(res), tc.want)
		}
	}
	// An unknown tool is a protocol-level error, and the server survives it.
	req := mcpgo.CallToolRequest{}
	req.Params.Name = "drop_all_tables"
	if _, err := c.C.CallTool(context.Background(), req); err == nil {
		t.Error("unknown tool accepted")
	}
	c.Call(t, "get_data_boundaries", nil)
}

func TestDissectionTogglesNeedAllowDestructive(t *testing.T) {
	f := newFixture(t)
	c := mcptest.Connect(t, mustInProcess(t, f.server(t, true)))
	var st mcp.DissectorsResult
	c.Structured(t, "disable_dissection", c.Call(t, "disable_dissection", map[string]any{"name": "http"}), &st)
	if len(st.Disabled) != 1 || st.Disabled[0] != "http" || st.Dissectors[0].Enabled {
		t.Fatalf("after disable: %+v", st)
	}
	got, err := f.store.DisabledDissectors(context.Background())
	if err != nil || len(got) != 1 {
		t.Fatalf("store has %v, %v", got, err)
	}
	c.Structured(t, "enable_dissection", c.Call(t, "enable_dissection", map[string]any{"name": "http"}), &st)
	if len(st.Disabled) != 0 || !st.Dissectors[0].Enabled {
		t.Fatalf("after enable: %+v", st)
	}
	if res := c.Call(t, "disable_dissection", map[string]any{"name": "gopher"}); !res.IsError {
		t.Fatal("unknown dissector accepted")
	}
}

func TestResourcesAndPrompts(t *testing.T) {
	f := newFixture(t)
	c := mcptest.Connect(t, mustInProcess(t, f.server(t, false)))
	ctx := context.Background()

	var list mcp.ListCallsResult
	c.Structured(t, "list_api_calls", c.Call(t, "list_api_calls", map[string]any{"limit": 1}), &list)
	for uri, want := range map[string]string{
		"kubeshark://kfl":                       "status_code",
		"kubeshark://dissectors":                `"http"`,
		"kubeshark://dissectors/http":           "request.headers",
		"kubeshark://status":                    `"records"`,
		"kubeshark://calls/" + list.Calls[0].ID: list.Calls[0].ID,
	} {
		req := mcpgo.ReadResourceRequest{}
		req.Params.URI = uri
		res, err := c.C.ReadResource(ctx, req)
		if err != nil {
			t.Errorf("read %s: %v", uri, err)
			continue
		}
		tc, ok := res.Contents[0].(mcpgo.TextResourceContents)
		if !ok || !strings.Contains(tc.Text, want) {
			t.Errorf("read %s: %q lacks %q", uri, tc.Text, want)
		}
	}
	req := mcpgo.ReadResourceRequest{}
	req.Params.URI = "kubeshark://calls/01ARZ3NDEKTSV4RRFFQ69G5FAV"
	if _, err := c.C.ReadResource(ctx, req); err == nil {
		t.Error("unknown call resource read without error")
	}

	lp, err := c.C.ListPrompts(ctx, mcpgo.ListPromptsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"analyze_traffic", "find_errors", "trace_request", "show_topology", "latency_analysis", "security_audit", "compare_traffic", "debug_connection"}
	if len(lp.Prompts) != len(want) {
		t.Fatalf("%d prompts, want %d", len(lp.Prompts), len(want))
	}
	lt, _ := c.C.ListTools(ctx, mcpgo.ListToolsRequest{})
	toolNames := map[string]bool{}
	for _, tool := range lt.Tools {
		toolNames[tool.Name] = true
	}
	for _, name := range want {
		gp := mcpgo.GetPromptRequest{}
		gp.Params.Name = name
		gp.Params.Arguments = map[string]string{"start": "14:00", "end": "14:15"}
		if name == "compare_traffic" {
			gp.Params.Arguments = map[string]string{"baseline_start": "13:00", "baseline_end": "13:15", "start": "14:00", "end": "14:15"}
		}
		if name == "trace_request" || name == "debug_connection" {
			gp.Params.Arguments = map[string]string{"call_id": list.Calls[0].ID}
		}
		res, err := c.C.GetPrompt(ctx, gp)
		if err != nil {
			t.Errorf("prompt %s: %v", name, err)
			continue
		}
		plan := res.Messages[0].Content.(mcpgo.TextContent).Text
		// Every tool a plan names must exist.
		named := 0
		for _, word := range strings.FieldsFunc(plan, func(r rune) bool { return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
			if strings.Contains(word, "_") && (strings.HasPrefix(word, "get_") || strings.HasPrefix(word, "list_") || strings.HasPrefix(word, "find_") || strings.HasPrefix(word, "search_") || word == "compare_traffic") {
				named++
				if !toolNames[word] && !(name == "compare_traffic" && word == "compare_traffic") {
					t.Errorf("prompt %s names tool %s, which does not exist", name, word)
				}
			}
		}
		if named < 2 {
			t.Errorf("prompt %s names %d tools; a plan should name the tools to use", name, named)
		}
	}
	gp := mcpgo.GetPromptRequest{}
	gp.Params.Name = "compare_traffic"
	if _, err := c.C.GetPrompt(ctx, gp); err == nil {
		t.Error("compare_traffic without its required windows accepted")
	}
}

func mustInProcess(t testing.TB, s *mcp.Server) *client.Client {
	t.Helper()
	c, err := client.NewInProcessClient(s.MCPServer())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
