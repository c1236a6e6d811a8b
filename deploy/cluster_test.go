package deploy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/kubeshark-wasm/kubeshark/kube"
	"github.com/kubeshark-wasm/kubeshark/kube/kubetest"
)

// One API server for the package's cluster tests: starting one takes
// seconds, and each test uses its own namespace.
func startEnv(t *testing.T) (*kubetest.Env, Target) {
	t.Helper()
	env := kubetest.Start(t)
	return env, Target{Kubeconfig: env.Kubeconfig, Context: "kubetest"}
}

// TestChartDryRunStrict creates every object of the rendered chart with a
// server-side dry run and strict field validation: an unknown or
// misspelt field, a wrong type or an invalid value is an error from the
// real API server's schema, not a warning.
func TestChartDryRunStrict(t *testing.T) {
	env, _ := startEnv(t)
	ctx := context.Background()
	env.CreateNamespace(t, "dry", nil)
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(env.Client.Discovery()))
	pub, _ := genKey(t)
	key := strings.TrimSpace(pub[strings.Index(pub, "\n")+1:])
	for _, set := range [][]string{nil, {"worker.privileged=true", "worker.storage.type=emptyDir"}, {"plugins.trustedKeys={" + key + "}"}} {
		vals, err := ParseSet(set)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := Render("kubeshark", "dry", vals)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			gvk := o.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Fatalf("%s: %v", gvk, err)
			}
			ri := dyn.Resource(m.Resource)
			opts := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}
			if m.Scope.Name() == meta.RESTScopeNameNamespace {
				_, err = ri.Namespace(o.GetNamespace()).Create(ctx, o, opts)
			} else {
				_, err = ri.Create(ctx, o, opts)
			}
			if err != nil {
				t.Errorf("%v: dry-run create of %s/%s: %v", set, o.GetKind(), o.GetName(), err)
			}
		}
	}
	// A dry run stores nothing.
	if l, _ := env.Client.AppsV1().DaemonSets("dry").List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("dry run stored %d DaemonSets", len(l.Items))
	}
	// Strict validation is on: a field the schema does not know fails.
	bad, _ := Render("kubeshark", "dry", nil)
	svc := bad[slices.IndexFunc(bad, func(o *unstructured.Unstructured) bool { return o.GetKind() == "Service" })]
	svc.Object["spec"].(map[string]any)["prots"] = []any{}
	_, err = dyn.Resource(corev1.SchemeGroupVersion.WithResource("services")).Namespace("dry").Create(ctx, svc,
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
	if err == nil || !strings.Contains(err.Error(), "prots") {
		t.Errorf("a misspelt field passed strict validation: %v", err)
	}
}

