package discovery_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubeshark-wasm/kubeshark/kube/discovery"
	"github.com/kubeshark-wasm/kubeshark/kube/kubetest"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/fanout"
)

const ns = "kubeshark"

var workerLabels = map[string]string{"app.kubernetes.io/name": "kubeshark", "app.kubernetes.io/component": "worker"}

// listenSamePort listens on every address with one port, as a DaemonSet's
// pods all serve on the same port.
func listenSamePort(t *testing.T, addrs ...string) ([]net.Listener, int) {
	t.Helper()
	for try := 0; try < 20; try++ {
		first, err := net.Listen("tcp", addrs[0]+":0")
		if err != nil {
			t.Skipf("cannot listen on %s (a loopback address other than 127.0.0.1): %v", addrs[0], err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for _, a := range addrs[1:] {
			ln, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(port)))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == len(addrs) {
			return lns, port
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatal("no port free on every address")
	return nil, 0
}

// worker serves the worker protocol over a store holding n records.
func worker(t *testing.T, ln net.Listener, node string, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	t0 := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	var recs []*sdk.Record
	for i := range n {
		recs = append(recs, &sdk.Record{Protocol: "http", Timestamp: t0.Add(time.Duration(i) * time.Second), Method: "GET", Path: "/" + node, Status: 200})
	}
	if err := st.Put(ctx, recs); err != nil {
		t.Fatal(err)
	}
	h, err := fanout.WorkerHandler(fanout.WorkerOptions{Node: node, Store: fanout.FixedStore(st)})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

func workerPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: workerLabels},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "worker", Image: "kubeshark"}}},
	}
}

// setReady sets a pod's Ready condition, as the kubelet would.
func setReady(t *testing.T, env *kubetest.Env, pod *corev1.Pod, ready bool) *corev1.Pod {
	t.Helper()
	pod = pod.DeepCopy()
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	return env.SetPodStatus(t, pod, pod.Status.Phase, pod.Status.PodIP)
}

func describe(ws []fanout.Worker) string {
	var parts []string
	for _, w := range ws {
		parts = append(parts, fmt.Sprintf("%s=%s%s", w.Node, w.URL, w.Unavailable))
	}
	return strings.Join(parts, " ")
}

// eventually polls Workers until want matches or 10 seconds pass: the
// informer sees changes a moment after the API server has them.
func eventually(t *testing.T, p *discovery.Pods, want string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ws, err := p.Workers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got = describe(ws); got == want {
			return
		}
	}
	t.Fatalf("workers:\n got %s\nwant %s", got, want)
}

// The hub finds the worker DaemonSet's pods on a real API server (pods
// whose status the test sets, as no kubelet runs), reads the ones that
// are ready — real worker servers on the pods' IPs — and names the others.
func TestPodsDiscovery(t *testing.T) {
	env := kubetest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env.CreateNamespace(t, ns, nil)

	lns, port := listenSamePort(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	for i, n := range []int{3, 5, 7} {
		worker(t, lns[i], fmt.Sprintf("node-%c", 'a'+i), n)
	}
	var pods []*corev1.Pod
	for i, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		p := env.CreatePod(t, workerPod(fmt.Sprintf("worker-%c", 'a'+i), fmt.Sprintf("node-%c", 'a'+i)), corev1.PodRunning, ip)
		pods = append(pods, setReady(t, env, p, true))
	}
	env.CreatePod(t, workerPod("worker-d", "node-d"), corev1.PodPending, "")
	// Not a worker: another label.
	other := workerPod("hub", "node-a")
	other.Labels = map[string]string{"app.kubernetes.io/name": "kubeshark", "app.kubernetes.io/component": "hub"}
	env.CreatePod(t, other, corev1.PodRunning, "10.9.9.9")

	// The hub's ServiceAccount needs to list and watch pods in the
	// namespace, and nothing else.
	if _, err := discovery.Start(ctx, discovery.Options{Client: env.AsServiceAccount(t, ns, "hub"), Namespace: ns, Port: port}); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("a hub without RBAC listed the workers: %v", err)
	}
	rbac := env.Client.RbacV1()
	if _, err := rbac.Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "hub-workers"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "hub-workers"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "hub-workers"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "hub", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var d *discovery.Pods
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		// RBAC caches take a moment to see the new binding.
		if d, err = discovery.Start(ctx, discovery.Options{Client: env.AsServiceAccount(t, ns, "hub"), Namespace: ns, Port: port}); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	url := func(ip string) string { return "http://" + ip + ":" + strconv.Itoa(port) }
	eventually(t, d, fmt.Sprintf("node-a=%s node-b=%s node-c=%s node-d=pod kubeshark/worker-d is Pending", url("127.0.0.2"), url("127.0.0.3"), url("127.0.0.4")))

	cl, err := fanout.New(fanout.Options{Discovery: d})
	if err != nil {
		t.Fatal(err)
	}
	qctx, rep := fanout.Track(ctx)
	page, err := cl.Query(qctx, storage.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 15 {
		t.Errorf("%d records, want 3+5+7 from the ready workers", len(page.Records))
	}
	if w := rep.Warning(); w != "node node-d (pod kubeshark/worker-d is Pending) did not answer; results are from 3 of 4 nodes" {
		t.Errorf("warning %q", w)
	}

	// A worker going unready, and the pending one going away, are seen by
	// the next call.
	setReady(t, env, pods[2], false)
	if err := env.Client.CoreV1().Pods(ns).Delete(ctx, "worker-d", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// With no kubelet to confirm it, a deleted pod stays terminating;
	// forced, it is gone.
	eventually(t, d, fmt.Sprintf("node-a=%s node-b=%s node-c=pod kubeshark/worker-c is not ready node-d=pod kubeshark/worker-d is terminating", url("127.0.0.2"), url("127.0.0.3")))
	zero := int64(0)
	if err := env.Client.CoreV1().Pods(ns).Delete(ctx, "worker-d", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	eventually(t, d, fmt.Sprintf("node-a=%s node-b=%s node-c=pod kubeshark/worker-c is not ready", url("127.0.0.2"), url("127.0.0.3")))
	qctx, rep = fanout.Track(ctx)
	if page, err = cl.Query(qctx, storage.Query{}); err != nil || len(page.Records) != 8 {
		t.Errorf("after node-c went unready: %d records (%v), want 8", len(page.Records), err)
	}
	if w := rep.Warning(); !strings.HasPrefix(w, "node node-c (pod kubeshark/worker-c is not ready)") {
		t.Errorf("warning %q", w)
	}
}
