package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/analysis"
	"github.com/kubeshark-wasm/kubeshark/storage/fanout"
	"github.com/kubeshark-wasm/kubeshark/storage/kfl"
	"github.com/kubeshark-wasm/kubeshark/storage/snapshot"
)

// Dissector describes one loaded dissector for list_dissectors and the
// dissector resources.
type Dissector struct {
	Manifest sdk.Manifest `json:"manifest"`
	// Source is "built-in" or the module's path.
	Source string `json:"source"`
	// ABIVersion is the dissector ABI the module speaks.
	ABIVersion int `json:"abi_version"`
}

// PacketLog is the part of the raw packet log the tools read.
type PacketLog interface {
	Boundaries(ctx context.Context) (PacketBounds, error)
}

// LiveCapture is a capture running in the same process (kubeshark tap),
// whose health get_data_boundaries and the status resource report.
type LiveCapture interface {
	CaptureStatus() CaptureStatus
}

// CaptureStatus is what a live capture has seen and lost so far. Loss is
// reported, never hidden: an assistant told "no calls" needs to know
// whether the capture was keeping up.
type CaptureStatus struct {
	// Attached names the hooks ("cgroup /sys/fs/cgroup", "interface eth0").
	Attached []string  `json:"attached"`
	Since    time.Time `json:"since"`
	// Packets the capture delivered to dissection.
	Packets uint64 `json:"packets"`
	// KernelLost is packets the kernel could not hand over because the
	// ring buffer was full; KernelLostBytes their size.
	KernelLost      uint64 `json:"kernel_lost" jsonschema:"packets lost because the kernel's ring buffer was full"`
	KernelLostBytes uint64 `json:"kernel_lost_bytes"`
	// Snapped is packets longer than the snap length, cut.
	Snapped uint64 `json:"snapped" jsonschema:"packets cut at the snap length"`
	// LocalDuplicates is second copies of packets between two local
	// sockets, dropped by design: most by the kernel's ingress hook
	// before they take ring space, the rest (NAT'd) in user space.
	LocalDuplicates uint64 `json:"local_duplicates_dropped"`
	// TLS is the TLS plaintext capture's part, absent when it is off.
	TLS *TLSCaptureStatus `json:"tls,omitempty"`
}

// TLSCaptureStatus is what the TLS plaintext hooks (uprobes on OpenSSL
// and Go crypto/tls) cover and lost.
type TLSCaptureStatus struct {
	// Libraries and Binaries are the libssl files and Go executables
	// hooked; Processes how many running processes use them.
	Libraries []string `json:"libraries"`
	Binaries  []string `json:"binaries"`
	Processes int      `json:"processes" jsonschema:"running processes whose TLS calls are hooked"`
	// Events and Bytes are the plaintext captured.
	Events uint64 `json:"events"`
	Bytes  uint64 `json:"bytes"`
	// Lost is plaintext events the kernel could not queue (ring buffer
	// full); Truncated bytes beyond what one call keeps; NoSocket calls
	// whose connection was not found.
	Lost      uint64 `json:"lost" jsonschema:"plaintext events lost because the kernel's ring buffer was full"`
	Truncated uint64 `json:"truncated_bytes"`
	NoSocket  uint64 `json:"no_socket"`
	// Errors are the files that could not be hooked, "cannot hook X: why".
	Errors []string `json:"errors,omitempty"`
}

// PacketBounds is what a packet log holds.
type PacketBounds struct {
	Oldest, Newest time.Time
	Count, Bytes   int64
}