// TestInstallUpgradeRBACClean installs the chart with the Helm library as
// tap --cluster does, upgrades it, checks what each ServiceAccount may do
// by impersonating it, and cleans up, leftovers included.
func TestInstallUpgradeRBACClean(t *testing.T) {
	env, tg := startEnv(t)
	ctx := context.Background()
	tg.Namespace = "ks"

	res, err := Install(ctx, tg, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision != 1 || res.Upgraded || !res.CreatedNamespace {
		t.Fatalf("first install: %+v", res)
	}
	if !strings.Contains(res.Notes, "kubeshark proxy --namespace ks") {
		t.Errorf("notes: %q", res.Notes)
	}
	ds, err := env.Client.AppsV1().DaemonSets("ks").Get(ctx, "kubeshark-worker", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := ds.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/kubeshark-wasm/kubeshark:0.1.0" {
		t.Errorf("image %s", img)
	}

	vals, _ := ParseSet([]string{"image.tag=v2", "worker.storage.type=emptyDir"})
	res, err = Install(ctx, tg, InstallOptions{Values: vals})
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision != 2 || !res.Upgraded || res.CreatedNamespace {
		t.Fatalf("second run: %+v", res)
	}
	ds, err = env.Client.AppsV1().DaemonSets("ks").Get(ctx, "kubeshark-worker", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := ds.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/kubeshark-wasm/kubeshark:v2" {
		t.Errorf("after upgrade, image %s", img)
	}
	if ds.Spec.Template.Spec.Volumes[0].EmptyDir == nil {
		t.Errorf("after upgrade, data volume %+v", ds.Spec.Template.Spec.Volumes[0])
	}
	// A third run without --set goes back to the chart's defaults: values
	// are never carried over silently.
	res, err = Install(ctx, tg, InstallOptions{})
	if err != nil || res.Revision != 3 {
		t.Fatalf("third run: %+v, %v", res, err)
	}
	ds, _ = env.Client.AppsV1().DaemonSets("ks").Get(ctx, "kubeshark-worker", metav1.GetOptions{})
	if ds.Spec.Template.Spec.Volumes[0].HostPath == nil {
		t.Errorf("third run kept emptyDir from the second")
	}

	t.Run("rbac", func(t *testing.T) { checkRBAC(t, env, "ks") })

	// Leftovers the release does not own: a ClusterRole of an earlier
	// install whose release record was lost, and a pod a controller would
	// have made.
	labels := map[string]string{labelPartOf: "kubeshark", labelInstance: "kubeshark", labelReleaseNamespace: "ks"}
	if _, err := env.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "kubeshark-ks-old", Labels: labels}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.CreatePod(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "kubeshark-worker-x1", Namespace: "ks", Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "w", Image: "x"}}},
	}, corev1.PodRunning, "10.1.0.5")
	// Another namespace's release of the same name must survive.
	env.CreateNamespace(t, "other", nil)
	otherLabels := map[string]string{labelPartOf: "kubeshark", labelInstance: "kubeshark", labelReleaseNamespace: "other"}
	if _, err := env.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "kubeshark-other-hub", Labels: otherLabels}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	cr, err := Clean(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	if !cr.Uninstalled || !cr.NamespaceDeleted {
		t.Errorf("clean: %+v", cr)
	}
	for _, want := range []string{"clusterroles/kubeshark-ks-old", "pods/kubeshark-worker-x1"} {
		if !slices.Contains(cr.Deleted, want) {
			t.Errorf("clean did not delete %s: %v", want, cr.Deleted)
		}
	}
	checkNothingLeft(t, env, tg)
	if _, err := env.Client.RbacV1().ClusterRoles().Get(ctx, "kubeshark-other-hub", metav1.GetOptions{}); err != nil {
		t.Errorf("clean removed another namespace's ClusterRole: %v", err)
	}
	// The namespace is being deleted (no namespace controller runs here
	// to finish it).
	if ns, err := env.Client.CoreV1().Namespaces().Get(ctx, "ks", metav1.GetOptions{}); err == nil && ns.DeletionTimestamp == nil {
		t.Error("namespace ks not deleted")
	}
	// Cleaning again finds nothing and is not an error.
	cr, err = Clean(ctx, tg)
	if err != nil || cr.Uninstalled || len(cr.Deleted) != 0 {
		t.Errorf("second clean: %+v, %v", cr, err)
	}
}

