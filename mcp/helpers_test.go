package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/kubeshark-wasm/kubeshark/dissectors/http1"
	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/native"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// fixture is a store filled from a capture of real net/http traffic
// (synth.HTTPSample: a real server and clients on loopback, recorded
// through a relay), dissected by the HTTP dissector compiled natively: the
// same code as its wasm build, which the CLI tests exercise.
type fixture struct {
	store *storage.Store
	stats synth.Stats
	dir   string
}

var (
	sampleOnce sync.Once
	samplePcap []byte
	sampleStat synth.Stats
	sampleErr  error
)

func samplePCAP(t testing.TB) ([]byte, synth.Stats) {
	sampleOnce.Do(func() {
		var buf bytes.Buffer
		sampleStat, sampleErr = synth.HTTPSample(context.Background(), &buf, 80)
		samplePcap = buf.Bytes()
	})
	if sampleErr != nil {
		t.Fatal(sampleErr)
	}
	return samplePcap, sampleStat
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	pcap, st := samplePCAP(t)
	dir := t.TempDir()
	store, err := storage.Open(context.Background(), storage.Options{Dir: filepath.Join(dir, "store"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	importPCAP(t, store, pcap)
	return &fixture{store: store, stats: st, dir: dir}
}

func importPCAP(t testing.TB, store *storage.Store, pcap []byte) {
	t.Helper()
	src, err := capture.NewSource("sample.pcap", bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New(pipeline.Config{NewID: storage.NewID}, []engine.Dissector{native.New(http1.New())}, store)
	if _, err := p.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
}

func dissectorList() []mcp.Dissector {
	return []mcp.Dissector{{Manifest: http1.New().Manifest(), Source: "native", ABIVersion: sdk.ABIVersion}}
}

func (f *fixture) server(t testing.TB, allowDestructive bool) *mcp.Server {
	t.Helper()
	s, err := mcp.New(mcp.Options{Store: f.store, Dissectors: dissectorList(), AllowDestructive: allowDestructive, Version: "test",
		Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// connect returns an initialised in-process client of s.
func connect(t testing.TB, c *client.Client) *client.Client {
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
	return c
}

// call runs a tool and returns its result; it fails the test on a protocol
// error (tool errors come back as IsError results).
func call(t testing.TB, c *client.Client, name string, args map[string]any) *mcpgo.CallToolResult {
	t.Helper()
	req := mcpgo.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(context.Background(), req)
	if err != nil {
		t.Fatalf("%s(%v): %v", name, args, err)
	}
	return res
}

// structured decodes a successful result's structured content into v,
// after checking it against the tool's advertised output schema.
func structured(t testing.TB, schemas map[string]*jsonschema.Schema, name string, res *mcpgo.CallToolResult, v any) {
	t.Helper()
	if res.IsError {
		t.Fatalf("%s: tool error: %s", name, text(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if sch := schemas[name]; sch != nil {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Fatalf("%s: structured content does not match its outputSchema: %v\n%s", name, err, b)
		}
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
	}
}

func text(res *mcpgo.CallToolResult) string {
	var out string
	for _, c := range res.Content {
		if tc, ok := c.(mcpgo.TextContent); ok {
			out += tc.Text
		}
	}
	return out
}

// outputSchemas compiles every listed tool's outputSchema.
func outputSchemas(t testing.TB, c *client.Client) (map[string]*jsonschema.Schema, []mcpgo.Tool) {
	t.Helper()
	lt, err := c.ListTools(context.Background(), mcpgo.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*jsonschema.Schema{}
	for _, tool := range lt.Tools {
		b, err := json.Marshal(tool.OutputSchema)
		if err != nil {
			t.Fatal(err)
		}
		if tool.OutputSchema.Type == "" {
			t.Fatalf("tool %s has no outputSchema", tool.Name)
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
		out[tool.Name] = sch
	}
	return out, lt.Tools
}