// Options configures a Server.
type Options struct {
	// Store is the record and flow store the tools read. Set Store or
	// Handle.
	Store *storage.Store
	// Handle, instead of Store, opens the store for each call and lets it
	// close when idle, so that a long-lived server does not lock imports
	// out of the directory.
	Handle *storage.Handle
	// Reader, instead of Store or Handle, is a store that spans the nodes
	// of a cluster (a *fanout.Cluster): every answer then says, in
	// workers, which nodes answered, and in partial which did not.
	// Snapshots and the live capture's status are per node and not
	// available through it.
	Reader Reader
	// Dissectors are the loaded dissectors; their manifests declare the
	// KFL fields.
	Dissectors []Dissector
	// StoredManifests are the manifests of dissectors that are not loaded
	// (a removed plugin) but whose records are stored: their fields stay
	// in the filter language.
	StoredManifests []sdk.Manifest
	// Packets reports what the raw packet log holds; nil when there is
	// none.
	Packets PacketLog
	// Capture is the live capture feeding the store, nil when there is
	// none.
	Capture LiveCapture
	// Snapshots manages snapshots; nil makes the snapshot tools say they
	// are not available.
	Snapshots *snapshot.Manager
	// Dissect runs the dissectors not named in disabled ("*" names them
	// all) over src into dst: the import pipeline.
	// start_snapshot_dissection runs it in the background over a
	// snapshot's packets; nil makes that tool say it is not available.
	Dissect func(ctx context.Context, src capture.Source, dst *storage.Store, disabled []string) error
	// ExportDir is where export_snapshot_pcap writes files.
	ExportDir string
	// PublicURL is the hub's base URL, for download links; empty outside a
	// hub.
	PublicURL string
	// AllowDestructive enables the tools that change state
	// (enable_dissection, disable_dissection).
	AllowDestructive bool
	// Version is reported to clients.
	Version string
	// MaxResultBytes caps the JSON of one answer (the structured content,
	// which the text content repeats); 0 means 256 KiB.
	MaxResultBytes int
	// Now is the clock for relative times ("-15m"); nil uses time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Server holds the tools, resources and prompts over one store.
type Server struct {
	opts Options
	// set is the dissectors and the filter language over their fields,
	// replaced together by SetDissectors.
	set   atomic.Pointer[dissectorSet]
	tools map[string]tool
	order []string
	mcp   *server.MCPServer
	log   *slog.Logger
	// templates remembers the endpoint templates learned for the calls
	// tools until the stored data changes.
	templates analysis.TemplateMemo
}

// New builds the server. It fails when the dissectors' manifests declare
// fields the filter language cannot take.
func New(opts Options) (*Server, error) {
	if opts.Store == nil && opts.Handle == nil && opts.Reader == nil {
		return nil, errors.New("mcp: Options.Store, Options.Handle or Options.Reader is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.MaxResultBytes <= 0 {
		opts.MaxResultBytes = maxResultBytes
	}
	if opts.ExportDir == "" {
		opts.ExportDir = os.TempDir()
	}
	// export_snapshot_pcap hands out this path; relative to where the
	// server started it means nothing to the assistant or user reading it.
	abs, err := filepath.Abs(opts.ExportDir)
	if err != nil {
		return nil, fmt.Errorf("mcp: export directory %q: %w", opts.ExportDir, err)
	}
	opts.ExportDir = abs
	s := &Server{opts: opts, tools: map[string]tool{}, log: opts.Logger}
	if err := s.SetDissectors(opts.Dissectors, opts.StoredManifests); err != nil {
		return nil, err
	}
	for _, t := range s.allTools() {
		s.tools[t.def.Name] = t
		s.order = append(s.order, t.def.Name)
	}
	s.mcp = s.newMCPServer(func(t tool) server.ToolHandlerFunc { return s.handle(t) }, func(ctx context.Context, uri string) ([]mcpgo.ResourceContents, error) {
		ctx, release, err := s.withStore(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
		return s.readResource(ctx, uri)
	})
	return s, nil
}

// dissectorSet is one generation of the server's dissectors.
type dissectorSet struct {
	ds  []Dissector
	kfl *kfl.Env
}

// SetDissectors replaces the loaded dissectors and the stored manifests
// (see Options), and with them the filter language's fields, while the
// server serves: a plugin installed into a running tap or hub shows in
// list_dissectors and kubeshark://dissectors, and its fields filter, from
// the next call. A set whose fields the filter language cannot take is
// refused and the old one kept.
func (s *Server) SetDissectors(ds []Dissector, stored []sdk.Manifest) error {
	manifests := make([]sdk.Manifest, 0, len(ds)+len(stored))
	for _, d := range ds {
		manifests = append(manifests, d.Manifest)
	}
	manifests = append(manifests, stored...)
	env, err := kfl.NewEnv(manifests)
	if err != nil {
		return fmt.Errorf("mcp: filter language over the dissectors' fields: %w", err)
	}
	s.set.Store(&dissectorSet{ds: slices.Clone(ds), kfl: env})
	return nil
}

// dissectors returns the current dissectors.
func (s *Server) dissectors() []Dissector { return s.set.Load().ds }

// kfl returns the filter language over the current dissectors' fields.
func (s *Server) kfl() *kfl.Env { return s.set.Load().kfl }

// Tools returns the advertised tool definitions in registration order.
func (s *Server) Tools() []mcpgo.Tool {
	out := make([]mcpgo.Tool, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, s.tools[n].def)
	}
	return out
}

// Call runs one tool with JSON arguments and returns its structured result
// and its text: a summary line followed by the same result as JSON, both
// cut to Options.MaxResultBytes the same way. The hub's JSON API uses it,
// so both surfaces give the same answers. Errors wrap ErrBadArgument, ErrDestructive,
// kfl.ErrBadFilter or storage.ErrNotFound where those apply.
func (s *Server) Call(ctx context.Context, name string, args json.RawMessage) (any, string, error) {
	t, ok := s.tools[name]
	if !ok {
		names := append([]string(nil), s.order...)
		sort.Strings(names)
		return nil, "", fmt.Errorf("%w: unknown tool %q; tools: %v", ErrBadArgument, name, names)
	}
	if t.destructive && !s.opts.AllowDestructive {
		return nil, "", fmt.Errorf("%s: %w; start the server with --allow-destructive", name, ErrDestructive)
	}
	ctx, release, err := s.withStore(ctx)
	if err != nil {
		return nil, "", err
	}
	defer release()
	ctx, rs := withResolutions(ctx)
	ctx, nodes := fanout.Track(ctx)
	res, summary, err := t.run(ctx, args)
	if err != nil {
		if w := nodes.Warning(); w != "" && !strings.Contains(err.Error(), "did not answer") {
			return nil, "", fmt.Errorf("%w (partial: %s)", err, w)
		}
		return nil, "", err
	}
	res, data, cut, err := fitResult(res, s.opts.MaxResultBytes)
	if err != nil {
		return nil, "", fmt.Errorf("%s: encoding the answer: %w", name, err)
	}
	if ns := nodes.Nodes(); ns != nil {
		if res, summary, err = attachWorkers(res, summary, ns); err != nil {
			return nil, "", fmt.Errorf("%s: encoding the answer: %w", name, err)
		}
		if data, err = marshalCompact(res); err != nil {
			return nil, "", fmt.Errorf("%s: encoding the answer: %w", name, err)
		}
	}
	if note := rs.note(); note != "" {
		// The note goes on the summary line, so the text stays a summary
		// line and then the JSON of the structured result.
		if res, _, err = rs.attach(res, ""); err != nil {
			return nil, "", fmt.Errorf("%s: encoding the answer: %w", name, err)
		}
		if data, err = marshalCompact(res); err != nil {
			return nil, "", fmt.Errorf("%s: encoding the answer: %w", name, err)
		}
		line, _, _ := strings.Cut(strings.TrimSpace(summary), "\n")
		summary = strings.TrimSuffix(strings.TrimSpace(line), ":") + " (note: " + note + ")"
	}
	return res, renderText(summary, data, cut, s.opts.MaxResultBytes), nil
}

type storeKey struct{}

// withStore makes the live store available to one call: the fixed one, or
// the handle's, held until release.
func (s *Server) withStore(ctx context.Context) (context.Context, func(), error) {
	if s.opts.Handle == nil {
		return ctx, func() {}, nil
	}
	st, release, err := s.opts.Handle.Acquire(ctx)
	if err != nil {
		return ctx, nil, err
	}
	return context.WithValue(ctx, storeKey{}, st), release, nil
}

// live returns the live store of the call in ctx.
func (s *Server) live(ctx context.Context) Reader {
	if st, ok := ctx.Value(storeKey{}).(*storage.Store); ok {
		return st
	}
	if s.opts.Reader != nil {
		return s.opts.Reader
	}
	return s.opts.Store
}

// AcquireStore returns the server's own store for one use and the
// function that releases it: a worker serves the hub's queries from it. A
// server that reads a cluster (Options.Reader) has none.
func (s *Server) AcquireStore(ctx context.Context) (*storage.Store, func(), error) {
	switch {
	case s.opts.Handle != nil:
		return s.opts.Handle.Acquire(ctx)
	case s.opts.Store != nil:
		return s.opts.Store, func() {}, nil
	}
	return nil, nil, errors.New("this server holds no store of its own: it reads the workers' stores")
}

// CompileKFL compiles a KFL filter with the server's dissector fields: a
// worker compiles the filters the hub sends it with this.
func (s *Server) CompileKFL(expr string) (storage.Matcher, error) {
	return s.kfl().Compile(expr)
}

// handle adapts a tool to mcp-go. Failures become tool errors (isError with
// a message the model can act on), never protocol errors, as the MCP
// specification asks of tool execution errors.
func (s *Server) handle(t tool) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
		raw, err := json.Marshal(req.Params.Arguments)
		if err != nil {
			return mcpgo.NewToolResultError("arguments are not JSON: " + err.Error()), nil
		}
		start := time.Now()
		res, text, err := s.Call(ctx, t.def.Name, raw)
		s.log.Debug("tool call", "tool", t.def.Name, "took", time.Since(start), "err", err)
		if err != nil {
			return mcpgo.NewToolResultError(err.Error()), nil
		}
		return mcpgo.NewToolResultStructured(res, text), nil
	}
}

