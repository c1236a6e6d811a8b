package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	release "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InstallOptions adjusts Install.
type InstallOptions struct {
	// Values override the chart's values.yaml (see ParseSet).
	Values map[string]any
	// Wait, when positive, waits this long for the hub and the workers to
	// be ready; 0 returns once the objects are accepted.
	Wait time.Duration
}

// Result is what Install did.
type Result struct {
	Release, Namespace string
	// Revision is the release's revision: 1 after an install, one more
	// after each upgrade.
	Revision int
	// Upgraded is true when the release existed and was upgraded.
	Upgraded bool
	// CreatedNamespace is true when the namespace did not exist.
	CreatedNamespace bool
	// Notes are the chart's NOTES.txt, rendered.
	Notes string
}

// Install installs the chart as the target's release, or upgrades the
// release when it exists (helm upgrade --install). A namespace it creates
// is labelled so that Clean deletes it again; one that existed is left.
func Install(ctx context.Context, t Target, o InstallOptions) (Result, error) {
	t = t.withDefaults()
	c, err := t.clients()
	if err != nil {
		return Result{}, err
	}
	res := Result{Release: t.Release, Namespace: t.Namespace}
	created, err := ensureNamespace(ctx, c, t.Namespace)
	if err != nil {
		return Result{}, err
	}
	res.CreatedNamespace = created
	ch, err := LoadChart()
	if err != nil {
		return Result{}, err
	}
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(t.Logger.Handler()))
	if err := cfg.Init(t.getter(), t.Namespace, "secret"); err != nil {
		return Result{}, fmt.Errorf("helm: %w", err)
	}
	wait, timeout := kube.HookOnlyStrategy, 5*time.Minute
	if o.Wait > 0 {
		wait, timeout = kube.StatusWatcherStrategy, o.Wait
	}
	vals := o.Values
	if vals == nil {
		vals = map[string]any{}
	}
	hist := action.NewHistory(cfg)
	hist.Max = 1
	var rel any
	switch _, err := hist.Run(t.Release); {
	case errors.Is(err, driver.ErrReleaseNotFound):
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace = t.Release, t.Namespace
		in.WaitStrategy, in.Timeout = wait, timeout
		in.Description = "kubeshark tap --cluster"
		rel, err = in.RunWithContext(ctx, ch, vals)
		if err != nil {
			return res, fmt.Errorf("installing release %s in namespace %s: %w", t.Release, t.Namespace, err)
		}
	case err != nil:
		return res, fmt.Errorf("reading the history of release %s in namespace %s: %w", t.Release, t.Namespace, err)
	default:
		up := action.NewUpgrade(cfg)
		up.Namespace = t.Namespace
		up.WaitStrategy, up.Timeout = wait, timeout
		up.Description = "kubeshark tap --cluster"
		// --set on an upgrade means what it says on top of the chart's
		// defaults, as on an install: nothing carried over silently.
		up.ResetValues = true
		rel, err = up.RunWithContext(ctx, t.Release, ch, vals)
		if err != nil {
			return res, fmt.Errorf("upgrading release %s in namespace %s: %w", t.Release, t.Namespace, err)
		}
		res.Upgraded = true
	}
	r, ok := rel.(*release.Release)
	if !ok {
		return res, fmt.Errorf("helm returned a release of type %T", rel)
	}
	res.Revision = r.Version
	res.Notes = r.Info.Notes
	return res, nil
}

// ensureNamespace creates the namespace when it is missing, labelled as
// ours, and says whether it did.
func ensureNamespace(ctx context.Context, c clients, name string) (bool, error) {
	_, err := c.typed.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return false, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("reading namespace %s: %w", name, err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   name,
		Labels: map[string]string{labelManagedBy: managerKubeshark, labelPartOf: "kubeshark"},
	}}
	if _, err := c.typed.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return false, fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return true, nil
}
