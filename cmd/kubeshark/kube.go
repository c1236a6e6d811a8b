package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeshark-wasm/kubeshark/kube"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// kubeOpts are the flags that point a command at a cluster for workload
// context.
type kubeOpts struct {
	// enabled: --kubernetes (tap, hub); import turns it on with --kubeconfig.
	enabled    bool
	kubeconfig string
	context    string
	// cgroupRoot is scanned for pods' cgroups (tap on a node).
	cgroupRoot string
}

func (k *kubeOpts) addFlags(f *pflag.FlagSet, withEnable bool) {
	if withEnable {
		f.BoolVar(&k.enabled, "kubernetes", false, "name pods, services, nodes and workloads from the cluster's API (in-cluster config, or --kubeconfig)")
	}
	f.StringVar(&k.kubeconfig, "kubeconfig", "", "kubeconfig file of the cluster whose workload names records get (the pods, services and nodes that held their addresses)")
	f.StringVar(&k.context, "context", "", "kubeconfig context (default: the file's current context)")
}

func (k *kubeOpts) on() bool { return k.enabled || k.kubeconfig != "" || k.context != "" }

// restConfig is the kubeconfig's (and context's), or the in-cluster
// config when no kubeconfig is named and the process runs in a pod.
func (k *kubeOpts) restConfig() (*rest.Config, string, error) {
	if k.kubeconfig == "" && k.context == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			return cfg, "in-cluster", nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if k.kubeconfig != "" {
		rules.ExplicitPath = k.kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: k.context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		where := "the default kubeconfig (KUBECONFIG or ~/.kube/config)"
		if k.kubeconfig != "" {
			where = k.kubeconfig
		}
		return nil, "", fmt.Errorf("kubernetes: no cluster from %s: %w", where, err)
	}
	raw, err := cc.RawConfig()
	name := k.context
	if err == nil && name == "" {
		name = raw.CurrentContext
	}
	return cfg, fmt.Sprintf("context %q (%s)", name, cfg.Host), nil
}

// startKube runs the informers into the workload history kept in st
// (loaded from it first, so the history goes on where it stopped), makes st
// resolve through it, and keeps it in g so that every later open of the
// store (a hub's on-demand opens) saves to and resolves from it. The
// returned function stops the informers and detaches the history.
func startKube(ctx context.Context, g *globals, k *kubeOpts, st *storage.Store, stderr io.Writer) (*kube.History, func(), error) {
	cfg, desc, err := k.restConfig()
	if err != nil {
		return nil, nil, err
	}
	cfg.UserAgent = "kubeshark/" + version
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes: %s: %w", desc, err)
	}
	h, err := kube.LoadHistory(ctx, st, g.logger())
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	w, err := kube.Watch(ctx, client, h, kube.WatchOptions{Logger: g.logger(), CgroupRoot: k.cgroupRoot})
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes: %s: %w", desc, err)
	}
	st.SetResolver(h)
	g.history.Store(h)
	fmt.Fprintf(stderr, "kubernetes: watching %s: %d address bindings known (listed in %s)\n", desc, h.Len(), time.Since(start).Round(time.Millisecond))
	if err := w.NamespacesErr(); err != nil {
		fmt.Fprintf(stderr, "kubernetes: namespaces are not watched, so records get no namespace labels beyond those already in the store's history (%v); grant list and watch on namespaces to have them\n", err)
	}
	return h, func() {
		w.Stop()
		g.history.Store(nil)
	}, nil
}

// attachHistory is every store's OnOpen: the live history when informers
// run in this process (saving what waited for the store), else the history
// the store holds, if any.
func attachHistory(g *globals) func(ctx context.Context, st *storage.Store) error {
	return func(ctx context.Context, st *storage.Store) error {
		if h := g.history.Load(); h != nil {
			st.SetResolver(h)
			if err := h.SetAux(ctx, st); err != nil {
				g.logger().Warn("saving the workload history", "err", err)
			}
			return nil
		}
		return storedHistory(g)(ctx, st)
	}
}

// storedHistory makes st resolve through the history it holds, if any (a
// data directory's store, a snapshot's).
func storedHistory(g *globals) func(ctx context.Context, st *storage.Store) error {
	return func(ctx context.Context, st *storage.Store) error {
		h, err := kube.LoadHistory(ctx, st, g.logger())
		if err != nil {
			return err
		}
		if h.Len() > 0 {
			st.SetResolver(h)
		}
		return nil
	}
}

// hubKube runs the informers for a hub, which holds its store only while
// calls run: the history saves into the store whenever it is open and keeps
// what it saw in between until then; the store is opened once more at the
// end to save the rest.
func hubKube(ctx context.Context, g *globals, k *kubeOpts, stderr io.Writer) (func(), error) {
	st, err := openStore(ctx, g, storage.Options{})
	if err != nil {
		return nil, err
	}
	h, stop, err := startKube(ctx, g, k, st, stderr)
	if err != nil {
		st.Close()
		return nil, err
	}
	h.SetAux(ctx, nil)
	st.Close()
	return func() {
		stop()
		if h.Pending() == 0 {
			return
		}
		st, err := openStore(context.WithoutCancel(ctx), g, storage.Options{})
		if err != nil {
			g.logger().Warn("saving the workload history", "err", err)
			return
		}
		defer st.Close()
		if err := h.SetAux(ctx, st); err != nil {
			g.logger().Warn("saving the workload history", "err", err)
		}
	}, nil
}

// reportResolution says how many of an imported file's records got
// workload names, and when the capture predates the history, that they
// were named from the cluster's state when the history began.
func reportResolution(ctx context.Context, w io.Writer, st *storage.Store, h *kube.History, file string, span timeSpan) {
	if span.n == 0 {
		return
	}
	var total, named int
	q := storage.Query{Since: span.first, Until: span.last.Add(time.Minute), Limit: 1000, SizesOnly: true}
	for {
		p, err := st.Query(ctx, q)
		if err != nil {
			return
		}
		for _, r := range p.Records {
			total++
			if r.Src.K8s != nil || r.Dst.K8s != nil {
				named++
			}
		}
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	fmt.Fprintf(w, "kubernetes: %d of %d records of %s have workload names\n", named, total, file)
	if since := h.Since(); !since.IsZero() && span.first.Before(since) {
		fmt.Fprintf(w, "kubernetes: the capture (from %s) predates what the cluster's history knows (from %s): its addresses are named by the state seen then, the best knowledge there is for an old capture\n",
			span.first.UTC().Format(time.RFC3339), since.UTC().Format(time.RFC3339))
	}
}

// cgroupV2Root is where the unified cgroup hierarchy is mounted:
// /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host.
func cgroupV2Root() string {
	for _, d := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(d, "cgroup.controllers")); err == nil {
			return d
		}
	}
	return ""
}
