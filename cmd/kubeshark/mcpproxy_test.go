package main_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/kubeshark-wasm/kubeshark/kube/hubauth"
	"github.com/kubeshark-wasm/kubeshark/kube/kubetest"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
	"github.com/kubeshark-wasm/kubeshark/plugins/plugintest"
)

// kprxNet is a network namespace joined to the host by a veth pair: the
// API server's service proxy refuses loopback and link-local endpoints, so
// the hub listens on the namespace's side of the veth, as a pod would on
// its pod IP, and the API server (host side) reaches it there.
type kprxNet struct {
	ns, hostIP, nsIP string
}

func newKprxNet(t *testing.T) *kprxNet {
	t.Helper()
	id := rand.IntN(1 << 20)
	n := &kprxNet{ns: fmt.Sprintf("kprx%05x", id)}
	hostIf, nsIf := n.ns+"h", n.ns+"n"
	sub := id % 250
	n.hostIP, n.nsIP = fmt.Sprintf("10.214.%d.1", sub), fmt.Sprintf("10.214.%d.2", sub)
	run(t, "ip", "netns", "add", n.ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.ns).Run() })
	run(t, "ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	t.Cleanup(func() { exec.Command("ip", "link", "del", hostIf).Run() })
	run(t, "ip", "link", "set", nsIf, "netns", n.ns)
	run(t, "ip", "addr", "add", n.hostIP+"/30", "dev", hostIf)
	run(t, "ip", "link", "set", hostIf, "up")
	run(t, "ip", "netns", "exec", n.ns, "ip", "addr", "add", n.nsIP+"/30", "dev", nsIf)
	run(t, "ip", "netns", "exec", n.ns, "ip", "link", "set", nsIf, "up")
	run(t, "ip", "netns", "exec", n.ns, "ip", "link", "set", "lo", "up")
	return n
}

// kprxCluster is the test's cluster: what `kubeshark tap --cluster` would
// install around a hub, made by hand.
type kprxCluster struct {
	env *kubetest.Env
	net *kprxNet
}

func (k *kprxCluster) must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("creating %s: %v", what, err)
	}
}

// install makes, in ns: the client ServiceAccount, the hub's pod (its IP
// the namespace's address), its Service kubeshark-hub with port "http",
// and, when hubPort is not zero, an EndpointSlice pointing at the pod on
// hubPort.
func (k *kprxCluster) install(t *testing.T, ns string, service bool, hubPort int32) {
	t.Helper()
	ctx := context.Background()
	c := k.env.Client
	k.env.CreateNamespace(t, ns, nil)
	_, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: hubauth.ClientServiceAccount}}, metav1.CreateOptions{})
	k.must(t, "the client ServiceAccount", err)
	if !service {
		return
	}
	pod := k.env.CreatePod(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "kubeshark-hub-0", Namespace: ns, Labels: map[string]string{"app": "kubeshark-hub"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "hub", Image: "kubeshark"}}},
	}, corev1.PodRunning, k.net.nsIP)
	_, err = c.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: hubauth.ServiceName, Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "kubeshark-hub"},
			Ports: []corev1.ServicePort{{Name: hubauth.ServicePort, Port: 80, TargetPort: intstr.FromInt32(8898)}}},
	}, metav1.CreateOptions{})
	k.must(t, "the Service", err)
	if hubPort == 0 {
		return
	}
	_, err = c.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: hubauth.ServiceName + "-1", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: hubauth.ServiceName}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{k.net.nsIP}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod.Name, UID: pod.UID}}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To(hubauth.ServicePort), Port: ptr.To(hubPort), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}, metav1.CreateOptions{})
	k.must(t, "the EndpointSlice", err)
}

// role creates a Role with rules in ns bound to the subjects.
func (k *kprxCluster) role(t *testing.T, ns, name string, rules []rbacv1.PolicyRule, subjects ...rbacv1.Subject) {
	t.Helper()
	ctx := context.Background()
	_, err := k.env.Client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{})
	k.must(t, "Role "+name, err)
	_, err = k.env.Client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}, Subjects: subjects}, metav1.CreateOptions{})
	k.must(t, "RoleBinding "+name, err)
}

