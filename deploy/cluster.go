package deploy

import (
	"fmt"
	"log/slog"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Target says which cluster, namespace and release a command works on.
type Target struct {
	// Kubeconfig is a kubeconfig file; empty: $KUBECONFIG or ~/.kube/config
	// (or the in-cluster config), as kubectl finds it.
	Kubeconfig string
	// Context is a context of the kubeconfig; empty: its current context.
	Context string
	// Namespace holds the release; empty: DefaultNamespace.
	Namespace string
	// Release is the Helm release name; empty: DefaultRelease.
	Release string
	// Logger receives Helm's and our progress; nil: discarded.
	Logger *slog.Logger
}

func (t Target) withDefaults() Target {
	if t.Namespace == "" {
		t.Namespace = DefaultNamespace
	}
	if t.Release == "" {
		t.Release = DefaultRelease
	}
	if t.Logger == nil {
		t.Logger = slog.New(slog.DiscardHandler)
	}
	return t
}

// getter is the RESTClientGetter Helm's actions take, built from the
// target as kubectl's flags would be.
func (t Target) getter() *genericclioptions.ConfigFlags {
	f := genericclioptions.NewConfigFlags(true)
	f.KubeConfig = &t.Kubeconfig
	f.Context = &t.Context
	f.Namespace = &t.Namespace
	return f
}

// RESTConfig is the client configuration of the target's cluster.
func (t Target) RESTConfig() (*rest.Config, error) {
	cfg, err := t.getter().ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

type clients struct {
	cfg     *rest.Config
	typed   kubernetes.Interface
	dynamic dynamic.Interface
}

func (t Target) clients() (clients, error) {
	cfg, err := t.RESTConfig()
	if err != nil {
		return clients{}, err
	}
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return clients{}, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return clients{}, fmt.Errorf("kubernetes client: %w", err)
	}
	return clients{cfg: cfg, typed: typed, dynamic: dyn}, nil
}

// Labels every object of a release carries (see the chart's _helpers.tpl);
// clean finds leftovers by them.
const (
	labelPartOf    = "app.kubernetes.io/part-of"
	labelInstance  = "app.kubernetes.io/instance"
	labelManagedBy = "app.kubernetes.io/managed-by"
	// labelReleaseNamespace is on the cluster-scoped objects, whose names
	// alone do not say which namespace's release made them.
	labelReleaseNamespace = "kubeshark.io/release-namespace"
	// managerKubeshark marks a namespace tap --cluster created, which
	// clean therefore deletes.
	managerKubeshark = "kubeshark"
)
