package main_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubeshark-wasm/kubeshark/kube/kubetest"
)

// kdepNet is a network namespace with a veth pair, so that a hub runs on
// an address the API server's service proxy accepts (it refuses loopback
// and link-local endpoints).
type kdepNet struct{ ns, hostIP, nsIP string }

func newKdepNet(t *testing.T) *kdepNet {
	t.Helper()
	id := rand.IntN(1 << 16)
	ns, host, peer := fmt.Sprintf("kdep%04x", id), fmt.Sprintf("kdep%04xh", id), fmt.Sprintf("kdep%04xn", id)
	sub := 1 + id%250
	n := &kdepNet{ns: ns, hostIP: fmt.Sprintf("10.213.%d.1", sub), nsIP: fmt.Sprintf("10.213.%d.2", sub)}
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
	run(t, "ip", "link", "set", peer, "netns", ns)
	run(t, "ip", "addr", "add", n.hostIP+"/30", "dev", host)
	run(t, "ip", "link", "set", host, "up")
	run(t, "ip", "netns", "exec", ns, "ip", "addr", "add", n.nsIP+"/30", "dev", peer)
	run(t, "ip", "netns", "exec", ns, "ip", "link", "set", peer, "up")
	run(t, "ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
	return n
}

// startProc runs the kubeshark binary (in netns when not empty) until the
// test ends and returns its stderr.
func startProc(t *testing.T, netns string, args ...string) (*watchWriter, *exec.Cmd) {
	t.Helper()
	name, argv := binary_, args
	if netns != "" {
		name, argv = "ip", append([]string{"netns", "exec", netns, binary_}, args...)
	}
	w := &watchWriter{changed: make(chan struct{})}
	cmd := exec.Command(name, argv...)
	cmd.Stdout, cmd.Stderr = io.Discard, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return w, cmd
}

func waitForMatch(t *testing.T, w *watchWriter, re *regexp.Regexp, what string) string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		m, changed := w.match(re)
		if m != nil {
			return m[len(m)-1]
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("%s: no %v in:\n%s", what, re, w)
		}
	}
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var proxyServing = regexp.MustCompile(`serving the hub of namespace \S+ \(([^)]*)\) on (http://127\.0\.0\.1:\d+)`)

// TestProxyThroughTheAPIServer runs a real hub in a network namespace,
// points a selector-less Service at it by hand (no kubelet runs pods here),
// and reaches it with `kubeshark proxy` through the real API server's
// service proxy: /healthz, and an API route that needs the hub's token.
func TestProxyThroughTheAPIServer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	env := kubetest.Start(t)
	ctx := context.Background()
	n := newKdepNet(t)

	data := t.TempDir()
	if r := ks(t, data, "import", sample(t, 20)); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	recs := calls(t, data)
	if len(recs) == 0 {
		t.Fatal("no records in the sample")
	}
	hubErr, _ := startProc(t, n.ns, "--data", data, "hub", "--addr", n.nsIP+":8898")
	waitForMatch(t, hubErr, regexp.MustCompile(`kubeshark hub serving .* on (http://\S+)`), "hub")
	r := ks(t, data, "hub", "token")
	token := strings.TrimSpace(r.stdout)
	if r.code != 0 || len(token) < 32 {
		t.Fatalf("hub token: %+v", r)
	}

	// The proxy's errors before anything is installed.
	r = ks(t, data, "proxy", "--kubeconfig", env.Kubeconfig, "--port", "0")
	if r.code == 0 || !strings.Contains(r.stderr, "no kubeshark hub is installed") || !strings.Contains(r.stderr, "kubeshark tap --cluster") {
		t.Fatalf("proxy without a hub: %+v", r)
	}

	env.CreateNamespace(t, "kubeshark", nil)
	port := int32(8898)
	if _, err := env.Client.CoreV1().Services("kubeshark").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubeshark-hub"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromInt32(port)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A Service without endpoints: the hub is "not ready".
	r = ks(t, data, "proxy", "--kubeconfig", env.Kubeconfig, "--port", "0")
	if r.code == 0 || !strings.Contains(r.stderr, "hub not ready") {
		t.Fatalf("proxy to a hub without endpoints: %+v", r)
	}

	// The service proxy goes only to EndpointSlice addresses that are the
	// IPs of the pods they name: a pod (never run: no kubelet) holding the
	// hub's address, and the slice an EndpointSlice controller would make.
	env.CreatePod(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "kubeshark-hub-0", Namespace: "kubeshark"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "hub", Image: "kubeshark"}}},
	}, corev1.PodRunning, n.nsIP)
	name, ready := "http", true
	if _, err := env.Client.DiscoveryV1().EndpointSlices("kubeshark").Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "kubeshark-hub-1", Labels: map[string]string{discoveryv1.LabelServiceName: "kubeshark-hub"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{n.nsIP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "kubeshark", Name: "kubeshark-hub-0"}}},
		Ports: []discoveryv1.EndpointPort{{Name: &name, Port: &port}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The API server reads slices through an informer: wait until it
	// routes to the hub.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := env.Client.CoreV1().Services("kubeshark").ProxyGet("http", "kubeshark-hub", "http", "/healthz", nil).DoRaw(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API server does not proxy to the hub: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	perr, _ := startProc(t, "", "--data", t.TempDir(), "proxy", "--kubeconfig", env.Kubeconfig, "--port", "0")
	via := waitForMatch(t, perr, proxyServing, "proxy")
	m, _ := perr.match(proxyServing)
	if m[1] != "service proxy" {
		t.Errorf("via %q, want the service proxy", m[1])
	}
	// No chart is installed: no client ServiceAccount to take tokens from.
	if !strings.Contains(perr.String(), "warning: requesting a token of ServiceAccount kubeshark/kubeshark-mcp-client") {
		t.Errorf("no warning about the missing client account:\n%s", perr)
	}
	url := via

	code, body := get(t, url+"/healthz", "")
	if code != 200 || body != "ok\n" {
		t.Fatalf("/healthz through the proxy: %d %q", code, body)
	}
	// The hub's own check comes through: no token, 401 from the hub.
	code, body = get(t, url+"/api/calls", "")
	if code != 401 || !strings.Contains(body, "missing bearer token") {
		t.Fatalf("/api/calls without a token: %d %q", code, body)
	}
	code, body = get(t, url+"/api/calls?limit=100", token)
	if code != 200 {
		t.Fatalf("/api/calls through the proxy: %d %q", code, body)
	}
	for _, rec := range recs {
		if !strings.Contains(body, rec.ID) {
			t.Errorf("record %s missing from /api/calls through the proxy", rec.ID)
		}
	}
	code, body = get(t, url+"/api/calls/"+recs[0].ID, token)
	if code != 200 || !strings.Contains(body, recs[0].ID) {
		t.Errorf("/api/calls/%s: %d %q", recs[0].ID, code, body)
	}
}

