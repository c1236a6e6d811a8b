package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// resourceReader reads one kubeshark:// resource.
type resourceReader func(ctx context.Context, uri string) ([]mcpgo.ResourceContents, error)

const scheme = "kubeshark://"

func (s *Server) addResources(m *server.MCPServer, ra *readAhead) {
	h := ra.handler
	m.AddResource(mcpgo.NewResource(scheme+"dissectors", "dissectors",
		mcpgo.WithResourceDescription("Every loaded dissector: manifest (protocols, transports, port hints) and the KFL fields it declares."),
		mcpgo.WithMIMEType("application/json")), h)
	m.AddResource(mcpgo.NewResource(scheme+"kfl", "kfl",
		mcpgo.WithResourceDescription("The KFL filter language reference, generated from the dissectors' manifests, with examples."),
		mcpgo.WithMIMEType("text/markdown")), h)
	m.AddResource(mcpgo.NewResource(scheme+"status", "status",
		mcpgo.WithResourceDescription("What the store holds (time ranges and counts of records, flows and packets) and the dissection settings."),
		mcpgo.WithMIMEType("application/json")), h)
	for _, t := range []struct{ uri, name, desc string }{
		{"dissectors/{name}", "dissector", "One dissector's manifest and field schema."},
		{"calls/{id}", "call", "One API call in full (as get_api_call with payloads)."},
		{"flows/{id}", "flow", "One L4 flow with its TCP figures and findings."},
		{"snapshots/{id}", "snapshot", "One snapshot: its window and what it holds."},
	} {
		m.AddResourceTemplate(mcpgo.NewResourceTemplate(scheme+t.uri, t.name,
			mcpgo.WithTemplateDescription(t.desc), mcpgo.WithTemplateMIMEType("application/json")), h)
	}
}

// readResource serves the resources from the local store.
func (s *Server) readResource(ctx context.Context, uri string) ([]mcpgo.ResourceContents, error) {
	rest, ok := strings.CutPrefix(uri, scheme)
	if !ok {
		return nil, fmt.Errorf("resource %q: not a %s URI", uri, scheme)
	}
	kind, id, _ := strings.Cut(rest, "/")
	var v any
	switch {
	case kind == "kfl" && id == "":
		return []mcpgo.ResourceContents{mcpgo.TextResourceContents{URI: uri, MIMEType: "text/markdown", Text: s.kfl().Reference()}}, nil
	case kind == "dissectors" && id == "":
		v = s.dissectors()
	case kind == "dissectors":
		for _, d := range s.dissectors() {
			if d.Manifest.Name == id {
				v = d
			}
		}
		if v == nil {
			return nil, fmt.Errorf("resource %q: %w: %q; %sdissectors lists them", uri, errNoDissector, id, scheme)
		}
	case kind == "status" && id == "":
		b, _, err := s.boundaries(ctx, noArgs{})
		if err != nil {
			return nil, err
		}
		d, err := s.dissectorViews(ctx)
		if err != nil {
			return nil, err
		}
		v = map[string]any{"version": s.opts.Version, "data": b, "dissection": d, "allow_destructive": s.opts.AllowDestructive}
	case kind == "calls" && id != "":
		r, _, err := s.getCall(ctx, getCallArgs{ID: id, IncludeL4: true})
		if err != nil {
			return nil, fmt.Errorf("resource %q: %w", uri, err)
		}
		v = r
	case kind == "flows" && id != "":
		r, _, err := s.tcpInsights(ctx, tcpInsightsArgs{ID: id})
		if err != nil {
			return nil, fmt.Errorf("resource %q: %w", uri, err)
		}
		v = map[string]any{"flow": r.Flow, "insights": r.Insights}
	case kind == "snapshots" && id != "":
		info, _, err := s.getSnapshot(ctx, snapshotIDArgs{ID: id})
		if err != nil {
			return nil, fmt.Errorf("resource %q: %w", uri, err)
		}
		v = info
	default:
		return nil, fmt.Errorf("resource %q: unknown; resources are %sdissectors, %sdissectors/{name}, %scalls/{id}, %sflows/{id}, %ssnapshots/{id}, %skfl, %sstatus", uri, scheme, scheme, scheme, scheme, scheme, scheme, scheme)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return []mcpgo.ResourceContents{mcpgo.TextResourceContents{URI: uri, MIMEType: "application/json", Text: string(b)}}, nil
}
