package mcp_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
)

// TestCallsCarryTheirTemplate: every call listed or shown carries its
// endpoint template in both forms, a KFL filter selects by it, and it is
// the path stats group the call under.
func TestCallsCarryTheirTemplate(t *testing.T) {
	sc := newScenario(t)
	c := mcptest.Connect(t, mustInProcess(t, sc.server(t)))

	var calls mcp.ListCallsResult
	bothForms(t, c, "list_api_calls", map[string]any{"kfl": `template == "/api/orders/{id}"`, "limit": 1000}, &calls)
	if len(calls.Calls) == 0 {
		t.Fatal(`template == "/api/orders/{id}" selects no call`)
	}
	order := regexp.MustCompile(`^/api/orders/[0-9]+$`)
	for _, call := range calls.Calls {
		if call.Template != "/api/orders/{id}" || !order.MatchString(call.Path) {
			t.Fatalf("call %s %s has template %q", call.Method, call.Path, call.Template)
		}
	}
	var ep mcp.ListCallsResult
	bothForms(t, c, "list_api_calls", map[string]any{"kfl": `endpoint == "GET /api/orders/{id}"`, "limit": 1000}, &ep)
	if len(ep.Calls) == 0 || len(ep.Calls) > len(calls.Calls) {
		t.Fatalf("endpoint == GET /api/orders/{id}: %d calls of %d with the template", len(ep.Calls), len(calls.Calls))
	}
	for _, call := range ep.Calls {
		if call.Method != "GET" {
			t.Fatalf("endpoint filter let %s through", call.Method)
		}
	}

	var all mcp.ListCallsResult
	bothForms(t, c, "list_api_calls", map[string]any{"limit": 50}, &all)
	for _, call := range all.Calls {
		if call.Template == "" {
			t.Fatalf("call %s (%s %s) lists no template", call.ID, call.Method, call.Path)
		}
	}
	var one mcp.GetCallResult
	summary := bothForms(t, c, "get_api_call", map[string]any{"id": calls.Calls[0].ID}, &one)
	if one.Call.Template != "/api/orders/{id}" || !strings.Contains(summary, "(/api/orders/{id})") {
		t.Fatalf("get_api_call: template %q, summary %q", one.Call.Template, summary)
	}
}
