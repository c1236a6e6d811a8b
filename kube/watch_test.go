package kube_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubeshark-wasm/kubeshark/kube"
	"github.com/kubeshark-wasm/kubeshark/kube/kubetest"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// The tests below run against a real kube-apiserver (kubetest): no kubelet
// runs pods, so each test sets pod status (phase, IP) itself, and creates
// EndpointSlices by hand as the endpoint controller would.

func newPod(name, ns string, labels map[string]string, owner *metav1.OwnerReference) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return p
}

func ctrl(kind, name string, uid types.UID, apiVersion string) *metav1.OwnerReference {
	yes := true
	return &metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: &yes}
}

// watch starts a Watcher into a history persisted in st.
func watch(t *testing.T, env *kubetest.Env, st *storage.Store) (*kube.History, func()) {
	t.Helper()
	h := kube.NewHistory(st, nil)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := kube.Watch(ctx, env.Client, h, kube.WatchOptions{SyncTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); w.Stop() }) }
	t.Cleanup(stop)
	st.SetResolver(h)
	return h, stop
}

func openStore(t *testing.T, dir string) *storage.Store {
	t.Helper()
	st, err := storage.Open(context.Background(), storage.Options{Dir: dir, Small: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func resolve(h *kube.History, ip string, at time.Time) sdk.Endpoint {
	e := sdk.Endpoint{IP: ip, Port: 80}
	h.ResolveEndpoint(&e, 0, at)
	return e
}

func pod(e sdk.Endpoint) string {
	if e.K8s == nil {
		return ""
	}
	return e.Namespace + "/" + e.Pod
}

// nsLabels are the labels of e's namespace as resolved, nil without any.
func nsLabels(e sdk.Endpoint) map[string]string {
	if e.K8s == nil {
		return nil
	}
	return e.NamespaceLabels
}

// eventually polls cond for up to 10 s: informers see changes shortly after
// the API server makes them.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWorkloadHistory(t *testing.T) {
	env := kubetest.Start(t)
	ctx := context.Background()
	env.CreateNamespace(t, "shop", map[string]string{"team": "checkout"})
	dir := filepath.Join(t.TempDir(), "store")
	st := openStore(t, dir)

	// A pod that exists before anyone watches: an old capture resolves to
	// it (the current state is the best knowledge there is).
	env.CreatePod(t, newPod("early", "shop", map[string]string{"app": "early"}, nil), corev1.PodRunning, "10.244.9.9")
	h, stop := watch(t, env, st)
	since := h.Since()
	if got := pod(resolve(h, "10.244.9.9", since.Add(-24*time.Hour))); got != "shop/early" {
		t.Errorf("a record from before the history resolves to %q, want the pod listed first (shop/early)", got)
	}

	t.Run("an account that may not list pods", func(t *testing.T) {
		_, err := kube.Watch(ctx, env.AsServiceAccount(t, "shop", "nobody"), kube.NewHistory(nil, nil), kube.WatchOptions{})
		if !errors.Is(err, kube.ErrForbidden) {
			t.Fatalf("err = %v, want ErrForbidden", err)
		}
	})

	t.Run("an account that may not list namespaces", func(t *testing.T) {
		// Everything but namespaces: the names still come, without the
		// namespaces' labels, and the watcher says why.
		_, err := env.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "names-without-namespaces"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"pods", "services", "nodes"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list", "watch"}},
			}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = env.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "names-without-namespaces"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "names-without-namespaces"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "shop", Name: "limited"}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lh := kube.NewHistory(nil, nil)
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var w *kube.Watcher
		// RBAC reaches the authorizer's cache shortly after it is written.
		eventually(t, "the role to apply", func() bool {
			w, err = kube.Watch(wctx, env.AsServiceAccount(t, "shop", "limited"), lh, kube.WatchOptions{SyncTimeout: 30 * time.Second})
			return err == nil
		})
		defer w.Stop()
		if !errors.Is(w.NamespacesErr(), kube.ErrNamespacesForbidden) {
			t.Errorf("NamespacesErr() = %v, want ErrNamespacesForbidden", w.NamespacesErr())
		}
		e := resolve(lh, "10.244.9.9", time.Now())
		if pod(e) != "shop/early" || nsLabels(e) != nil {
			t.Errorf("without namespaces: %q with namespace labels %v, want shop/early and none", pod(e), nsLabels(e))
		}
	})

	t.Run("IP reuse", func(t *testing.T) {
		const ip = "10.244.1.5"
		a := env.CreatePod(t, newPod("pod-a", "shop", map[string]string{"app": "a"}, nil), corev1.PodRunning, ip)
		eventually(t, "pod-a to hold its IP", func() bool { return pod(resolve(h, ip, time.Now())) == "shop/pod-a" })
		duringA := time.Now()
		// No kubelet confirms a graceful deletion: delete at once, as the
		// kubelet does once the containers are gone (a terminating pod
		// still holds its IP, and keeps resolving to itself until then).
		now := int64(0)
		if err := env.Client.CoreV1().Pods("shop").Delete(ctx, a.Name, metav1.DeleteOptions{GracePeriodSeconds: &now}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "pod-a to let go of its IP", func() bool { return pod(resolve(h, ip, time.Now())) == "" })
		gap := time.Now()
		env.CreatePod(t, newPod("pod-b", "shop", map[string]string{"app": "b"}, nil), corev1.PodRunning, ip)
		eventually(t, "pod-b to hold the IP", func() bool { return pod(resolve(h, ip, time.Now())) == "shop/pod-b" })
		afterB := time.Now()
		for _, c := range []struct {
			at   time.Time
			want string
		}{{duringA, "shop/pod-a"}, {gap, ""}, {afterB, "shop/pod-b"}} {
			if got := pod(resolve(h, ip, c.at)); got != c.want {
				t.Errorf("%s at %s resolves to %q, want %q", ip, c.at.Format(time.RFC3339Nano), got, c.want)
			}
		}
		if e := resolve(h, ip, afterB); e.Labels["app"] != "b" || e.Node != "node-a" || e.Name != "pod-b" {
			t.Errorf("pod-b's context: %+v %+v", e, e.K8s)
		}
	})

	t.Run("finished pods hold no IP", func(t *testing.T) {
		const ip = "10.244.1.6"
		p := env.CreatePod(t, newPod("batch-1", "shop", nil, nil), corev1.PodRunning, ip)
		eventually(t, "the running pod", func() bool { return pod(resolve(h, ip, time.Now())) == "shop/batch-1" })
		running := time.Now()
		env.SetPodStatus(t, p, corev1.PodSucceeded, ip) // the stale podIP stays in status
		eventually(t, "the finished pod to let go", func() bool { return pod(resolve(h, ip, time.Now())) == "" })
		if got := pod(resolve(h, ip, running)); got != "shop/batch-1" {
			t.Errorf("while running: %q", got)
		}
		// Pending pods already hold their IP.
		env.CreatePod(t, newPod("starting", "shop", nil, nil), corev1.PodPending, "10.244.1.7")
		eventually(t, "the pending pod", func() bool { return pod(resolve(h, "10.244.1.7", time.Now())) == "shop/starting" })
	})

	t.Run("hostNetwork pods resolve to their node", func(t *testing.T) {
		node, err := env.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{"zone": "z1"}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.50.10"}, {Type: corev1.NodeHostName, Address: "node-a"}}
		if _, err := env.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		hp := newPod("agent", "shop", nil, nil)
		hp.Spec.HostNetwork = true
		env.CreatePod(t, hp, corev1.PodRunning, "192.168.50.10")
		eventually(t, "the node address", func() bool { return resolve(h, "192.168.50.10", time.Now()).K8s != nil })
		time.Sleep(200 * time.Millisecond) // let the hostNetwork pod's events land too
		e := resolve(h, "192.168.50.10", time.Now())
		if e.K8s == nil || e.Node != "node-a" || e.Pod != "" || e.Name != "node-a" || e.Labels["zone"] != "z1" {
			t.Errorf("node address resolves to %+v %+v, want node-a and no pod", e, e.K8s)
		}
	})

	t.Run("ClusterIP and endpoints", func(t *testing.T) {
		svc, err := env.Client.CoreV1().Services("shop").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "checkout", Labels: map[string]string{"tier": "api"}},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}, Selector: map[string]string{"app": "checkout"}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		backend := env.CreatePod(t, newPod("checkout-1", "shop", map[string]string{"app": "checkout"}, nil), corev1.PodRunning, "10.244.2.1")
		ready := true
		_, err = env.Client.DiscoveryV1().EndpointSlices("shop").Create(ctx, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "checkout-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "checkout"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.2.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: backend.Name, UID: backend.UID}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the service and its endpoints", func() bool {
			// The endpoint slice may reach the informers after the service:
			// until then the pod's address has no workload at all.
			ep := resolve(h, "10.244.2.1", time.Now())
			return resolve(h, svc.Spec.ClusterIP, time.Now()).K8s != nil && ep.K8s != nil && ep.Service == "checkout"
		})
		c := resolve(h, svc.Spec.ClusterIP, time.Now())
		if c.Service != "checkout" || c.Pod != "" || c.Namespace != "shop" || c.Name != "checkout" || c.Labels["tier"] != "api" {
			t.Errorf("ClusterIP %s resolves to %+v %+v, want service shop/checkout and no pod", svc.Spec.ClusterIP, c, c.K8s)
		}
		p := resolve(h, "10.244.2.1", time.Now())
		if p.Pod != "checkout-1" || p.Service != "checkout" || p.Name != "checkout" {
			t.Errorf("endpoint pod resolves to %+v", p.K8s)
		}
	})

	t.Run("namespace labels", func(t *testing.T) {
		const ip = "10.244.4.1"
		env.CreatePod(t, newPod("ledger-0", "shop", map[string]string{"app": "ledger"}, nil), corev1.PodRunning, ip)
		eventually(t, "ledger-0 with its namespace's labels", func() bool { return nsLabels(resolve(h, ip, time.Now()))["team"] == "checkout" })
		if got := nsLabels(resolve(h, "10.244.9.9", since.Add(-time.Hour))); got["team"] != "checkout" {
			t.Errorf("a record from before the history: namespace labels %v, want the first known (team=checkout)", got)
		}
		svc, err := env.Client.CoreV1().Services("shop").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "ledger"},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the service's ClusterIP", func() bool { return nsLabels(resolve(h, svc.Spec.ClusterIP, time.Now()))["team"] == "checkout" })
		if e := resolve(h, "192.168.50.10", time.Now()); e.K8s != nil && e.NamespaceLabels != nil {
			t.Errorf("a node has no namespace, yet got namespace labels %v", e.NamespaceLabels)
		}

		// Relabelled: records keep the labels of their own time.
		before := time.Now()
		ns, err := env.Client.CoreV1().Namespaces().Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ns.Labels["team"] = "payments"
		if _, err := env.Client.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the new label", func() bool { return nsLabels(resolve(h, ip, time.Now()))["team"] == "payments" })
		if got := nsLabels(resolve(h, ip, before)); got["team"] != "checkout" {
			t.Errorf("before the relabelling: %v, want team=checkout", got)
		}

		// Deleted and created again under its name: another UID, and a
		// record of each time gets its own namespace's labels.
		env.CreateNamespace(t, "ledger", map[string]string{"env": "old"})
		const ip2 = "10.244.4.2"
		env.CreatePod(t, newPod("books-0", "ledger", nil, nil), corev1.PodRunning, ip2)
		eventually(t, "the first ledger namespace", func() bool { return nsLabels(resolve(h, ip2, time.Now()))["env"] == "old" })
		during := time.Now()
		deleteNamespace(t, env, "ledger")
		eventually(t, "the namespace to go", func() bool { return nsLabels(resolve(h, ip2, time.Now())) == nil })
		env.CreateNamespace(t, "ledger", map[string]string{"env": "new"})
		eventually(t, "the second ledger namespace", func() bool { return nsLabels(resolve(h, ip2, time.Now()))["env"] == "new" })
		if got := nsLabels(resolve(h, ip2, during)); got["env"] != "old" {
			t.Errorf("a record of the first ledger namespace: %v, want env=old", got)
		}
		if n := h.Lookup(kube.KindNamespace, "ledger", time.Now()); len(n) != 1 || len(h.Lookup(kube.KindNamespace, "ledger", during)) != 1 ||
			n[0].UID == h.Lookup(kube.KindNamespace, "ledger", during)[0].UID {
			t.Errorf("the two ledger namespaces are not told apart by UID: %+v", n)
		}
	})

	t.Run("owner chains", func(t *testing.T) {
		dep, err := env.Client.AppsV1().Deployments("shop").Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "frontend"},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "frontend"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "frontend"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rs, err := env.Client.AppsV1().ReplicaSets("shop").Create(ctx, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "frontend-7d9f8", OwnerReferences: []metav1.OwnerReference{*ctrl("Deployment", dep.Name, dep.UID, "apps/v1")}},
			Spec:       appsv1.ReplicaSetSpec{Selector: dep.Spec.Selector, Template: dep.Spec.Template},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cj, err := env.Client.BatchV1().CronJobs("shop").Create(ctx, &batchv1.CronJob{
			ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
			Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		job, err := env.Client.BatchV1().Jobs("shop").Create(ctx, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "nightly-29000000", OwnerReferences: []metav1.OwnerReference{*ctrl("CronJob", cj.Name, cj.UID, "batch/v1")}},
			Spec:       cj.Spec.JobTemplate.Spec,
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			pod      *corev1.Pod
			ip, kind string
			workload string
		}{
			{newPod("frontend-7d9f8-x1", "shop", map[string]string{"app": "frontend"}, ctrl("ReplicaSet", rs.Name, rs.UID, "apps/v1")), "10.244.3.1", "Deployment", "frontend"},
			{newPod("nightly-29000000-q", "shop", nil, ctrl("Job", job.Name, job.UID, "batch/v1")), "10.244.3.2", "CronJob", "nightly"},
			{newPod("db-0", "shop", nil, ctrl("StatefulSet", "db", "11111111-2222-3333-4444-555555555555", "apps/v1")), "10.244.3.3", "StatefulSet", "db"},
			{newPod("logs-abcde", "shop", nil, ctrl("DaemonSet", "logs", "11111111-2222-3333-4444-666666666666", "apps/v1")), "10.244.3.4", "DaemonSet", "logs"},
			// A ReplicaSet nobody listed: the pod-template-hash names the Deployment.
			{newPod("api-5c6b7-zz", "shop", map[string]string{"pod-template-hash": "5c6b7"}, ctrl("ReplicaSet", "api-5c6b7", "11111111-2222-3333-4444-777777777777", "apps/v1")), "10.244.3.5", "Deployment", "api"},
			{newPod("bare", "shop", nil, nil), "10.244.3.6", "", ""},
		}
		for _, c := range cases {
			env.CreatePod(t, c.pod, corev1.PodRunning, c.ip)
		}
		for _, c := range cases {
			eventually(t, c.pod.Name, func() bool { return resolve(h, c.ip, time.Now()).K8s != nil })
			e := resolve(h, c.ip, time.Now())
			if e.WorkloadKind != c.kind || e.Workload != c.workload {
				t.Errorf("%s: workload %q %q, want %q %q", c.pod.Name, e.WorkloadKind, e.Workload, c.kind, c.workload)
			}
			if want := c.workload; want != "" && e.Name != want || want == "" && e.Name != c.pod.Name {
				t.Errorf("%s: name %q", c.pod.Name, e.Name)
			}
		}
	})

	t.Run("persisted with the store", func(t *testing.T) {
		// What the history saw is read back from the store alone, with no
		// cluster: records keep resolving as they did.
		at := time.Now()
		wantTeam := nsLabels(resolve(h, "10.244.3.1", at))["team"]
		if wantTeam == "" {
			t.Fatal("the frontend pod has no namespace labels")
		}
		want := map[string]string{"10.244.1.5": pod(resolve(h, "10.244.1.5", at)), "10.244.3.1": pod(resolve(h, "10.244.3.1", at)), "10.244.9.9": pod(resolve(h, "10.244.9.9", at))}
		if err := st.Put(ctx, []*sdk.Record{{Protocol: "http", Timestamp: at, Src: sdk.Endpoint{IP: "10.244.3.1", Port: 40000}, Dst: sdk.Endpoint{IP: "10.244.2.1", Port: 80}, Method: "GET", Path: "/"}}); err != nil {
			t.Fatal(err)
		}
		stop()
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		re := openStore(t, dir)
		defer re.Close()
		h2, err := kube.LoadHistory(ctx, re, nil)
		if err != nil {
			t.Fatal(err)
		}
		if h2.Len() == 0 || !h2.Since().Equal(since) {
			t.Fatalf("reloaded %d bindings since %v, want some since %v", h2.Len(), h2.Since(), since)
		}
		for ip, w := range want {
			if got := pod(resolve(h2, ip, at)); got != w || w == "" {
				t.Errorf("%s after reopening: %q, want %q", ip, got, w)
			}
		}
		re.SetResolver(h2)
		page, err := re.Query(ctx, storage.Query{})
		if err != nil || len(page.Records) != 1 {
			t.Fatalf("query: %v, %d records", err, len(page.Records))
		}
		r := page.Records[0]
		if r.Src.Workload != "frontend" || r.Dst.Service != "checkout" || r.Dst.Pod != "checkout-1" {
			t.Errorf("stored record read back with %+v → %+v", r.Src.K8s, r.Dst.K8s)
		}
		if r.Src.K8s == nil || r.Src.NamespaceLabels["team"] != wantTeam {
			t.Errorf("stored record's namespace labels read back as %+v, want team=%s", r.Src.K8s, wantTeam)
		}
	})
}

// deleteNamespace deletes a namespace as the namespace controller would
// (none runs here): its "kubernetes" finalizer is removed, then it goes.
func deleteNamespace(t *testing.T, env *kubetest.Env, name string) {
	t.Helper()
	ctx := context.Background()
	nss := env.Client.CoreV1().Namespaces()
	if err := nss.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := nss.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns.Spec.Finalizers = nil
	if _, err := nss.Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := nss.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	eventually(t, "namespace "+name+" to be deleted", func() bool {
		_, err := nss.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}