const instructions = `Every tool answers with a summary line followed by the full result as JSON (the same data as structuredContent).
kubeshark holds API calls (HTTP, gRPC, DNS, Redis, PostgreSQL, MySQL, Kafka, AMQP, MongoDB, MQTT, TLS, WebSocket) and L4 flows dissected from captured traffic.
Start with get_data_boundaries to learn the time range held, then narrow with start/end (RFC 3339, a date, "-15m", "2h ago", "1d", or a time of day such as "14:05" on the day of the newest data; an answer that used a time of day says which day in resolved_times, and warns when the data spans several days).
Filters use KFL (read the kubeshark://kfl resource): e.g. http && status_code >= 500, dns && dns_questions.exists(q, q.contains("svc")). status_code is each protocol's own number (MySQL error 1045 is >= 500 too): pair it with a protocol, and use failed for errors of any protocol.
For "what broke": find_anomalies (baseline vs incident window), then list_api_calls with a KFL filter, then get_api_call for payloads and get_tcp_insights for the connection.`

// newMCPServer builds the mcp-go server with the given tool handler
// factory and resource reader, so that a remote server can register the
// same definitions with forwarding handlers.
func (s *Server) newMCPServer(handler func(tool) server.ToolHandlerFunc, read resourceReader) *server.MCPServer {
	ra := &readAhead{read: read, done: map[string][]mcpgo.ResourceContents{}}
	m := server.NewMCPServer("kubeshark", s.opts.Version,
		server.WithHooks(ra.hooks()),
		server.WithToolCapabilities(false),
		server.WithResourceCapabilities(false, false),
		server.WithPromptCapabilities(false),
		server.WithInstructions(instructions),
		server.WithRecovery(),
	)
	for _, n := range s.order {
		t := s.tools[n]
		m.AddTool(t.def, handler(t))
	}
	s.addResources(m, ra)
	s.addPrompts(m)
	return m
}

// MCPServer returns the underlying mcp-go server.
func (s *Server) MCPServer() *server.MCPServer { return s.mcp }

// ServeStdio serves MCP over in and out until in ends or ctx is done.
// Nothing but protocol messages is written to out; diagnostics go to the
// logger.
func ServeStdio(ctx context.Context, m *server.MCPServer, in io.Reader, out io.Writer, logger *slog.Logger) error {
	std := server.NewStdioServer(m)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	std.SetErrorLogger(log.New(slogWriter{logger}, "", 0))
	err := std.Listen(ctx, in, out)
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, io.EOF)) {
		return nil
	}
	return err
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("mcp stdio", "msg", string(p))
	return len(p), nil
}

// HTTPHandler serves MCP over Streamable HTTP at path (e.g. "/mcp").
// Authentication is the caller's concern (the hub wraps it).
func HTTPHandler(m *server.MCPServer, path string) http.Handler {
	return server.NewStreamableHTTPServer(m, server.WithEndpointPath(path), server.WithStateLess(true))
}