// TestCleanKeepsExistingNamespace: a namespace that existed before the
// install is the user's, and stays.
func TestCleanKeepsExistingNamespace(t *testing.T) {
	env, tg := startEnv(t)
	ctx := context.Background()
	env.CreateNamespace(t, "mine", map[string]string{"team": "a"})
	tg.Namespace, tg.Release = "mine", "ks2"
	res, err := Install(ctx, tg, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.CreatedNamespace {
		t.Error("install says it created an existing namespace")
	}
	if _, err := env.Client.AppsV1().Deployments("mine").Get(ctx, "ks2-kubeshark-hub", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	cr, err := Clean(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	if cr.NamespaceDeleted {
		t.Error("clean deleted a namespace it did not create")
	}
	ns, err := env.Client.CoreV1().Namespaces().Get(ctx, "mine", metav1.GetOptions{})
	if err != nil || ns.DeletionTimestamp != nil {
		t.Errorf("namespace mine: %v %v", err, ns.DeletionTimestamp)
	}
	checkNothingLeft(t, env, tg)
}

func checkNothingLeft(t *testing.T, env *kubetest.Env, tg Target) {
	t.Helper()
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	tg = tg.withDefaults()
	for _, r := range Resources {
		ri := dyn.Resource(r.GroupVersionResource)
		// Everything of the kind, not only what carries our labels: a
		// chart object whose labels drifted would hide from a selector.
		var items []string
		if r.Namespaced {
			l, err := ri.Namespace(tg.Namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatalf("listing %s: %v", r.Resource, err)
			}
			for _, it := range l.Items {
				items = append(items, it.GetName())
			}
		} else {
			l, err := ri.List(ctx, metav1.ListOptions{LabelSelector: labelReleaseNamespace + "=" + tg.Namespace})
			if err != nil {
				t.Fatalf("listing %s: %v", r.Resource, err)
			}
			for _, it := range l.Items {
				items = append(items, it.GetName())
			}
			l, err = ri.List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range l.Items {
				// Cluster-scoped names carry release and namespace.
				if n := it.GetName(); strings.Contains(n, tg.Release) && strings.Contains(n, "-"+tg.Namespace+"-") {
					items = append(items, it.GetName())
				}
			}
		}
		// The API server's own: the namespace's default account and root CA
		// are not created here (no controller manager), so any item is ours.
		if len(items) > 0 {
			t.Errorf("left behind: %s %v", r.Resource, items)
		}
	}
}

func checkRBAC(t *testing.T, env *kubetest.Env, ns string) {
	ctx := context.Background()
	hub := env.AsServiceAccount(t, ns, "kubeshark-hub")
	worker := env.AsServiceAccount(t, ns, "kubeshark-worker")
	outsider := env.AsServiceAccount(t, ns, "nobody")

	// Cluster-wide reads, both.
	for name, c := range map[string]kubernetes.Interface{"hub": hub, "worker": worker} {
		if _, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("%s cannot list pods cluster-wide: %v", name, err)
		}
		if _, err := c.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("%s cannot list endpointslices: %v", name, err)
		}
		if _, err := c.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("%s cannot list replicasets: %v", name, err)
		}
		if _, err := c.BatchV1().Jobs("").List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("%s cannot list jobs: %v", name, err)
		}
		if _, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("%s cannot list nodes: %v", name, err)
		}
		if _, err := c.CoreV1().Services("").List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("%s cannot list services cluster-wide: %v", name, err)
		}
		if _, err := c.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("%s cannot list namespaces (their labels name records): %v", name, err)
		}
		// The informers watch each kind; the authorizer says whether they
		// may.
		for _, res := range []struct{ group, resource string }{
			{"", "pods"}, {"", "services"}, {"", "nodes"}, {"", "namespaces"},
			{"discovery.k8s.io", "endpointslices"}, {"apps", "replicasets"}, {"batch", "jobs"},
		} {
			sar, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{
				Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authzv1.ResourceAttributes{
					Verb: "watch", Group: res.group, Resource: res.resource}}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !sar.Status.Allowed {
				t.Errorf("%s may not watch %s cluster-wide", name, strings.TrimSuffix(res.resource+"."+res.group, "."))
			}
		}
		// What the hub and each worker run with the chart's account: every
		// informer, namespaces included.
		wctx, cancel := context.WithCancel(ctx)
		w, err := kube.Watch(wctx, c, kube.NewHistory(nil, nil), kube.WatchOptions{SyncTimeout: 30 * time.Second})
		if err != nil {
			t.Errorf("%s's informers: %v", name, err)
		} else {
			if err := w.NamespacesErr(); err != nil {
				t.Errorf("%s's informers run without namespaces: %v", name, err)
			}
			w.Stop()
		}
		cancel()
		// Never secrets.
		if _, err := c.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("%s reading secrets: %v, want forbidden", name, err)
		}
	}
	if _, err := outsider.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("an account of the namespace outside the chart lists pods: %v (the check proves nothing)", err)
	}

	// The client account (kubeshark mcp --proxy, kubeshark proxy) may use
	// the hub's service proxy and nothing else.
	client := env.AsServiceAccount(t, ns, ClientServiceAccount)
	for _, c := range []struct {
		verb, res, sub, name string
		allowed              bool
	}{
		{"get", "services", "proxy", "kubeshark-hub", true},
		{"create", "services", "proxy", "kubeshark-hub", true},
		{"get", "services", "proxy", "kube-dns", false},
		{"list", "pods", "", "", false},
		{"get", "secrets", "", "kubeshark-worker-token", false},
	} {
		sar, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{
			Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authzv1.ResourceAttributes{
				Namespace: ns, Verb: c.verb, Resource: c.res, Subresource: c.sub, Name: c.name}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != c.allowed {
			t.Errorf("client account: %s %s/%s %s: allowed %v", c.verb, c.res, c.sub, c.name, sar.Status.Allowed)
		}
	}

	// The hub checks callers: TokenReview and SubjectAccessReview.
	tok, err := env.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "kubeshark-worker",
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{Audiences: []string{"kubeshark"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := hub.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: tok.Status.Token, Audiences: []string{"kubeshark"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("hub cannot create tokenreviews: %v", err)
	}
	if !tr.Status.Authenticated || tr.Status.User.Username != "system:serviceaccount:"+ns+":kubeshark-worker" {
		t.Errorf("token review: %+v", tr.Status)
	}
	if _, err := hub.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
		Spec: authzv1.SubjectAccessReviewSpec{User: "someone", ResourceAttributes: &authzv1.ResourceAttributes{
			Namespace: ns, Verb: "get", Resource: "services", Subresource: "proxy", Name: "kubeshark-hub"}}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("hub cannot create subjectaccessreviews: %v", err)
	}
	// The hub reads its workers' pods (and DaemonSet) in its namespace.
	if _, err := hub.AppsV1().DaemonSets(ns).Get(ctx, "kubeshark-worker", metav1.GetOptions{}); err != nil {
		t.Errorf("hub cannot read its DaemonSet: %v", err)
	}

	// The worker: no reviews, no writes.
	if _, err := worker.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: tok.Status.Token}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("worker creating a tokenreview: %v, want forbidden", err)
	}
	for name, c := range map[string]kubernetes.Interface{"hub": hub, "worker": worker} {
		for what, err := range map[string]error{
			"delete pods":        c.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}),
			"delete daemonset":   c.AppsV1().DaemonSets(ns).Delete(ctx, "kubeshark-worker", metav1.DeleteOptions{}),
			"delete service":     c.CoreV1().Services(ns).Delete(ctx, "kubeshark-hub", metav1.DeleteOptions{}),
			"delete namespace":   c.CoreV1().Namespaces().Delete(ctx, "default", metav1.DeleteOptions{}),
			"delete clusterrole": c.RbacV1().ClusterRoles().Delete(ctx, "kubeshark-"+ns+"-hub", metav1.DeleteOptions{}),
		} {
			if !apierrors.IsForbidden(err) {
				t.Errorf("%s: %s: %v, want forbidden", name, what, err)
			}
		}
		_, err := c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s creating a configmap: %v, want forbidden", name, err)
		}
		// The authorizer agrees for every verb that changes state.
		for _, verb := range []string{"create", "update", "patch", "delete", "deletecollection"} {
			for _, res := range []string{"pods", "services", "secrets"} {
				sar, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{
					Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authzv1.ResourceAttributes{
						Namespace: ns, Verb: verb, Resource: res}}}, metav1.CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if sar.Status.Allowed {
					t.Errorf("%s may %s %s", name, verb, res)
				}
			}
		}
	}
}
