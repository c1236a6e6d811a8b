package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/storage/fanout"
)

func newHubCmd(g *globals) *cobra.Command {
	var addr string
	var allowDestructive bool
	var extra, workers []string
	var workerToken string
	cmd := &cobra.Command{
		Use:   "hub",
		Short: "Serve the store over HTTP: a JSON API and MCP (Streamable HTTP) at /mcp",
		Long: `Serve the store over HTTP on 127.0.0.1:8898 (--addr): the JSON API under /api
(calls, calls/{id}, stats, flows, flows/{id}, dissectors, service-map,
tools/{name}) and the MCP server at /mcp. Every request needs the bearer token,
generated on first start into the data directory (mode 0600) and printed by
kubeshark hub token.

Read-only by default: no tool changes or deletes what is stored or how
traffic is dissected. create_snapshot and export_snapshot_pcap only add
files (a snapshot under DATA/snapshots, a pcapng under DATA/exports).
--allow-destructive enables enable_dissection and disable_dissection, which
change what later imports dissect.

Retention limits saved by an import (--retention-age, --retention-size) are
applied once at startup, and what they dropped is printed.

In a cluster, every node runs a worker (kubeshark tap, or a hub over its own
store), and one hub started with --workers answers for all of them: each
query goes to every worker at once (the worker routes under /api/v1/worker/,
which every hub and tap serves behind its token), lists are merged in time
order with limits and cursors as on one store, and statistics are computed
from the merged records. Every answer lists the nodes in "workers"; when one
did not answer it says so in "partial" and on the summary line
("node b did not answer (...); results are from 2 of 3 nodes"). Workers take
the hub's token unless --worker-token-file gives theirs. Such a hub holds no
data itself: snapshots are made on the workers.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runHub(ctx, g, hubConfig{addr: addr, allowDestructive: allowDestructive, extra: extra, workers: workers, workerToken: workerToken}, cmd)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", hub.DefaultAddr, "listen address")
	cmd.Flags().BoolVar(&allowDestructive, "allow-destructive", false, "enable the tools that change state: enable_dissection, disable_dissection (snapshots and exports, which only add files, work without it)")
	cmd.Flags().StringArrayVar(&extra, "dissector", nil, "also load this dissector module (.wasm); repeatable")
	cmd.Flags().StringSliceVar(&workers, "workers", nil, "answer for these workers instead of a local store: base URLs of their hubs, each optionally NODE=URL, comma-separated or repeated")
	cmd.Flags().StringVar(&workerToken, "worker-token-file", "", "the workers' bearer token, in a file (default: this hub's token)")
	cmd.AddCommand(&cobra.Command{
		Use:   "token",
		Short: "Print the hub's bearer token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := hub.LoadToken(g.dataDir)
			if err != nil {
				return fmt.Errorf("%w (start `kubeshark hub` once to generate it)", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	})
	return cmd
}

// hubConfig is what kubeshark hub was asked to serve.
type hubConfig struct {
	addr             string
	allowDestructive bool
	extra            []string
	// workers, when given, makes the hub answer for them (fan-out).
	workers     []string
	workerToken string
}

func runHub(ctx context.Context, g *globals, hc hubConfig, cmd *cobra.Command) error {
	addr, allowDestructive, extra := hc.addr, hc.allowDestructive, hc.extra
	if len(hc.workers) > 0 {
		return runClusterHub(ctx, g, hc, cmd)
	}
	if url := runningTap(g.dataDir); url != "" {
		return fmt.Errorf("kubeshark tap is capturing into %s and already serves its hub on %s (token: kubeshark hub token)", g.dataDir, url)
	}
	// Listen first: the download links the tools hand out need the
	// real address (--addr 127.0.0.1:0 picks a free port).
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("hub: listen on %s: %w", addr, err)
	}
	defer ln.Close()
	// Limits saved by an import apply before anything is served.
	if err := applySavedRetention(ctx, g, cmd.ErrOrStderr()); err != nil {
		return err
	}
	s, cleanup, err := localMCPServer(ctx, g, serverConfig{allowDestructive: allowDestructive, extra: extra, publicURL: "http://" + ln.Addr().String()})
	if err != nil {
		return err
	}
	defer cleanup()
	// Only a hub that is about to serve makes a token: one that could not
	// listen or open its store leaves the data directory as it was.
	tok, created, err := hub.LoadOrCreateToken(g.dataDir)
	if err != nil {
		return err
	}
	wr, err := workerRoutes(g, s)
	if err != nil {
		return err
	}
	h, err := hub.Handler(hub.Options{Server: s, Token: tok, Worker: wr, Logger: g.logger()})
	if err != nil {
		return err
	}
	out := cmd.ErrOrStderr()
	fmt.Fprintf(out, "kubeshark hub serving %s on http://%s (JSON API under /api, MCP at /mcp)\n", g.dataDir, ln.Addr())
	return serveHub(ctx, ln, h, tok, created, allowDestructive, out)
}

// runClusterHub serves the workers' stores as one (fan-out).
func runClusterHub(ctx context.Context, g *globals, hc hubConfig, cmd *cobra.Command) error {
	ln, err := net.Listen("tcp", hc.addr)
	if err != nil {
		return fmt.Errorf("hub: listen on %s: %w", hc.addr, err)
	}
	defer ln.Close()
	ws, err := fanout.ParseWorkers(hc.workers)
	if err != nil {
		return fmt.Errorf("--workers: %w", err)
	}
	tok, created, err := hub.LoadOrCreateToken(g.dataDir)
	if err != nil {
		return err
	}
	cl, err := clusterReader(g, ws, hc.workerToken, tok)
	if err != nil {
		return err
	}
	s, cleanup, err := localMCPServer(ctx, g, serverConfig{allowDestructive: hc.allowDestructive, extra: hc.extra, publicURL: "http://" + ln.Addr().String(), reader: cl})
	if err != nil {
		return err
	}
	defer cleanup()
	h, err := hub.Handler(hub.Options{Server: s, Token: tok, Logger: g.logger()})
	if err != nil {
		return err
	}
	out := cmd.ErrOrStderr()
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.Node + "=" + w.URL
	}
	fmt.Fprintf(out, "kubeshark hub serving %d workers (%s) on http://%s (JSON API under /api, MCP at /mcp)\n", len(ws), strings.Join(names, ", "), ln.Addr())
	return serveHub(ctx, ln, h, tok, created, hc.allowDestructive, out)
}

// serveHub serves h on ln until ctx is done.
func serveHub(ctx context.Context, ln net.Listener, h http.Handler, tok string, created, allowDestructive bool, out io.Writer) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if created {
		fmt.Fprintf(out, "bearer token (shown once; `kubeshark hub token` prints it again):\n  %s\n", tok)
	}
	if allowDestructive {
		fmt.Fprintln(out, "destructive tools enabled")
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
