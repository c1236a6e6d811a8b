package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
)

func newHubCmd(g *globals) *cobra.Command {
	var addr string
	var allowDestructive bool
	var extra []string
	var k kubeOpts
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

--kubernetes (in a pod: the in-cluster config; else --kubeconfig/--context)
runs the cluster's informers: records and flows are named with pods,
services, nodes and workloads from a history kept with the store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runHub(ctx, g, addr, allowDestructive, extra, &k, cmd)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", hub.DefaultAddr, "listen address")
	cmd.Flags().BoolVar(&allowDestructive, "allow-destructive", false, "enable the tools that change state: enable_dissection, disable_dissection (snapshots and exports, which only add files, work without it)")
	cmd.Flags().StringArrayVar(&extra, "dissector", nil, "also load this dissector module (.wasm); repeatable")
	k.addFlags(cmd.Flags(), true)
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

func runHub(ctx context.Context, g *globals, addr string, allowDestructive bool, extra []string, k *kubeOpts, cmd *cobra.Command) error {
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
	if k.on() {
		stopKube, err := hubKube(ctx, g, k, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		defer stopKube()
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
	h, err := hub.Handler(hub.Options{Server: s, Token: tok, Logger: g.logger()})
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	out := cmd.ErrOrStderr()
	fmt.Fprintf(out, "kubeshark hub serving %s on http://%s (JSON API under /api, MCP at /mcp)\n", g.dataDir, ln.Addr())
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
