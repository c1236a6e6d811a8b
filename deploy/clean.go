package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resource is a kind of object a release creates, directly (the chart) or
// through a controller (ReplicaSets, ControllerRevisions, pods), or that
// Helm keeps (its release Secrets).
type Resource struct {
	schema.GroupVersionResource
	Namespaced bool
}

// Resources lists every kind of object Clean looks for. Tests check that
// nothing of these is left.
var Resources = []Resource{
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, true},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, true},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, true},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "controllerrevisions"}, true},
	{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, true},
	{schema.GroupVersionResource{Version: "v1", Resource: "services"}, true},
	{schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, true},
	{schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, true},
	{schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, true},
	{schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}, true},
	{schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}, true},
	{schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}, true},
	{schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}, false},
	{schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}, false},
}

// Selector is the label selector of everything the target's release made.
func (t Target) Selector() string {
	t = t.withDefaults()
	return fmt.Sprintf("%s=kubeshark,%s=%s,%s=%s", labelPartOf, labelInstance, t.Release, labelReleaseNamespace, t.Namespace)
}

// HelmSelector selects the Secrets in which Helm keeps the release's
// revisions.
func (t Target) HelmSelector() string {
	t = t.withDefaults()
	return "owner=helm,name=" + t.Release
}

// CleanResult is what Clean removed.
type CleanResult struct {
	// Uninstalled is true when a Helm release was found and uninstalled.
	Uninstalled bool
	// Deleted names what the sweep after the uninstall deleted
	// ("clusterroles/kubeshark-ns-hub"): objects the release no longer
	// owned (an earlier failed install, a lost release record) or that
	// controllers made.
	Deleted []string
	// NamespaceDeleted is true when the namespace was deleted, because
	// tap --cluster had created it.
	NamespaceDeleted bool
}

// Clean uninstalls the target's release and then deletes everything that
// still carries its labels, cluster-scoped RBAC included, and Helm's
// release records; last, the namespace when tap --cluster created it. A
// target with nothing installed is not an error: there is nothing to do.
func Clean(ctx context.Context, t Target) (CleanResult, error) {
	t = t.withDefaults()
	c, err := t.clients()
	if err != nil {
		return CleanResult{}, err
	}
	var res CleanResult
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(t.Logger.Handler()))
	if err := cfg.Init(t.getter(), t.Namespace, "secret"); err != nil {
		return res, fmt.Errorf("helm: %w", err)
	}
	un := action.NewUninstall(cfg)
	un.WaitStrategy = kube.HookOnlyStrategy
	un.DeletionPropagation = "background"
	un.Timeout = 2 * time.Minute
	switch _, err := un.Run(t.Release); {
	case err == nil:
		res.Uninstalled = true
	case errors.Is(err, driver.ErrReleaseNotFound):
	default:
		// A half-broken release (say, a chart object deleted by hand) must
		// not keep the sweep from removing the rest.
		t.Logger.Warn("helm uninstall failed; deleting by label", "release", t.Release, "err", err)
	}
	background := metav1.DeletePropagationBackground
	del := metav1.DeleteOptions{PropagationPolicy: &background}
	var errs []error
	for _, r := range Resources {
		for _, sel := range []string{t.Selector(), t.HelmSelector()} {
			if sel == t.HelmSelector() && r.Resource != "secrets" {
				continue
			}
			ri := c.dynamic.Resource(r.GroupVersionResource)
			var list func(context.Context, metav1.ListOptions) ([]string, error)
			var remove func(context.Context, string) error
			if r.Namespaced {
				nri := ri.Namespace(t.Namespace)
				list = func(ctx context.Context, o metav1.ListOptions) ([]string, error) { return names(nri.List(ctx, o)) }
				remove = func(ctx context.Context, n string) error { return nri.Delete(ctx, n, del) }
			} else {
				list = func(ctx context.Context, o metav1.ListOptions) ([]string, error) { return names(ri.List(ctx, o)) }
				remove = func(ctx context.Context, n string) error { return ri.Delete(ctx, n, del) }
			}
			found, err := list(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				if apierrors.IsNotFound(err) { // the API group is not served
					continue
				}
				errs = append(errs, fmt.Errorf("listing %s: %w", r.Resource, err))
				continue
			}
			for _, n := range found {
				if err := remove(ctx, n); err != nil && !apierrors.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("deleting %s/%s: %w", r.Resource, n, err))
					continue
				}
				res.Deleted = append(res.Deleted, r.Resource+"/"+n)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	ns, err := c.typed.CoreV1().Namespaces().Get(ctx, t.Namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return res, fmt.Errorf("reading namespace %s: %w", t.Namespace, err)
	case ns.Labels[labelManagedBy] == managerKubeshark && ns.DeletionTimestamp == nil:
		if err := c.typed.CoreV1().Namespaces().Delete(ctx, t.Namespace, del); err != nil && !apierrors.IsNotFound(err) {
			return res, fmt.Errorf("deleting namespace %s: %w", t.Namespace, err)
		}
		res.NamespaceDeleted = true
	}
	return res, nil
}

func names(l *unstructured.UnstructuredList, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(l.Items))
	for _, it := range l.Items {
		out = append(out, it.GetName())
	}
	return out, nil
}

// String is a one-line account of a clean, for the CLI.
func (r CleanResult) String() string {
	var parts []string
	if r.Uninstalled {
		parts = append(parts, "release uninstalled")
	}
	if n := len(r.Deleted); n > 0 {
		parts = append(parts, fmt.Sprintf("%d leftover objects deleted (%s)", n, strings.Join(r.Deleted, ", ")))
	}
	if r.NamespaceDeleted {
		parts = append(parts, "namespace deleted")
	}
	if len(parts) == 0 {
		return "nothing to clean"
	}
	return strings.Join(parts, "; ")
}
