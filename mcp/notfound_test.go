package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
)

// An unknown id in a resource URI is the protocol's resource-not-found
// error with the CLI's wording, not an internal error (-32603); a known
// one still reads, locally and through a forwarding server.
func TestUnknownResourceIsNotFoundNotInternal(t *testing.T) {
	sc := newScenario(t)
	s := sc.server(t)
	c := mcptest.Connect(t, mustInProcess(t, s))
	var list mcp.ListCallsResult
	c.Get(t, "list_api_calls", map[string]any{"limit": 1}, &list)

	const meta = `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
	for _, tc := range []struct {
		uri, want string
	}{
		{"kubeshark://calls/NOPE", `no call with id "NOPE"; list_api_calls lists the ids`},
		{"kubeshark://flows/NOPE", `no flow with id "NOPE"; list_l4_flows lists the ids`},
		{"kubeshark://snapshots/snap-0000000000000000", `no snapshot with id "snap-0000000000000000"; list_snapshots lists the ids`},
		{"kubeshark://dissectors/gopher", `no such dissector: "gopher"`},
	} {
		// A client of 2025-11-25 or before gets -32002; one of
		// 2026-07-28, which made it -32602, gets that.
		for _, era := range []struct {
			params string
			code   int
		}{
			{`{"uri":"` + tc.uri + `"}`, mcpgo.RESOURCE_NOT_FOUND},
			{`{"uri":"` + tc.uri + `","_meta":` + meta + `}`, mcpgo.INVALID_PARAMS},
		} {
			resp := s.MCPServer().HandleMessage(context.Background(), json.RawMessage(`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":`+era.params+`}`))
			b, _ := json.Marshal(resp)
			var got struct {
				Error *struct {
					Code    int
					Message string
				}
			}
			json.Unmarshal(b, &got)
			if got.Error == nil || got.Error.Code != era.code || !strings.Contains(got.Error.Message, tc.want) {
				t.Errorf("read %s: %s; want code %d and %q", tc.uri, b, era.code, tc.want)
			}
		}
	}
	// Known ids read as before, once the hook has looked them up.
	for _, uri := range []string{"kubeshark://calls/" + list.Calls[0].ID, "kubeshark://dissectors/http"} {
		if text, err := c.Resource(t, uri); err != nil || !strings.Contains(text, "{") {
			t.Errorf("read %s: %v %q", uri, err, text)
		}
	}

	// Through `kubeshark mcp --url`'s forwarding server.
	base, tok := startHub(t, sc.fixture)
	remote, err := mcp.NewRemote(mcp.RemoteOptions{URL: base, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := client.NewInProcessClient(remote)
	r := mcptest.Connect(t, rc)
	_, err = r.Resource(t, "kubeshark://calls/NOPE")
	if err == nil || !(errors.Is(err, mcpgo.ErrResourceNotFound) || errors.Is(err, mcpgo.ErrInvalidParams)) || !strings.Contains(err.Error(), `no call with id "NOPE"`) || strings.Contains(err.Error(), "hub ") {
		t.Fatalf("forwarded read of an unknown call: %v", err)
	}
	if text, err := r.Resource(t, "kubeshark://calls/"+list.Calls[0].ID); err != nil || !strings.Contains(text, list.Calls[0].ID) {
		t.Fatalf("forwarded read of a known call: %v %q", err, text)
	}
}
