package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubeshark-wasm/kubeshark/kube/kubetest"
	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/plugins/plugintest"
)

// startHub starts `kubeshark hub` as a process and returns its URL once
// it serves; the process is killed when the test ends.
func startHub(t *testing.T, data string, args ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(binary_, append([]string{"--data", data, "hub"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	serving := regexp.MustCompile(`serving .* on (http://\S+)`)
	urls := make(chan string, 1)
	var said strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			said.WriteString(sc.Text() + "\n")
			if m := serving.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		close(urls)
	}()
	select {
	case u, ok := <-urls:
		if !ok {
			t.Fatalf("hub %v exited: %s", args, said.String())
		}
		return u, cmd
	case <-time.After(60 * time.Second):
		t.Fatalf("hub %v did not start", args)
	}
	return "", nil
}

func getJSON(t *testing.T, url, token string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v %v", url, resp.StatusCode, err, m)
	}
	return m
}

func recordCount(m map[string]any) int {
	return int(m["records"].(map[string]any)["count"].(float64))
}

// Two workers (kubeshark hub over their own data, on 127.0.0.2 and
// 127.0.0.3) and a hub with --workers, all processes: the hub answers for
// both, and when one is killed, says so and answers from the other.
func TestHubFansOutToWorkerProcesses(t *testing.T) {
	const token = "cluster-token-0123456789abcdef0123456789abcdef"
	dirs := map[string]string{}
	for _, n := range []string{"a", "b", "central"} {
		dirs[n] = t.TempDir()
		// A cluster's hub and workers share one token (a Secret in the
		// chart), placed where each looks for its own.
		if err := os.WriteFile(filepath.Join(dirs[n], hub.TokenFile), []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for n, pcap := range map[string]string{"a": sample(t, 40), "b": cascade(t, "2026-11-20T14:00:00Z")} {
		if r := ks(t, dirs[n], "import", pcap); r.code != 0 {
			t.Fatalf("import: %+v", r)
		}
	}
	urlA, _ := startHub(t, dirs["a"], "--addr", "127.0.0.2:0", "--allow-destructive")
	urlB, procB := startHub(t, dirs["b"], "--addr", "127.0.0.3:0", "--allow-destructive")
	if r := ks(t, dirs["central"], "hub", "--workers", "a=ftp://x"); r.code == 0 || !strings.Contains(r.stderr, `worker "a=ftp://x": want http://HOST:PORT`) {
		t.Fatalf("bad --workers: %+v", r)
	}
	central, _ := startHub(t, dirs["central"], "--addr", "127.0.0.1:0", "--workers", "a="+urlA+",b="+urlB, "--allow-destructive")

	nA, nB := recordCount(getJSON(t, urlA+"/api/status", token)), recordCount(getJSON(t, urlB+"/api/status", token))
	status := getJSON(t, central+"/api/status", token)
	if n := recordCount(status); n != nA+nB || nA == 0 || nB == 0 {
		t.Fatalf("central hub holds %d records, workers %d + %d", n, nA, nB)
	}
	list := getJSON(t, central+"/api/calls?limit=1000&order=oldest", token)
	if n := len(list["calls"].([]any)); n != nA+nB {
		t.Errorf("listed %d calls, want %d", n, nA+nB)
	}
	if ws := list["workers"].([]any); len(ws) != 2 || list["partial"] != nil {
		t.Errorf("workers %v partial %v", ws, list["partial"])
	}

	// A plugin installed, listed and disabled through the cluster hub
	// reaches every worker's store, and the answer names the nodes.
	module := plugintest.WritePingPong(t, t.TempDir())
	remote := []string{"--url", central, "--token", token}
	if r := ks(t, t.TempDir(), append([]string{"plugin", "install", module}, remote...)...); r.code == 0 || !strings.Contains(r.stderr, "no node took it") ||
		!strings.Contains(r.stderr, "a: ") || !strings.Contains(r.stderr, "b: ") || !strings.Contains(r.stderr, "unsigned") {
		t.Fatalf("install unsigned without --allow-unsigned: %+v", r)
	}
	if r := ks(t, t.TempDir(), append([]string{"plugin", "install", module, "--allow-unsigned"}, remote...)...); r.code != 0 || !strings.Contains(r.stdout, "on nodes a, b") {
		t.Fatalf("install through the cluster hub: %+v", r)
	}
	for _, n := range []string{"a", "b"} {
		if r := ks(t, dirs[n], "plugin", "list"); r.code != 0 || !strings.Contains(r.stdout, "pingpong") {
			t.Fatalf("node %s's store after the install: %+v", n, r)
		}
	}
	if r := ks(t, t.TempDir(), append([]string{"plugin", "disable", "pingpong"}, remote...)...); r.code != 0 {
		t.Fatalf("disable through the cluster hub: %+v", r)
	}
	pluginsOf := func() []map[string]any {
		req, _ := http.NewRequest("GET", central+"/api/plugins", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ps []map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&ps); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /api/plugins: %d %v", resp.StatusCode, err)
		}
		return ps
	}
	if r := ks(t, t.TempDir(), append([]string{"plugin", "list"}, remote...)...); r.code != 0 || !strings.Contains(r.stdout, "NODES") || !strings.Contains(r.stdout, "a,b") {
		t.Fatalf("plugin list through the cluster hub: %+v", r)
	}
	if ps := pluginsOf(); len(ps) != 1 || ps[0]["name"] != "pingpong" || ps[0]["enabled"] != false || fmt.Sprint(ps[0]["nodes"]) != "[a b]" {
		t.Fatalf("the cluster hub's plugin list: %v", ps)
	}

	procB.Process.Kill()
	procB.Wait()
	// A change only some nodes take is an error naming both sides.
	if r := ks(t, t.TempDir(), append([]string{"plugin", "remove", "pingpong"}, remote...)...); r.code == 0 || !strings.Contains(r.stderr, "taken by 1 of 2 nodes (a); not by b: ") {
		t.Fatalf("remove with node b gone: %+v", r)
	}
	if r := ks(t, dirs["a"], "plugin", "list"); r.code != 0 || strings.Contains(r.stdout, "pingpong") {
		t.Fatalf("node a's store after the remove: %+v", r)
	}
	stats := getJSON(t, central+"/api/stats", token)
	p, _ := stats["partial"].(string)
	if !strings.HasPrefix(p, "node b (") || !strings.HasSuffix(p, "did not answer; results are from 1 of 2 nodes") {
		t.Errorf("partial = %q", p)
	}
	if n := int(stats["total"].(map[string]any)["count"].(float64)); n != nA {
		t.Errorf("stats over %d calls, want node a's %d", n, nA)
	}
}

// portFreeOn finds a port free on every address, for worker hubs that serve
// on one port as a DaemonSet's pods do.
func portFreeOn(t *testing.T, addrs ...string) string {
	t.Helper()
	for try := 0; try < 20; try++ {
		ln, err := net.Listen("tcp", addrs[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		ok := true
		for _, a := range addrs[1:] {
			l, err := net.Listen("tcp", net.JoinHostPort(a, port))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		ln.Close()
		if ok {
			return port
		}
	}
	t.Fatal("no port free on every address")
	return ""
}

// kubeshark hub --worker-pods finds the worker pods on a real API server
// (their status set by the test: no kubelet runs) and reads the worker hub
// processes at their IPs.
func TestHubFindsWorkerPods(t *testing.T) {
	r := ks(t, t.TempDir(), "hub", "--workers", "a=http://127.0.0.1:1", "--worker-pods")
	if r.code == 0 || !strings.Contains(r.stderr, "--workers and --worker-pods: give one of them") {
		t.Errorf("both: %+v", r)
	}
	cmd := exec.Command(binary_, "--data", t.TempDir(), "hub", "--worker-pods", "--kubeconfig", filepath.Join(t.TempDir(), "none"))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--worker-pods: no Kubernetes API to watch the workers in") {
		t.Errorf("no kubeconfig: %v %s", err, out)
	}

	env := kubetest.Start(t)
	const token = "cluster-token-0123456789abcdef0123456789abcdef"
	ips := []string{"127.0.0.2", "127.0.0.3"}
	port := portFreeOn(t, ips...)
	env.CreateNamespace(t, "kubeshark", nil)
	total := 0
	for i, ip := range ips {
		data := t.TempDir()
		if err := os.WriteFile(filepath.Join(data, hub.TokenFile), []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := ks(t, data, "import", sample(t, 10+10*i)); r.code != 0 {
			t.Fatalf("import: %+v", r)
		}
		u, _ := startHub(t, data, "--addr", net.JoinHostPort(ip, port))
		total += recordCount(getJSON(t, u+"/api/status", token))
		pod := env.CreatePod(t, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("worker-%d", i), Namespace: "kubeshark",
				Labels: map[string]string{"app.kubernetes.io/name": "kubeshark", "app.kubernetes.io/component": "worker"}},
			Spec: corev1.PodSpec{NodeName: fmt.Sprintf("node-%d", i), Containers: []corev1.Container{{Name: "worker", Image: "kubeshark"}}},
		}, corev1.PodRunning, ip)
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		env.SetPodStatus(t, pod, corev1.PodRunning, ip)
	}
	central := t.TempDir()
	if err := os.WriteFile(filepath.Join(central, hub.TokenFile), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u, _ := startHub(t, central, "--addr", "127.0.0.1:0", "--worker-pods", "--kubeconfig", env.Kubeconfig,
		"--worker-namespace", "kubeshark", "--worker-port", port)
	status := getJSON(t, u+"/api/status", token)
	if n := recordCount(status); n != total {
		t.Errorf("the hub holds %d records, the worker pods %d", n, total)
	}
	ws, _ := status["workers"].([]any)
	if len(ws) != 2 || ws[0].(map[string]any)["node"] != "node-0" || ws[1].(map[string]any)["node"] != "node-1" {
		t.Errorf("workers %v, want node-0 and node-1", status["workers"])
	}
}
