package mcp_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// emptyServer is a server over an empty in-memory store, for tests of the
// protocol rather than the data.
func emptyServer(t testing.TB) *mcp.Server {
	t.Helper()
	st, err := storage.Open(context.Background(), storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := mcp.New(mcp.Options{Store: st, Dissectors: dissectorList(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rpc sends one raw JSON-RPC message to the server and decodes the result.
func rpc(t *testing.T, s *mcp.Server, msg string, into any) {
	t.Helper()
	resp := s.MCPServer().HandleMessage(context.Background(), json.RawMessage(msg))
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Result json.RawMessage
		Error  *struct{ Message string }
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Error != nil {
		t.Fatalf("%s: %s", msg, b)
	}
	if err := json.Unmarshal(env.Result, into); err != nil {
		t.Fatalf("%s: %v\n%s", msg, err, b)
	}
}

// The README states the protocol versions the server speaks; this holds it
// to what the server answers, so the two cannot drift apart when mcp-go is
// upgraded.
func TestREADMEStatesTheProtocolVersionsServed(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`protocol version (\d{4}-\d\d-\d\d) through\s+` + "`server/discover`" + `;\s+the\s+` + "`initialize`" + `\s+handshake[^;]*?negotiates\s+(\d{4}-\d\d-\d\d)`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("README no longer says which protocol versions server/discover and initialize give (\"protocol version X through `server/discover`; the `initialize` handshake ... negotiates Y\")")
	}
	modern, handshake := string(m[1]), string(m[2])
	s := emptyServer(t)

	// A client asking initialize for the newest version it knows gets the
	// newest the handshake can give.
	var init struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"`+modern+`","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, &init)
	if init.ProtocolVersion != handshake {
		t.Errorf("initialize answers %s; the README says %s", init.ProtocolVersion, handshake)
	}
	// An older client keeps its version.
	rpc(t, s, `{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, &init)
	if init.ProtocolVersion != "2025-03-26" {
		t.Errorf("initialize with 2025-03-26 answers %s", init.ProtocolVersion)
	}

	meta := `{"io.modelcontextprotocol/protocolVersion":"` + modern + `","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
	var disc struct {
		SupportedVersions []string `json:"supportedVersions"`
	}
	rpc(t, s, `{"jsonrpc":"2.0","id":3,"method":"server/discover","params":{"_meta":`+meta+`}}`, &disc)
	if len(disc.SupportedVersions) == 0 || disc.SupportedVersions[0] != modern {
		t.Errorf("server/discover offers %v; the README says %s is the newest", disc.SupportedVersions, modern)
	}
	// And a stateless request of that version is served.
	var tools struct {
		Tools []struct{ Name string }
	}
	rpc(t, s, `{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":`+meta+`}}`, &tools)
	if len(tools.Tools) < 8 {
		t.Errorf("tools/list at %s: %d tools", modern, len(tools.Tools))
	}

	// The hub's Streamable HTTP endpoint offers the same.
	srv := httptest.NewServer(mcp.HTTPHandler(s.MCPServer(), "/mcp"))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":5,"method":"server/discover","params":{"_meta":`+meta+`}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", modern)
	req.Header.Set("Mcp-Method", "server/discover")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"supportedVersions":["`+modern+`"`) {
		t.Errorf("server/discover over HTTP: %d %s", resp.StatusCode, b)
	}
}
