// Package mcptest helps tests drive an MCP server through a real client
// (mcp-go's) and check what it answers against what it advertises: every
// tool result's structuredContent is validated against the tool's
// outputSchema, as strict clients such as the TypeScript SDK do.
package mcptest

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Session is an initialised client with the compiled output schemas of the
// server's tools.
type Session struct {
	C       *client.Client
	Tools   []mcpgo.Tool
	schemas map[string]*jsonschema.Schema
}

// Connect starts and initialises c, lists the tools and compiles their
// output schemas; it fails the test if a tool has none. The client is
// closed when the test ends.
func Connect(t testing.TB, c *client.Client) *Session {
	t.Helper()
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	init := mcpgo.InitializeRequest{}
	init.Params.ProtocolVersion = mcpgo.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcpgo.Implementation{Name: "kubeshark-test", Version: "1"}
	res, err := c.Initialize(ctx, init)
	if err != nil {
		t.Fatal(err)
	}
	if res.ServerInfo.Name != "kubeshark" {
		t.Fatalf("server name %q", res.ServerInfo.Name)
	}
	lt, err := c.ListTools(ctx, mcpgo.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s := &Session{C: c, Tools: lt.Tools, schemas: map[string]*jsonschema.Schema{}}
	for _, tool := range lt.Tools {
		if tool.OutputSchema.Type == "" {
			t.Fatalf("tool %s has no outputSchema", tool.Name)
		}
		b, err := json.Marshal(tool.OutputSchema)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		comp := jsonschema.NewCompiler()
		url := "mem://" + tool.Name + ".json"
		if err := comp.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
		sch, err := comp.Compile(url)
		if err != nil {
			t.Fatalf("%s outputSchema does not compile: %v\n%s", tool.Name, err, b)
		}
		s.schemas[tool.Name] = sch
	}
	return s
}

// Call runs a tool and returns its result; a protocol error fails the
// test (tool errors come back as IsError results).
func (s *Session) Call(t testing.TB, name string, args map[string]any) *mcpgo.CallToolResult {
	t.Helper()
	req := mcpgo.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := s.C.CallTool(context.Background(), req)
	if err != nil {
		t.Fatalf("%s(%v): %v", name, args, err)
	}
	return res
}

// Structured checks that a result succeeded and that its structured
// content satisfies the tool's output schema, then decodes it into v (if
// not nil).
func (s *Session) Structured(t testing.TB, name string, res *mcpgo.CallToolResult, v any) {
	t.Helper()
	if res.IsError {
		t.Fatalf("%s: tool error: %s", name, Text(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	sch := s.schemas[name]
	if sch == nil {
		t.Fatalf("%s: no such tool listed", name)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("%s: structured content does not match its outputSchema: %v\n%s", name, err, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
	}
}

// Get calls a tool, checks the answer as Structured does, and decodes it
// into v.
func (s *Session) Get(t testing.TB, name string, args map[string]any, v any) {
	t.Helper()
	s.Structured(t, name, s.Call(t, name, args), v)
}

// Text joins a result's text contents.
func Text(res *mcpgo.CallToolResult) string {
	var out string
	for _, c := range res.Content {
		if tc, ok := c.(mcpgo.TextContent); ok {
			out += tc.Text
		}
	}
	return out
}

// Resource reads a text resource.
func (s *Session) Resource(t testing.TB, uri string) (string, error) {
	t.Helper()
	req := mcpgo.ReadResourceRequest{}
	req.Params.URI = uri
	res, err := s.C.ReadResource(context.Background(), req)
	if err != nil {
		return "", err
	}
	if len(res.Contents) == 0 {
		t.Fatalf("resource %s: no contents", uri)
	}
	tc, ok := res.Contents[0].(mcpgo.TextResourceContents)
	if !ok {
		t.Fatalf("resource %s is not text", uri)
	}
	return tc.Text, nil
}
