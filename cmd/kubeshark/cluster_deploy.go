package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kubeshark-wasm/kubeshark/deploy"
)

// clusterOpts are the flags that point tap --cluster, clean and proxy at a
// cluster and a release.
type clusterOpts struct {
	cluster   bool
	namespace string
	release   string
	sets      []string
	wait      time.Duration
	// kubeconfig and context are read from the command's flags at run
	// time: tap may already define them (workload context).
	flags *pflag.FlagSet
}

// addTargetFlags adds --namespace, --release and, unless the command has
// them already, --kubeconfig and --context.
func (o *clusterOpts) addTargetFlags(f *pflag.FlagSet) {
	o.flags = f
	f.StringVarP(&o.namespace, "namespace", "n", deploy.DefaultNamespace, "namespace of the in-cluster deployment (created when missing)")
	f.StringVar(&o.release, "release", deploy.DefaultRelease, "Helm release name of the deployment")
	if f.Lookup("kubeconfig") == nil {
		f.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	}
	if f.Lookup("context") == nil {
		f.String("context", "", "kubeconfig context (default: the file's current context)")
	}
}

func (o *clusterOpts) target(logger *slog.Logger) deploy.Target {
	get := func(name string) string {
		if fl := o.flags.Lookup(name); fl != nil {
			return fl.Value.String()
		}
		return ""
	}
	return deploy.Target{Kubeconfig: get("kubeconfig"), Context: get("context"), Namespace: o.namespace, Release: o.release, Logger: logger}
}

// addClusterTapFlags adds tap's --cluster and its companions.
func addClusterTapFlags(cmd *cobra.Command) *clusterOpts {
	o := &clusterOpts{}
	f := cmd.Flags()
	f.BoolVar(&o.cluster, "cluster", false, "install (or upgrade) kubeshark in the cluster instead of capturing here: the hub and a worker on every node (Helm chart; see kubeshark clean, kubeshark proxy)")
	f.StringArrayVar(&o.sets, "set", nil, "with --cluster: a chart value, key=value as helm --set takes it (e.g. worker.privileged=true); repeatable")
	f.DurationVar(&o.wait, "wait", 0, "with --cluster: wait this long for the hub and the workers to be ready (0: return once installed)")
	o.addTargetFlags(f)
	return o
}

// clusterOnly are tap's flags that mean something only with --cluster;
// localOnly those that mean something only without it.
var (
	clusterOnly = []string{"set", "wait", "namespace", "release"}
	localOnly   = []string{"interface", "duration", "hub-addr", "no-hub", "dissector", "workers", "packets-size", "snaplen", "ring-size", "no-status"}
)

// runTapCluster installs or upgrades the chart. tap's --filter and --tls
// become the workers' values; local-only flags are refused rather than
// ignored.
func runTapCluster(ctx context.Context, g *globals, o *clusterOpts, cmd *cobra.Command) error {
	f := cmd.Flags()
	for _, name := range localOnly {
		if f.Changed(name) {
			return fmt.Errorf("--%s applies to capture on this machine, not to --cluster (set the workers' flags with --set worker.extraArgs={--%s=...})", name, name)
		}
	}
	vals, err := deploy.ParseSet(o.sets)
	if err != nil {
		return err
	}
	worker, _ := vals["worker"].(map[string]any)
	if worker == nil {
		worker = map[string]any{}
	}
	if f.Changed("filter") {
		worker["filter"] = f.Lookup("filter").Value.String()
	}
	if f.Changed("tls") {
		worker["tls"] = f.Lookup("tls").Value.String() == "true"
	}
	if len(worker) > 0 {
		vals["worker"] = worker
	}
	t := o.target(g.logger())
	out := cmd.ErrOrStderr()
	res, err := deploy.Install(ctx, t, deploy.InstallOptions{Values: vals, Wait: o.wait})
	if err != nil {
		return err
	}
	if res.CreatedNamespace {
		fmt.Fprintf(out, "created namespace %s\n", res.Namespace)
	}
	verb := "installed"
	if res.Upgraded {
		verb = "upgraded"
	}
	fmt.Fprintf(out, "%s release %s in namespace %s (revision %d)\n", verb, res.Release, res.Namespace, res.Revision)
	if res.Notes != "" {
		fmt.Fprintln(out, strings.TrimRight(res.Notes, "\n"))
	}
	return nil
}

func newCleanCmd(g *globals) *cobra.Command {
	o := &clusterOpts{}
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Remove kubeshark from the cluster: the release and everything it created",
		Long: `Uninstalls the Helm release kubeshark tap --cluster made, then deletes what
still carries its labels (cluster-scoped ClusterRoles and bindings, pods,
objects an earlier failed install left behind), Helm's release records, and
the namespace when tap --cluster created it. The workers' hostPath stores
(worker.storage.hostPath on each node) stay: they are data, not objects.

  kubeshark clean
  kubeshark clean --namespace obs --context prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := deploy.Clean(cmd.Context(), o.target(g.logger()))
			// A failure before anything was done is said once, by the error.
			if err == nil || res.Uninstalled || len(res.Deleted) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "kubeshark clean (release %s, namespace %s): %s\n", o.release, o.namespace, res)
			}
			return err
		},
	}
	o.addTargetFlags(cmd.Flags())
	return cmd
}

func newProxyCmd(g *globals) *cobra.Command {
	o := &clusterOpts{}
	var addr string
	var port int
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Serve the in-cluster hub on 127.0.0.1 through the Kubernetes API server",
		Long: `Serves the hub that kubeshark tap --cluster installed on 127.0.0.1:8898
(--port), through the API server's service proxy with your kubeconfig's
credentials, or a port-forward to the hub's pod when the service proxy is
refused. The JSON API, MCP (/mcp) and /healthz work as on a local hub.

Requests are authenticated for you with a short-lived token of the chart's
client ServiceAccount (audience kubeshark; renewed before it expires) when
your account may request one; a request that brings its own
Authorization: Bearer <token> keeps it. Anyone who can reach 127.0.0.1 on
this machine can use the port while it runs, as with kubectl proxy.

  kubeshark proxy
  curl http://127.0.0.1:8898/api/calls`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runProxy(ctx, g, o, net.JoinHostPort(addr, fmt.Sprint(port)), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().IntVar(&port, "port", 8898, "local port (0: any free port)")
	cmd.Flags().StringVar(&addr, "address", "127.0.0.1", "local address to listen on")
	o.addTargetFlags(cmd.Flags())
	return cmd
}

func runProxy(ctx context.Context, g *globals, o *clusterOpts, addr string, out io.Writer) error {
	p, err := deploy.NewProxy(ctx, o.target(g.logger()))
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	defer p.Close()
	if p.Warning != "" {
		fmt.Fprintf(out, "warning: %s\n", p.Warning)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("proxy: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "serving the hub of namespace %s (%s) on http://%s\n", o.namespace, p.Via, ln.Addr())
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