// TestTapClusterAndClean drives the CLI: tap --cluster installs, a second
// run upgrades (revision 2), clean removes it; local-only flags are
// refused with --cluster and cluster-only ones without it.
func TestTapClusterAndClean(t *testing.T) {
	env := kubetest.Start(t)
	ctx := context.Background()
	data := t.TempDir()
	kc := []string{"--kubeconfig", env.Kubeconfig, "--context", "kubetest", "--namespace", "obs"}

	r := ks(t, data, append([]string{"tap", "--cluster", "--set", "worker.storage.type=emptyDir", "--filter", "tcp port 80"}, kc...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "installed release kubeshark in namespace obs (revision 1)") ||
		!strings.Contains(r.stderr, "created namespace obs") || !strings.Contains(r.stderr, "kubeshark proxy --namespace obs") {
		t.Fatalf("first tap --cluster: %+v", r)
	}
	ds, err := env.Client.AppsV1().DaemonSets("obs").Get(ctx, "kubeshark-worker", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if args := strings.Join(ds.Spec.Template.Spec.Containers[0].Args, " "); !strings.Contains(args, "--filter=tcp port 80") {
		t.Errorf("--filter did not reach the workers: %s", args)
	}
	if ds.Spec.Template.Spec.Volumes[0].EmptyDir == nil {
		t.Errorf("--set worker.storage.type=emptyDir: volume %+v", ds.Spec.Template.Spec.Volumes[0])
	}
	r = ks(t, data, append([]string{"tap", "--cluster"}, kc...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "upgraded release kubeshark in namespace obs (revision 2)") {
		t.Fatalf("second tap --cluster: %+v", r)
	}

	for _, args := range [][]string{
		{"tap", "--cluster", "-i", "eth0"},
		{"tap", "--cluster", "--duration", "1m"},
		{"tap", "--cluster", "--set", "novalue"},
	} {
		r := ks(t, data, append(args, kc...)...)
		if r.code == 0 || r.stderr == "" {
			t.Errorf("%v: %+v, want a clear error", args, r)
		}
	}
	if r := ks(t, data, "tap", "--set", "a=b"); r.code == 0 || !strings.Contains(r.stderr, "--set applies to --cluster") {
		t.Errorf("tap --set without --cluster: %+v", r)
	}

	r = ks(t, data, append([]string{"clean"}, kc...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "release uninstalled") || !strings.Contains(r.stderr, "namespace deleted") {
		t.Fatalf("clean: %+v", r)
	}
	if _, err := env.Client.AppsV1().DaemonSets("obs").Get(ctx, "kubeshark-worker", metav1.GetOptions{}); err == nil {
		t.Error("DaemonSet still there after clean")
	}
	crs, err := env.Client.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=kubeshark"})
	if err != nil || len(crs.Items) != 0 {
		t.Errorf("ClusterRoles left after clean: %v %v", crs, err)
	}
	r = ks(t, data, append([]string{"clean"}, kc...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "nothing to clean") {
		t.Errorf("second clean: %+v", r)
	}
	// No cluster at all: a clear error, non-zero.
	r = ks(t, data, "clean", "--kubeconfig", "/nonexistent/kubeconfig")
	if r.code == 0 || !strings.Contains(r.stderr, "/nonexistent/kubeconfig") {
		t.Errorf("clean with a missing kubeconfig: %+v", r)
	}
}
