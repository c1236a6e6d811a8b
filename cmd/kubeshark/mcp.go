package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/server"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kubeshark-wasm/kubeshark/kube/hubproxy"
	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/packetlog"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/snapshot"
)

type mcpOptions struct {
	url, token       string
	proxy            bool
	kube             hubproxy.Options
	listTools        bool
	allowDestructive bool
	dissectors       []string
}

func newMCPCmd(g *globals) *cobra.Command {
	var o mcpOptions
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve the store to an AI assistant over MCP (stdio)",
		Long: `Serve kubeshark's MCP tools, resources and prompts over stdio, for Claude Code, Claude Desktop, Cursor or VS Code:

  claude mcp add kubeshark -- kubeshark mcp

With no flags it serves the local store (--data). With --url it serves over
stdio what the hub at that URL serves (kubeshark hub; token from
kubeshark hub token): it says on stderr at start whether the hub is
reachable and accepts the token, lists the tools either way, and each tool
call tries the hub again, so a hub started later needs no restart here.

With --proxy it serves what the in-cluster hub serves (kubeshark tap
--cluster), reached through the Kubernetes API server's service proxy with
your kubeconfig (--kubeconfig, --context; the hub in --namespace), or
through a port-forward to the hub pod when the service proxy is refused.
It authenticates with a short-lived token of the ServiceAccount
kubeshark-mcp-client (audience "kubeshark", renewed before it expires), so
you need RBAC create on serviceaccounts/token for that ServiceAccount and
get on services/proxy for the kubeshark-hub Service (the chart's
kubeshark-mcp-user Role grants both). A tool call that cannot reach the hub
says what failed (no kubeconfig, API server unreachable, no hub installed,
forbidden and the missing permission, hub not ready, token rejected).

  claude mcp add kubeshark -- kubeshark mcp --proxy --context prod

Nothing but MCP messages is written to stdout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.proxy && (o.url != "" || o.token != "" || o.listTools) {
				return errors.New("--proxy reaches the in-cluster hub through the Kubernetes API: it takes --kubeconfig, --context and --namespace, not --url, --token or --list-tools")
			}
			if !o.proxy && (o.kube.Kubeconfig != "" || o.kube.Context != "" || o.kube.Namespace != "") {
				return errors.New("--kubeconfig, --context and --namespace apply to --proxy")
			}
			if o.token == "" {
				o.token = os.Getenv("KUBESHARK_HUB_TOKEN")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runMCP(ctx, g, o, cmd)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "", "serve what the hub at this URL serves (e.g. http://127.0.0.1:8898)")
	f.StringVar(&o.token, "token", "", "the hub's bearer token (env KUBESHARK_HUB_TOKEN)")
	f.BoolVar(&o.proxy, "proxy", false, "serve what the in-cluster hub serves, reached through the Kubernetes API server")
	f.StringVar(&o.kube.Kubeconfig, "kubeconfig", "", "with --proxy: the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&o.kube.Context, "context", "", "with --proxy: the kubeconfig context (default: the current one)")
	f.StringVar(&o.kube.Namespace, "namespace", "", "with --proxy: the hub's namespace (default "+hubproxy.DefaultNamespace+")")
	f.BoolVar(&o.listTools, "list-tools", false, "print the tools with their whole descriptions (wrapped to the terminal, or 100 columns) and exit")
	f.BoolVar(&o.allowDestructive, "allow-destructive", false, "enable the tools that change state: enable_dissection, disable_dissection (snapshots and exports, which only add files, work without it)")
	f.StringArrayVar(&o.dissectors, "dissector", nil, "also load this dissector module (.wasm) so its fields work in filters; repeatable")
	return cmd
}

func runMCP(ctx context.Context, g *globals, o mcpOptions, cmd *cobra.Command) error {
	var m *server.MCPServer
	if o.proxy {
		r, err := proxyMCPServer(ctx, g, o.kube, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		return mcp.ServeStdio(ctx, r, os.Stdin, cmd.OutOrStdout(), g.logger())
	}
	if o.url == "" && !o.listTools {
		// A tap capturing into this data directory holds the store;
		// serve what its hub serves.
		if url := runningTap(g.dataDir); url != "" {
			o.url = url
			if o.token == "" {
				tok, err := hub.LoadToken(g.dataDir)
				if err != nil {
					return fmt.Errorf("a tap is capturing into %s, but its hub token is unreadable: %w", g.dataDir, err)
				}
				o.token = tok
			}
			g.logger().Info("serving the running tap's hub", "url", url)
		}
	}
	if o.url != "" {
		if o.listTools {
			return errors.New("--list-tools lists the tools every server offers; run it without --url")
		}
		ro := mcp.RemoteOptions{URL: o.url, Token: o.token, Version: version, Logger: g.logger()}
		r, err := mcp.NewRemote(ro)
		if err != nil {
			return err
		}
		m = r
		// An assistant shows nothing of a server's start, so say on
		// stderr (which MCP clients log) whether the hub answers; serve
		// the tools either way, each call trying the hub again.
		if err := mcp.CheckHub(ctx, ro); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "kubeshark mcp: %v\nkubeshark mcp: serving the tools anyway\n", err)
		} else {
			fmt.Fprintf(cmd.ErrOrStderr(), "kubeshark mcp: hub %s is reachable and accepted the token; forwarding to it\n", strings.TrimRight(o.url, "/"))
		}
	} else {
		s, cleanup, err := localMCPServer(ctx, g, serverConfig{allowDestructive: o.allowDestructive, extra: o.dissectors, noStore: o.listTools, watch: !o.listTools})
		if err != nil {
			return err
		}
		defer cleanup()
		m = s.MCPServer()
		if o.listTools {
			return printTools(cmd, s)
		}
	}
	return mcp.ServeStdio(ctx, m, os.Stdin, cmd.OutOrStdout(), g.logger())
}

// printTools prints each tool's name and its whole description,
// word-wrapped to the terminal's width (100 columns when stdout is not a
// terminal) under a hanging indent.
func printTools(cmd *cobra.Command, s *mcp.Server) error {
	width := 100
	if f, ok := cmd.OutOrStdout().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			width = w
		}
	}
	tools := s.Tools()
	indent := 0
	for _, t := range tools {
		indent = max(indent, len(t.Name)+2)
	}
	// On a narrow terminal the names get lines of their own.
	ownLine := width-indent < 40
	if ownLine {
		indent = 4
	}
	var b strings.Builder
	for _, t := range tools {
		lines := wrapWords(t.Description, width-indent)
		if ownLine {
			b.WriteString(t.Name + "\n")
		} else {
			b.WriteString(t.Name + strings.Repeat(" ", indent-len(t.Name)) + lines[0] + "\n")
			lines = lines[1:]
		}
		for _, l := range lines {
			b.WriteString(strings.Repeat(" ", indent) + l + "\n")
		}
	}
	_, err := io.WriteString(cmd.OutOrStdout(), b.String())
	return err
}

// wrapWords breaks text into lines of at most width characters at spaces;
// a word longer than width gets a line of its own. It always returns at
// least one line.
func wrapWords(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		switch {
		case line == "":
			line = w
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	return append(lines, line)
}

// serverConfig is what differs between the MCP servers the commands run.
type serverConfig struct {
	allowDestructive bool
	extra            []string
	// noStore serves an empty in-memory store (for --list-tools).
	noStore bool
	// publicURL is the hub's address, for download links.
	publicURL string
	// store, when set, is an open store to serve (kubeshark tap's, which
	// holds it while capturing); the caller closes it.
	store *storage.Store
	// capture is tap's live capture, whose health the tools report.
	capture mcp.LiveCapture
	// reader, when set, is what the tools read instead of a local store:
	// the workers of a cluster (kubeshark hub --workers).
	reader mcp.Reader
	// watch follows the plugin store while the server runs: a plugin
	// installed, enabled, disabled or removed shows in the dissector
	// tools and the filter language without a restart.
	watch bool
}

// localMCPServer builds the tools over the local store, packet log and
// snapshots, creating an empty store when there is none yet so that an
// assistant can still connect and be told to import something.
func localMCPServer(ctx context.Context, g *globals, c serverConfig) (*mcp.Server, func(), error) {
	var st *storage.Store
	var handle *storage.Handle
	var stored []sdk.Manifest
	var err error
	owned := true
	if c.reader != nil {
		// The workers hold the data; this hub holds none.
	} else if c.store != nil {
		st, owned = c.store, false
	} else if c.noStore {
		// Listing tools needs no data, and must work while a hub holds
		// the store.
		st, err = storage.Open(ctx, storage.Options{InMemory: true, Logger: g.logger()})
		if err != nil {
			return nil, nil, err
		}
	} else {
		// Check once that the store opens (creating an empty one for a
		// new data directory), then hold it only while calls run, so
		// that `kubeshark import` can write between an assistant's
		// questions.
		// An assistant starting this server will not wait minutes for an
		// import to finish: if the store is busy, go on and let the first
		// call wait for it instead.
		first, err := storage.OpenWhenFree(ctx, storeOptions(g, storage.Options{}), 2*time.Second, nil)
		switch {
		case err == nil:
			if stored, err = storedManifests(ctx, first); err != nil {
				g.logger().Warn("reading the manifests of stored records", "err", err)
			}
			first.Close()
		case errors.Is(err, storage.ErrBusy):
			g.logger().Warn("the store is busy (an import?); tool calls will wait for it", "data", g.dataDir)
		default:
			return nil, nil, err
		}
		handle = storage.NewHandle(storeOptions(g, storage.Options{}), storeIdle, 5*time.Second)
	}
	closeStore := func() {
		if st != nil && owned {
			st.Close()
		}
		if handle != nil {
			handle.Close()
		}
	}
	l, err := loadDissectors(ctx, g, c.extra)
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	var ds []mcp.Dissector
	for _, m := range l.mods {
		ds = append(ds, mcp.Dissector{Manifest: m.Manifest(), Source: m.Source(), ABIVersion: sdk.ABIVersion})
	}
	// Fields of dissectors no longer loaded (a removed plugin) whose
	// records are still stored stay in the filter language.
	stored = slices.DeleteFunc(stored, func(m sdk.Manifest) bool {
		return slices.ContainsFunc(ds, func(d mcp.Dissector) bool { return d.Manifest.Name == m.Name })
	})
	// The manifests are all the server needs; the modules themselves are
	// not run here.
	gen := l.gen
	l.close(context.Background())
	opts := mcp.Options{Store: st, Handle: handle, Dissectors: ds, StoredManifests: stored, AllowDestructive: c.allowDestructive, Version: version, Logger: g.logger(),
		ExportDir: filepath.Join(g.dataDir, "exports"), PublicURL: c.publicURL, Capture: c.capture, Reader: c.reader}
	var snaps *snapshot.Manager
	if (!c.noStore || c.store != nil) && c.reader == nil {
		packets := packetlog.NewReader(filepath.Join(g.dataDir, "packets"), packetlog.Options{Logger: g.logger()})
		opts.Packets = packetBounds{packets}
		snaps, err = snapshot.Open(ctx, snapshot.Options{Dir: filepath.Join(g.dataDir, "snapshots"), Packets: packets, Logger: g.logger(), Prepare: storedHistory(g)})
		if err != nil {
			closeStore()
			return nil, nil, err
		}
		opts.Snapshots = snaps
		opts.Dissect = func(ctx context.Context, src capture.Source, dst *storage.Store, disabled []string) error {
			return dissectInto(ctx, g, c.extra, src, dst, disabled)
		}
	}
	s, err := mcp.New(opts)
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	stopWatch := func() {}
	if c.watch {
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		set := newServerSet(ds, stored)
		cur := ds
		go func() {
			defer close(done)
			watchPlugins(wctx, g, gen, func(ctx context.Context, _ string) error {
				next, err := set.apply(ctx, g, s, cur)
				if err == nil {
					g.logger().Info("plugin set changed", "dissectors", len(next))
				}
				cur = next
				return err
			})
		}()
		stopWatch = func() { cancel(); <-done }
	}
	return s, func() {
		stopWatch()
		if snaps != nil {
			snaps.Close()
		}
		closeStore()
	}, nil
}

// dissectInto runs the import pipeline over src into dst with the
// dissectors (built-in and extra) not in disabled: what
// start_snapshot_dissection runs in the background. The modules are loaded
// for the run and released after it, so a server that never dissects
// holds none.
func dissectInto(ctx context.Context, g *globals, extra []string, src capture.Source, dst *storage.Store, disabled []string) error {
	l, err := loadDissectors(ctx, g, extra)
	if err != nil {
		return err
	}
	defer l.close(context.Background())
	var engines []engine.Dissector
	for _, m := range l.mods {
		if name := m.Manifest().Name; !slices.Contains(disabled, "*") && !slices.Contains(disabled, name) {
			engines = append(engines, m)
		}
	}
	_, err = pipeline.New(pipeline.Config{Logger: g.logger(), NewID: storage.NewID}, engines, dst).Run(ctx, src)
	return err
}

// packetBounds adapts the packet log to what the tools read of it.
type packetBounds struct{ r *packetlog.Reader }

func (p packetBounds) Boundaries(ctx context.Context) (mcp.PacketBounds, error) {
	b, err := p.r.Boundaries(ctx)
	if err != nil {
		return mcp.PacketBounds{}, err
	}
	return mcp.PacketBounds{Oldest: b.Oldest, Newest: b.Newest, Count: b.Packets, Bytes: b.Bytes}, nil
}
