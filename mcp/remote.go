package mcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// RemoteOptions configures a server that forwards to a hub.
type RemoteOptions struct {
	// URL is the hub's base URL (http://127.0.0.1:8898); /mcp is appended.
	URL string
	// Token is the hub's bearer token.
	Token   string
	Version string
	Logger  *slog.Logger
}

// NewRemote builds an MCP server that advertises the same tools, resources
// and prompts as a local one and runs every tool call and resource read on
// the hub at opts.URL. The tools are declared here, so a client sees them
// even while the hub is down; each call then fails with a message naming
// the hub and what went wrong.
func NewRemote(opts RemoteOptions) (*server.MCPServer, error) {
	if opts.URL == "" {
		return nil, errors.New("mcp: remote hub URL is empty")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	// The definitions are a local server's; no store is needed to declare
	// them.
	s := &Server{opts: Options{Version: opts.Version, Logger: opts.Logger}, tools: map[string]tool{}, log: opts.Logger}
	for _, t := range s.allTools() {
		s.tools[t.def.Name] = t
		s.order = append(s.order, t.def.Name)
	}
	f := &forwarder{url: strings.TrimRight(opts.URL, "/") + "/mcp", token: opts.Token, version: opts.Version}
	return s.newMCPServer(f.tool, f.read), nil
}

// forwarder holds one client session with the hub, made on first use and
// made again after a failure.
type forwarder struct {
	url, token, version string
	mu                  sync.Mutex
	c                   *client.Client
}

func (f *forwarder) client(ctx context.Context) (*client.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.c != nil {
		return f.c, nil
	}
	var hdr map[string]string
	if f.token != "" {
		hdr = map[string]string{"Authorization": "Bearer " + f.token}
	}
	c, err := client.NewStreamableHttpClient(f.url, transport.WithHTTPHeaders(hdr))
	if err != nil {
		return nil, f.explain(err)
	}
	if err := c.Start(ctx); err != nil {
		return nil, f.explain(err)
	}
	init := mcpgo.InitializeRequest{}
	init.Params.ProtocolVersion = mcpgo.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcpgo.Implementation{Name: "kubeshark-mcp-forwarder", Version: f.version}
	if _, err := c.Initialize(ctx, init); err != nil {
		c.Close()
		return nil, f.explain(err)
	}
	f.c = c
	return c, nil
}

// drop forgets a session that failed, so the next call reconnects.
func (f *forwarder) drop(c *client.Client) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.c == c {
		f.c.Close()
		f.c = nil
	}
}

func (f *forwarder) explain(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, transport.ErrUnauthorized), errors.Is(err, transport.ErrAuthorizationRequired), strings.Contains(msg, "401"), strings.Contains(msg, "authorization required"):
		return fmt.Errorf("hub %s rejected the token (401): pass the one `kubeshark hub token` prints with --token", f.url)
	case strings.Contains(msg, "connection refused"), strings.Contains(msg, "no such host"), strings.Contains(msg, "dial tcp"):
		return fmt.Errorf("hub %s is unreachable (%v): is `kubeshark hub` running there?", f.url, err)
	}
	return fmt.Errorf("hub %s: %w", f.url, err)
}

func (f *forwarder) tool(t tool) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
		c, err := f.client(ctx)
		if err != nil {
			return mcpgo.NewToolResultError(err.Error()), nil
		}
		fwd := mcpgo.CallToolRequest{}
		fwd.Params.Name = t.def.Name
		fwd.Params.Arguments = req.Params.Arguments
		res, err := c.CallTool(ctx, fwd)
		if err != nil {
			f.drop(c)
			return mcpgo.NewToolResultError(f.explain(err).Error()), nil
		}
		return res, nil
	}
}

func (f *forwarder) read(ctx context.Context, uri string) ([]mcpgo.ResourceContents, error) {
	c, err := f.client(ctx)
	if err != nil {
		return nil, err
	}
	req := mcpgo.ReadResourceRequest{}
	req.Params.URI = uri
	res, err := c.ReadResource(ctx, req)
	if err != nil {
		f.drop(c)
		return nil, f.explain(err)
	}
	return res.Contents, nil
}