// kubeconfig writes a kubeconfig for server: as user (impersonated by the
// admin, who may) when user is not empty, with token otherwise.
func (k *kprxCluster) kubeconfig(t *testing.T, server, user, token string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(k.env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = server
	}
	for _, a := range cfg.AuthInfos {
		if user != "" {
			a.Impersonate = user
		}
		if token != "" {
			a.Token = token
		}
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// mcpProxy starts `kubeshark mcp --proxy` with args under an MCP client
// and returns the session and the server's stderr so far.
func mcpProxy(t *testing.T, env []string, args ...string) (*mcptest.Session, func() string) {
	t.Helper()
	c, err := client.NewStdioMCPClient(binary_, env, append([]string{"--data", t.TempDir(), "mcp", "--proxy"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	stderr, _ := client.GetStderr(c)
	var mu sync.Mutex
	var got bytes.Buffer
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := stderr.Read(b)
			mu.Lock()
			got.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	s := mcptest.Connect(t, c)
	if len(s.Tools) < 8 {
		t.Fatalf("%d tools listed", len(s.Tools))
	}
	return s, func() string { mu.Lock(); defer mu.Unlock(); return got.String() }
}

// callFails calls get_data_boundaries and checks that it fails with a
// message holding every one of want.
func callFails(t *testing.T, s *mcptest.Session, want ...string) string {
	t.Helper()
	res := s.Call(t, "get_data_boundaries", nil)
	text := mcptest.Text(res)
	if !res.IsError {
		t.Fatalf("the call succeeded: %s", text)
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Fatalf("the call's error %q lacks %q", text, w)
		}
	}
	if strings.Contains(text, "failed to send request") {
		t.Fatalf("the call's error %q carries the transport's wrapping", text)
	}
	t.Logf("the call says: %s", text)
	return text
}

// TestMCPProxy drives `kubeshark mcp --proxy` with mcp-go's client over
// stdio against a real API server whose service proxy reaches a real
// `kubeshark hub --auth kubernetes` (in a network namespace, on a veth
// address, as a pod would be), which verifies each token with TokenReview
// and RBAC.
func TestMCPProxy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the hub runs in a network namespace the test makes (the API server refuses to proxy to loopback)")
	}
	if testing.Short() {
		t.Skip("imports through the wasm dissectors and starts an API server")
	}
	n := newKprxNet(t)
	env := kubetest.StartWith(t, kubetest.Options{BindAddress: n.hostIP})
	k := &kprxCluster{env: env, net: n}
	ctx := context.Background()

	data := t.TempDir()
	pcap := filepath.Join(t.TempDir(), "cascade.pcap")
	if r := ks(t, data, "sample", "--scenario", "cascade", "--start", "2026-11-20T14:00:00Z", pcap); r.code != 0 {
		t.Fatalf("sample: %s", r.stderr)
	}
	if r := ks(t, data, "import", pcap); r.code != 0 {
		t.Fatalf("import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	const ns = "kubeshark"
	k.install(t, ns, true, 8898)
	// The hub's ServiceAccount may review tokens (system:auth-delegator,
	// as the chart binds it) and nothing else.
	_, err := env.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "kubeshark-hub"}}, metav1.CreateOptions{})
	k.must(t, "the hub's ServiceAccount", err)
	_, err = env.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kprx-hub-auth-delegator"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "kubeshark-hub", Namespace: ns}}}, metav1.CreateOptions{})
	k.must(t, "the hub's ClusterRoleBinding", err)
	hubTok, err := env.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "kubeshark-hub", &authnv1.TokenRequest{}, metav1.CreateOptions{})
	k.must(t, "the hub's token", err)
	// The client ServiceAccount's one right: reaching the hub.
	clientRule := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"services/proxy"}, ResourceNames: []string{hubauth.ProxyResourceName}, Verbs: []string{"get"}}
	// The API server checks the HTTP method's verb on services/proxy:
	// MCP posts (create), may open a stream (get) and ends its session
	// (delete).
	proxyRule := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"services/proxy"}, ResourceNames: []string{hubauth.ProxyResourceName}, Verbs: []string{"get", "create", "delete"}}
	tokenRule := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, ResourceNames: []string{hubauth.ClientServiceAccount}, Verbs: []string{"create"}}
	k.role(t, ns, "kubeshark-mcp-client", []rbacv1.PolicyRule{clientRule},
		rbacv1.Subject{Kind: "ServiceAccount", Name: hubauth.ClientServiceAccount, Namespace: ns})
	// alice has the user Role the README documents; bob may get a token
	// but not use the service proxy; carol may use the service proxy but
	// not get a token.
	k.role(t, ns, "kubeshark-mcp-user", []rbacv1.PolicyRule{proxyRule, tokenRule},
		rbacv1.Subject{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"})
	k.role(t, ns, "bob", []rbacv1.PolicyRule{tokenRule}, rbacv1.Subject{Kind: "User", APIGroup: rbacv1.GroupName, Name: "bob"})
	k.role(t, ns, "carol", []rbacv1.PolicyRule{proxyRule}, rbacv1.Subject{Kind: "User", APIGroup: rbacv1.GroupName, Name: "carol"})

	hubKubeconfig := k.kubeconfig(t, env.URL, "", hubTok.Status.Token)
	h := startHubCommand(t, exec.Command("ip", "netns", "exec", n.ns, binary_, "--data", data, "hub",
		"--addr", n.nsIP+":8898", "--auth", "kubernetes", "--kubeconfig", hubKubeconfig, "--namespace", ns, "--allow-destructive"))
	h.wait(t, regexp.MustCompile(`(authentication: Kubernetes ServiceAccount tokens)`))
	if _, err := os.Stat(filepath.Join(data, "hub.token")); err == nil {
		t.Fatal("a hub with --auth kubernetes wrote a bearer token")
	}

	t.Run("answers", func(t *testing.T) {
		s, stderr := mcpProxy(t, nil, "--kubeconfig", k.kubeconfig(t, env.URL, "alice", ""))
		var calls struct{ Returned int }
		s.Get(t, "list_api_calls", map[string]any{"kfl": "http && status_code == 503", "limit": 1000}, &calls)
		if calls.Returned != 60 {
			t.Fatalf("%d 503s through the proxy; the cascade sends 60", calls.Returned)
		}
		var b struct {
			Records struct{ Count int } `json:"records"`
		}
		s.Get(t, "get_data_boundaries", nil, &b)
		if b.Records.Count < 282 {
			t.Fatalf("%d records through the proxy", b.Records.Count)
		}
		waitForText(t, stderr, "hub kubeshark/kubeshark-hub answers through the Kubernetes API and accepted the token")
	})

	// `kubeshark plugin ... --proxy` sends /api/plugins through the same
	// transport: installed, listed, disabled and removed on the hub, as
	// alice; carol, who may not get a token, is told which permission.
	t.Run("plugin commands through --proxy", func(t *testing.T) {
		module := plugintest.WritePingPong(t, t.TempDir())
		alice := []string{"--proxy", "--kubeconfig", k.kubeconfig(t, env.URL, "alice", "")}
		plugin := func(args ...string) result {
			t.Helper()
			return ks(t, t.TempDir(), append(append([]string{"plugin"}, args...), alice...)...)
		}
		if r := plugin("list"); r.code != 0 || !strings.Contains(r.stdout, "no plugins installed") {
			t.Fatalf("list before: %+v", r)
		}
		// The hub's trust store does not know the module's (absent) key.
		if r := plugin("install", module); r.code == 0 || !strings.Contains(r.stderr, "unsigned") || !strings.Contains(r.stderr, "the hub kubeshark/kubeshark-hub (through the Kubernetes API)") {
			t.Fatalf("install unsigned without --allow-unsigned: %+v", r)
		}
		r := plugin("install", module, "--allow-unsigned")
		if r.code != 0 || !strings.Contains(r.stdout, "installed pingpong 1.0.0") || !strings.Contains(r.stdout, "into the hub kubeshark/kubeshark-hub (through the Kubernetes API)") {
			t.Fatalf("install through --proxy: %+v", r)
		}
		// It went into the hub's store, not the client's.
		if r := ks(t, data, "plugin", "list"); r.code != 0 || !strings.Contains(r.stdout, "pingpong") {
			t.Fatalf("the hub's data directory: %+v", r)
		}
		if r := plugin("list", "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"name": "pingpong"`) || !strings.Contains(r.stdout, `"enabled": true`) {
			t.Fatalf("list after install: %+v", r)
		}
		if r := plugin("disable", "pingpong"); r.code != 0 {
			t.Fatalf("disable: %+v", r)
		}
		if r := plugin("list", "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"enabled": false`) {
			t.Fatalf("list after disable: %+v", r)
		}
		if r := plugin("remove", "pingpong"); r.code != 0 {
			t.Fatalf("remove: %+v", r)
		}
		if r := plugin("list"); r.code != 0 || !strings.Contains(r.stdout, "no plugins installed") {
			t.Fatalf("list after remove: %+v", r)
		}
		r = ks(t, t.TempDir(), "plugin", "list", "--proxy", "--kubeconfig", k.kubeconfig(t, env.URL, "carol", ""))
		if r.code == 0 || !strings.Contains(r.stderr, "create on serviceaccounts/token (resourceNames kubeshark-mcp-client) in namespace kubeshark") {
			t.Fatalf("list as carol: %+v", r)
		}
		r = ks(t, t.TempDir(), "plugin", "list", "--proxy", "--kubeconfig", env.Kubeconfig, "--namespace", "kprx-plugin-nothing")
		if r.code == 0 || !strings.Contains(r.stderr, `no hub installed in namespace "kprx-plugin-nothing"`) {
			t.Fatalf("list where no hub is: %+v", r)
		}
	})

	// The service proxy itself, with the admin's credentials, and tokens
	// the hub must refuse.
	t.Run("hub refuses other tokens", func(t *testing.T) {
		rt, err := rest.TransportFor(env.Config)
		if err != nil {
			t.Fatal(err)
		}
		get := func(tok string) (int, string) {
			req, _ := http.NewRequest("GET", env.URL+"/api/v1/namespaces/"+ns+"/services/"+hubauth.ServiceName+":http/proxy/api/status", nil)
			if tok != "" {
				req.Header.Set(hubauth.Header, tok)
			}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			return resp.StatusCode, b.String()
		}
		mk := func(sa, aud string) string {
			tr, err := env.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authnv1.TokenRequest{
				Spec: authnv1.TokenRequestSpec{Audiences: []string{aud}, ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return tr.Status.Token
		}
		for _, tc := range []struct {
			name, token string
			status      int
			body        string
		}{
			{"kubeshark token", mk(hubauth.ClientServiceAccount, hubauth.Audience), 200, "records"},
			{"API server audience", mk(hubauth.ClientServiceAccount, "https://kubernetes.default.svc"), 401, "token rejected"},
			{"hub's own SA", mk("kubeshark-hub", hubauth.Audience), 403, "may not get services/proxy"},
			{"no token", "", 401, "no token"},
		} {
			if code, body := get(tc.token); code != tc.status || !strings.Contains(body, tc.body) {
				t.Errorf("%s: %d %q, want %d with %q", tc.name, code, body, tc.status, tc.body)
			}
		}
	})

	t.Run("forbidden names the permission", func(t *testing.T) {
		s, _ := mcpProxy(t, nil, "--kubeconfig", k.kubeconfig(t, env.URL, "bob", ""))
		callFails(t, s, "forbidden", `cannot create resource "services/proxy"`, "create on services/proxy", "port-forward")
		s, _ = mcpProxy(t, nil, "--kubeconfig", k.kubeconfig(t, env.URL, "carol", ""))
		callFails(t, s, "forbidden", "create on serviceaccounts/token (resourceNames kubeshark-mcp-client) in namespace kubeshark")
	})

	t.Run("no hub installed", func(t *testing.T) {
		k.install(t, "kprx-nosvc", false, 0)
		s, stderr := mcpProxy(t, nil, "--kubeconfig", env.Kubeconfig, "--namespace", "kprx-nosvc")
		callFails(t, s, "no hub installed: Service kprx-nosvc/kubeshark-hub not found", "kubeshark tap --cluster")
		waitForText(t, stderr, "serving the tools anyway")
		s, _ = mcpProxy(t, nil, "--kubeconfig", env.Kubeconfig, "--namespace", "kprx-nothing")
		callFails(t, s, `no hub installed in namespace "kprx-nothing"`)
	})

	t.Run("hub not ready", func(t *testing.T) {
		k.install(t, "kprx-notready", true, 0)
		s, _ := mcpProxy(t, nil, "--kubeconfig", env.Kubeconfig, "--namespace", "kprx-notready")
		callFails(t, s, "the hub is not ready", "no endpoints available", "kubectl -n kprx-notready get pods")
	})

	// The API server cannot reach the hub pod (nothing listens on the
	// endpoint's port): the proxy is refused and a port-forward is tried.
	// Without a kubelet a real port-forward cannot run here, so it fails
	// too; the message says both. (The decision itself is unit-tested in
	// kube/hubproxy.)
	t.Run("port-forward tried when the proxy cannot reach the pod", func(t *testing.T) {
		k.install(t, "kprx-refused", true, 8899)
		s, _ := mcpProxy(t, nil, "--kubeconfig", env.Kubeconfig, "--namespace", "kprx-refused")
		callFails(t, s, "could not reach the hub", "the port-forward tried instead failed too", "kubeshark-hub-0")
	})

	t.Run("API server unreachable", func(t *testing.T) {
		s, stderr := mcpProxy(t, nil, "--kubeconfig", k.kubeconfig(t, "https://127.0.0.1:"+itoa(freePort(t)), "", ""))
		callFails(t, s, "the Kubernetes API server https://127.0.0.1:", "is unreachable", "connection refused")
		waitForText(t, stderr, "is unreachable")
	})

	t.Run("no kubeconfig", func(t *testing.T) {
		s, _ := mcpProxy(t, []string{"HOME=" + t.TempDir(), "KUBECONFIG="})
		callFails(t, s, "no kubeconfig found", "--kubeconfig")
		s, _ = mcpProxy(t, nil, "--kubeconfig", "/nonexistent/kubeconfig")
		callFails(t, s, "kubeconfig /nonexistent/kubeconfig cannot be used")
	})

	if code := h.stop(t); code != 0 {
		t.Fatalf("hub exit %d:\n%s", code, h.stderr())
	}
}

// waitForText waits until out() holds want.
func waitForText(t *testing.T, out func() string, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(out(), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stderr %q lacks %q", out(), want)
		}
	}
}
