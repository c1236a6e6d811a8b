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

	"github.com/kubeshark-wasm/kubeshark/kube/discovery"
	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/storage/fanout"
)

func newHubCmd(g *globals) *cobra.Command {
	var addr string
	var allowDestructive bool
	var extra, workers []string
	var hc hubConfig
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
change what later imports dissect, and installing, enabling, disabling and
removing plugins through the hub (kubeshark plugin install SRC --url URL
--token T); the hub checks signatures with its own trust store.

Plugins installed, enabled, disabled or removed while the hub runs (through
it or by kubeshark plugin on the same data directory) show in
list_dissectors, kubeshark://dissectors and the filter language within a
second, without a restart.

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
data itself: snapshots are made on the workers.

In Kubernetes, --worker-pods finds the workers as the pods of the worker
DaemonSet (by label selector, in --worker-namespace, default this pod's own),
watched through the API server with the pod's ServiceAccount (which needs
get, list and watch on pods there) or a kubeconfig. A worker pod that is
pending or not ready is named in "partial" with the reason.

--auth kubernetes (the in-cluster hub) accepts Kubernetes ServiceAccount
tokens instead of the bearer token: each request carries one for the
audience "kubeshark" in X-Kubeshark-Token (or Authorization: Bearer), which
the hub checks with a TokenReview, and its ServiceAccount must be allowed
get on services/proxy kubeshark-hub:http (the hub's Service and port) in
--namespace, checked with a SubjectAccessReview. Results are reused for 30 s
(refusals 5 s). The hub reaches the API server with its in-cluster
ServiceAccount (which needs the system:auth-delegator ClusterRole) or
--kubeconfig. kubeshark mcp --proxy is the client. The workers keep their
bearer token (--worker-token-file).

--kubernetes (in a pod: the in-cluster config; else --kubeconfig/--context)
runs the cluster's informers: records and flows are named with pods,
services, nodes and workloads from a history kept with the store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			hc.addr, hc.allowDestructive, hc.extra, hc.workers = addr, allowDestructive, extra, workers
			return runHub(ctx, g, hc, cmd)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", hub.DefaultAddr, "listen address")
	cmd.Flags().BoolVar(&allowDestructive, "allow-destructive", false, "enable the tools and routes that change state: enable_dissection, disable_dissection, plugin install/enable/disable/remove through the hub (snapshots and exports, which only add files, work without it)")
	cmd.Flags().StringArrayVar(&extra, "dissector", nil, "also load this dissector module (.wasm); repeatable")
	cmd.Flags().StringSliceVar(&workers, "workers", nil, "answer for these workers instead of a local store: base URLs of their hubs, each optionally NODE=URL, comma-separated or repeated")
	cmd.Flags().StringVar(&hc.workerToken, "worker-token-file", "", "the workers' bearer token, in a file (default: this hub's token)")
	cmd.Flags().StringVar(&hc.workerPods, "worker-pods", "", "answer for the worker pods matching this label selector, watched through the Kubernetes API (alone: "+discovery.DefaultSelector+")")
	cmd.Flags().Lookup("worker-pods").NoOptDefVal = discovery.DefaultSelector
	cmd.Flags().StringVar(&hc.workerNamespace, "worker-namespace", "", "namespace of the worker pods (default: this pod's namespace, else kubeshark)")
	cmd.Flags().IntVar(&hc.workerPort, "worker-port", 8898, "port of the worker pods' hubs")
	cmd.Flags().BoolVar(&hc.kube.enabled, "kubernetes", false, "name pods, services, nodes and workloads from the cluster's API (in-cluster config, or --kubeconfig)")
	cmd.Flags().StringVar(&hc.auth.mode, "auth", "token", "how requests are authenticated: token (the hub's bearer token) or kubernetes (ServiceAccount tokens checked with TokenReview and RBAC)")
	cmd.Flags().StringVar(&hc.kubeconfig, "kubeconfig", "", "kubeconfig to reach the API server with, for --auth kubernetes and --worker-pods (default: the pod's in-cluster ServiceAccount, then $KUBECONFIG, ~/.kube/config)")
	cmd.Flags().StringVar(&hc.kubeContext, "context", "", "kubeconfig context, with --kubeconfig")
	cmd.Flags().StringVar(&hc.auth.namespace, "namespace", "", "with --auth kubernetes: the hub's namespace, where its Service is (default: $POD_NAMESPACE, the pod's own namespace, or kubeshark)")
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
	// workers or workerPods, when given, makes the hub answer for them
	// (fan-out): a list, or the pods matching a selector.
	workers                     []string
	workerToken                 string
	workerPods, workerNamespace string
	workerPort                  int
	kubeconfig, kubeContext     string
	// auth says how requests are authenticated (--auth); its kubeconfig
	// and context are the ones above.
	auth kubeAuthOptions
	// kube runs the informers that name records (--kubernetes); its
	// kubeconfig and context are the ones above.
	kube kubeOpts
}

// authorizer returns the hub's request check for --auth (nil for the
// bearer token) and a line saying what it does.
func (hc hubConfig) authorizer(g *globals) (func(*http.Request) error, string, error) {
	ka := hc.auth
	ka.kubeconfig, ka.context = hc.kubeconfig, hc.kubeContext
	return ka.authorizer(g.logger())
}

func runHub(ctx context.Context, g *globals, hc hubConfig, cmd *cobra.Command) error {
	addr, allowDestructive, extra := hc.addr, hc.allowDestructive, hc.extra
	// A wrong --auth is refused before anything is opened.
	authorize, authDesc, err := hc.authorizer(g)
	if err != nil {
		return err
	}
	if len(hc.workers) > 0 || hc.workerPods != "" {
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
	// Only --kubernetes starts the informers: --kubeconfig alone may be
	// there for --auth kubernetes or --worker-pods.
	if hc.kube.enabled {
		k := hc.kube
		k.kubeconfig, k.context = hc.kubeconfig, hc.kubeContext
		stopKube, err := hubKube(ctx, g, &k, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		defer stopKube()
	}
	s, cleanup, err := localMCPServer(ctx, g, serverConfig{allowDestructive: allowDestructive, extra: extra, publicURL: "http://" + ln.Addr().String(), watch: true})
	if err != nil {
		return err
	}
	defer cleanup()
	// Only a hub that is about to serve makes a token: one that could not
	// listen or open its store leaves the data directory as it was. A hub
	// that takes Kubernetes tokens makes none.
	var tok string
	var created bool
	if authorize == nil {
		tok, created, err = hub.LoadOrCreateToken(g.dataDir)
		if err != nil {
			return err
		}
	}
	wr, err := workerRoutes(g, s)
	if err != nil {
		return err
	}
	h, err := hub.Handler(hub.Options{Server: s, Token: tok, Authorize: authorize, Worker: wr, Logger: g.logger(), Plugins: &hubPlugins{g: g}, AllowDestructive: allowDestructive})
	if err != nil {
		return err
	}
	out := cmd.ErrOrStderr()
	if authDesc != "" {
		fmt.Fprintln(out, authDesc)
	}
	fmt.Fprintf(out, "kubeshark hub serving %s on http://%s (JSON API under /api, MCP at /mcp)\n", g.dataDir, ln.Addr())
	return serveHub(ctx, ln, h, tok, created, allowDestructive, out)
}

// runClusterHub serves the workers' stores as one (fan-out).
func runClusterHub(ctx context.Context, g *globals, hc hubConfig, cmd *cobra.Command) error {
	authorize, authDesc, err := hc.authorizer(g)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", hc.addr)
	if err != nil {
		return fmt.Errorf("hub: listen on %s: %w", hc.addr, err)
	}
	defer ln.Close()
	var d fanout.Discovery
	var from string
	switch {
	case len(hc.workers) > 0 && hc.workerPods != "":
		return errors.New("--workers and --worker-pods: give one of them")
	case hc.workerPods != "":
		if d, from, err = podDiscovery(ctx, g, hc); err != nil {
			return err
		}
	default:
		ws, err := fanout.ParseWorkers(hc.workers)
		if err != nil {
			return fmt.Errorf("--workers: %w", err)
		}
		names := make([]string, len(ws))
		for i, w := range ws {
			names[i] = w.Node + "=" + w.URL
		}
		d, from = ws, fmt.Sprintf("%d workers (%s)", len(ws), strings.Join(names, ", "))
	}
	tok, created, err := hub.LoadOrCreateToken(g.dataDir)
	if err != nil {
		return err
	}
	cl, err := clusterReader(g, d, hc.workerToken, tok)
	if err != nil {
		return err
	}
	defer cl.Close()
	s, cleanup, err := localMCPServer(ctx, g, serverConfig{allowDestructive: hc.allowDestructive, extra: hc.extra, publicURL: "http://" + ln.Addr().String(), reader: cl})
	if err != nil {
		return err
	}
	defer cleanup()
	// The hub's token stays what the workers take unless
	// --worker-token-file says otherwise; callers of a hub with --auth
	// kubernetes bring ServiceAccount tokens instead.
	h, err := hub.Handler(hub.Options{Server: s, Token: tok, Authorize: authorize, Logger: g.logger(),
		Plugins: &clusterPlugins{cl: cl}, AllowDestructive: hc.allowDestructive})
	if err != nil {
		return err
	}
	out := cmd.ErrOrStderr()
	if authDesc != "" {
		fmt.Fprintln(out, authDesc)
	}
	fmt.Fprintf(out, "kubeshark hub serving %s on http://%s (JSON API under /api, MCP at /mcp)\n", from, ln.Addr())
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
