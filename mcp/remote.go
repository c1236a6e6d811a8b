package mcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// ErrHubUnreachable is wrapped by the errors of a forwarding server whose
// hub does not answer: nothing listens at the URL, the name does not
// resolve, or the connection timed out.
var ErrHubUnreachable = errors.New("hub unreachable")

// ErrHubToken is wrapped by the errors of a forwarding server whose hub
// rejected the bearer token.
var ErrHubToken = errors.New("hub rejected the token")

// RemoteOptions configures a server that forwards to a hub.
type RemoteOptions struct {
	// URL is the hub's base URL (http://127.0.0.1:8898); /mcp is appended.
	URL string
	// Token is the hub's bearer token.
	Token string
	// HTTPClient, when set, sends the requests for URL (kubeshark mcp
	// --proxy's client routes them through the Kubernetes API server).
	HTTPClient *http.Client
	// Explain, when set, is asked first to turn a failure into the
	// sentence a tool call answers with; nil leaves it to the built-in
	// explanations (which speak of a hub at a URL).
	Explain func(error) error
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
	f := newForwarder(opts)
	return s.newMCPServer(f.tool, f.read), nil
}

// CheckHub connects to the hub at opts.URL as a forwarding server would and
// says whether it answers: nil, or an error wrapping ErrHubUnreachable or
// ErrHubToken (or another failure) with what to do about it. `kubeshark mcp
// --url` runs it once at start to tell the user on stderr; the server it
// runs checks again on every call, so a hub started later is used without
// a restart.
func CheckHub(ctx context.Context, opts RemoteOptions) error {
	if opts.URL == "" {
		return errors.New("mcp: remote hub URL is empty")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	f := newForwarder(opts)
	c, err := f.client(ctx)
	if err != nil {
		return err
	}
	f.drop(c)
	return nil
}

// ReadHubResource reads one resource from the hub at opts.URL in a session
// of its own, made and explained as a forwarding server's (the same
// errors: ErrHubUnreachable, ErrHubToken, not found with the hub's
// reason), and closed after.
func ReadHubResource(ctx context.Context, opts RemoteOptions, uri string) ([]mcpgo.ResourceContents, error) {
	if opts.URL == "" {
		return nil, errors.New("mcp: remote hub URL is empty")
	}
	f := newForwarder(opts)
	defer f.close()
	return f.read(ctx, uri)
}

// forwarder holds one client session with the hub, made on first use and
// made again after a failure.
type forwarder struct {
	base, url, token, version string
	log                       *slog.Logger
	httpClient                *http.Client
	hook                      func(error) error
	mu                        sync.Mutex
	c                         *client.Client
	// down is set while the hub cannot be reached, so that its return is
	// logged once.
	down bool
}

func newForwarder(opts RemoteOptions) *forwarder {
	base := strings.TrimRight(opts.URL, "/")
	l := opts.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &forwarder{base: base, url: base + "/mcp", token: opts.Token, version: opts.Version, log: l, httpClient: opts.HTTPClient, hook: opts.Explain}
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
	topts := []transport.StreamableHTTPCOption{transport.WithHTTPHeaders(hdr)}
	if f.httpClient != nil {
		topts = append(topts, transport.WithHTTPBasicClient(f.httpClient))
	}
	c, err := client.NewStreamableHttpClient(f.url, topts...)
	if err != nil {
		return nil, f.explain(err)
	}
	if err := c.Start(ctx); err != nil {
		f.down = true
		return nil, f.explain(err)
	}
	init := mcpgo.InitializeRequest{}
	init.Params.ProtocolVersion = mcpgo.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcpgo.Implementation{Name: "kubeshark-mcp-forwarder", Version: f.version}
	if _, err := c.Initialize(ctx, init); err != nil {
		c.Close()
		f.down = true
		return nil, f.explain(err)
	}
	if f.down {
		f.log.Info("hub reachable again", "url", f.base)
		f.down = false
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

// close ends the session, if there is one.
func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.c != nil {
		f.c.Close()
		f.c = nil
	}
}

// explain turns a client error into one sentence that names the hub, says
// what went wrong and what to do. mcp-go's transport wraps a failed dial
// several times ("transport error: failed to send request: failed to send
// request: Post …: dial tcp …"); only the cause is kept.
func (f *forwarder) explain(err error) error {
	if f.hook != nil {
		if e := f.hook(err); e != nil {
			return e
		}
	}
	msg := err.Error()
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.Is(err, transport.ErrUnauthorized), errors.Is(err, transport.ErrAuthorizationRequired), strings.Contains(msg, "401"), strings.Contains(msg, "authorization required"):
		if f.token == "" {
			return &hubError{ErrHubToken, fmt.Sprintf("hub %s needs a bearer token (401): pass the one `kubeshark hub token` prints on the hub's machine with --token (or KUBESHARK_HUB_TOKEN)", f.base)}
		}
		return &hubError{ErrHubToken, fmt.Sprintf("hub %s rejected the token (401): pass the one `kubeshark hub token` prints on the hub's machine with --token (or KUBESHARK_HUB_TOKEN)", f.base)}
	case errors.As(err, &dns):
		return &hubError{ErrHubUnreachable, fmt.Sprintf("hub %s is unreachable (host %q not found): check --url", f.base, dns.Name)}
	case errors.As(err, &op) && op.Op == "dial":
		return &hubError{ErrHubUnreachable, fmt.Sprintf("hub %s is unreachable (%v): is `kubeshark hub` running there? Each call tries it again", f.base, op.Err)}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &op) && op.Timeout():
		return &hubError{ErrHubUnreachable, fmt.Sprintf("hub %s is unreachable (no answer in time): check --url and that `kubeshark hub` runs there", f.base)}
	}
	return fmt.Errorf("hub %s: %s", f.base, unwrapTransport(msg))
}

// hubError is a forwarding failure: one sentence for the user, and the
// sentinel it is an instance of for errors.Is.
type hubError struct {
	kind error
	msg  string
}

func (e *hubError) Error() string { return e.msg }
func (e *hubError) Unwrap() error { return e.kind }

// unwrapTransport drops the prefixes mcp-go's transport adds, once or
// repeatedly, in front of the cause.
func unwrapTransport(msg string) string {
	for {
		trimmed := strings.TrimPrefix(strings.TrimPrefix(msg, "transport error: "), "failed to send request: ")
		if trimmed == msg {
			return msg
		}
		msg = trimmed
	}
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
	if err != nil && isNotFound(err) {
		// The hub answered; only the resource is unknown. Keep the
		// hub's reason, which its not-found answer carries after the
		// URI (see readAhead).
		msg := err.Error()
		if _, reason, ok := strings.Cut(msg, uri+" ("); ok {
			if r, _, ok := strings.Cut(reason, ")'"); ok {
				msg = r
			}
		}
		return nil, &notFoundError{msg: msg, err: mcpgo.ErrResourceNotFound}
	}
	if err != nil {
		f.drop(c)
		return nil, f.explain(err)
	}
	return res.Contents, nil
}
