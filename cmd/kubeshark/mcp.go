package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/runtime/packetlog"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/snapshot"
)

type mcpOptions struct {
	url, token       string
	proxy            bool
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
kubeshark hub token). Nothing but MCP messages is written to stdout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.proxy {
				return errors.New("--proxy (reaching an in-cluster hub through the Kubernetes API) is not available yet; run `kubeshark hub` where the data is and use --url and --token")
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
	f.BoolVar(&o.proxy, "proxy", false, "reach an in-cluster hub through the Kubernetes API (not available yet)")
	f.BoolVar(&o.listTools, "list-tools", false, "print the tools and exit")
	f.BoolVar(&o.allowDestructive, "allow-destructive", false, "enable tools that change state (enable_dissection, disable_dissection)")
	f.StringArrayVar(&o.dissectors, "dissector", nil, "also load this dissector module (.wasm) so its fields work in filters; repeatable")
	return cmd
}

func runMCP(ctx context.Context, g *globals, o mcpOptions, cmd *cobra.Command) error {
	var m *server.MCPServer
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
		r, err := mcp.NewRemote(mcp.RemoteOptions{URL: o.url, Token: o.token, Version: version, Logger: g.logger()})
		if err != nil {
			return err
		}
		m = r
	} else {
		s, cleanup, err := localMCPServer(ctx, g, serverConfig{allowDestructive: o.allowDestructive, extra: o.dissectors, noStore: o.listTools})
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

func printTools(cmd *cobra.Command, s *mcp.Server) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	for _, t := range s.Tools() {
		desc, _, _ := strings.Cut(t.Description, ". ")
		fmt.Fprintf(tw, "%s\t%s\n", t.Name, desc)
	}
	return tw.Flush()
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
}

// localMCPServer builds the tools over the local store, packet log and
// snapshots, creating an empty store when there is none yet so that an
// assistant can still connect and be told to import something.
func localMCPServer(ctx context.Context, g *globals, c serverConfig) (*mcp.Server, func(), error) {
	var st *storage.Store
	var handle *storage.Handle
	var err error
	owned := true
	if c.store != nil {
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
	// The manifests are all the server needs; the modules themselves are
	// not run here.
	l.close(context.Background())
	opts := mcp.Options{Store: st, Handle: handle, Dissectors: ds, AllowDestructive: c.allowDestructive, Version: version, Logger: g.logger(),
		ExportDir: filepath.Join(g.dataDir, "exports"), PublicURL: c.publicURL, Capture: c.capture}
	var snaps *snapshot.Manager
	if !c.noStore || c.store != nil {
		packets := packetlog.NewReader(filepath.Join(g.dataDir, "packets"), packetlog.Options{Logger: g.logger()})
		opts.Packets = packetBounds{packets}
		snaps, err = snapshot.Open(ctx, snapshot.Options{Dir: filepath.Join(g.dataDir, "snapshots"), Packets: packets, Logger: g.logger()})
		if err != nil {
			closeStore()
			return nil, nil, err
		}
		opts.Snapshots = snaps
	}
	s, err := mcp.New(opts)
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	return s, func() {
		if snaps != nil {
			snaps.Close()
		}
		closeStore()
	}, nil
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
