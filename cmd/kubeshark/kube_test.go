package main_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeshark-wasm/kubeshark/kube/kubetest"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
)

// rewritePcap copies an Ethernet pcap, replacing IPv4 addresses by addrs
// and fixing the IP and TCP checksums: the synthetic capture's made-up
// addresses become the pod IPs the test created.
func rewritePcap(t *testing.T, in, out string, addrs map[string]string) {
	t.Helper()
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	o, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	w := pcapgo.NewWriterNanos(o)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ip == nil || tcp == nil {
			t.Fatalf("a packet without IPv4/TCP in the sample: %v", p)
		}
		for _, a := range []*[]byte{(*[]byte)(&ip.SrcIP), (*[]byte)(&ip.DstIP)} {
			if to, ok := addrs[netip.AddrFrom4([4]byte(*a)).String()]; ok {
				b := netip.MustParseAddr(to).As4()
				*a = b[:]
			}
		}
		tcp.SetNetworkLayerForChecksum(ip)
		eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, tcp, gopacket.Payload(tcp.Payload)); err != nil {
			t.Fatal(err)
		}
		ci.CaptureLength, ci.Length = len(buf.Bytes()), len(buf.Bytes())
		if err := w.WritePacket(ci, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestImportResolvesAgainstACluster imports a real capture (the cascade
// sample: a client, frontend, orders and payments over real net/http,
// addresses rewritten to pod IPs) against a real API server holding those
// pods, their workloads and services, and reads the names back through
// the CLI, KFL and MCP — also after the cluster is gone, from the history
// kept with the store.
func TestImportResolvesAgainstACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("imports through the wasm dissectors")
	}
	env := kubetest.Start(t)
	ctx := context.Background()
	c := env.Client
	env.CreateNamespace(t, "shop", map[string]string{"team": "commerce"})
	yes := true
	owner := func(kind, name string, uid string, api string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: api, Kind: kind, Name: name, UID: types.UID(uid), Controller: &yes}}
	}
	// frontend and payments are Deployments (through their ReplicaSets),
	// orders a StatefulSet, the client a bare pod.
	for _, d := range []string{"frontend", "payments"} {
		dep, err := c.AppsV1().Deployments("shop").Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: d},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": d}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": d}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "app"}}}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.AppsV1().ReplicaSets("shop").Create(ctx, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: d + "-6f7c9", OwnerReferences: owner("Deployment", d, string(dep.UID), "apps/v1")},
			Spec:       appsv1.ReplicaSetSpec{Selector: dep.Spec.Selector, Template: dep.Spec.Template},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rsUID := func(name string) string {
		rs, err := c.AppsV1().ReplicaSets("shop").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(rs.UID)
	}
	pods := []struct {
		name, ip string
		labels   map[string]string
		owners   []metav1.OwnerReference
		service  string
	}{
		{"loadgen", "10.244.1.5", map[string]string{"app": "loadgen"}, nil, ""},
		{"frontend-6f7c9-abcde", "10.244.1.10", map[string]string{"app": "frontend"}, owner("ReplicaSet", "frontend-6f7c9", rsUID("frontend-6f7c9"), "apps/v1"), "frontend"},
		{"orders-0", "10.244.2.20", map[string]string{"app": "orders"}, owner("StatefulSet", "orders", "0b7a1c2d-0000-4000-8000-000000000001", "apps/v1"), "orders"},
		{"payments-6f7c9-xyz12", "10.244.3.30", map[string]string{"app": "payments"}, owner("ReplicaSet", "payments-6f7c9", rsUID("payments-6f7c9"), "apps/v1"), "payments"},
	}
	for _, p := range pods {
		pod := env.CreatePod(t, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: "shop", Labels: p.labels, OwnerReferences: p.owners},
			Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "app"}}},
		}, corev1.PodRunning, p.ip)
		if p.service == "" {
			continue
		}
		if _, err := c.CoreV1().Services("shop").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: p.service},
			Spec:       corev1.ServiceSpec{Selector: p.labels, Ports: []corev1.ServicePort{{Port: 8080}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DiscoveryV1().EndpointSlices("shop").Create(ctx, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: p.service + "-x1", Labels: map[string]string{discoveryv1.LabelServiceName: p.service}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{p.ip},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: pod.Name, UID: pod.UID}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// The capture was made an hour ago: older than anything the cluster's
	// history knows, so its records are named from the state seen now.
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	orig := cascade(t, start)
	pcap := filepath.Join(t.TempDir(), "cascade-pods.pcap")
	rewritePcap(t, orig, pcap, map[string]string{"10.0.0.5": "10.244.1.5", "10.0.0.10": "10.244.1.10", "10.0.0.20": "10.244.2.20", "10.0.0.30": "10.244.3.30"})

	data := t.TempDir()
	r := ks(t, data, "import", "--kubeconfig", env.Kubeconfig, "--context", "kubetest", pcap)
	if r.code != 0 {
		t.Fatalf("import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("import:\n%s%s", r.stdout, r.stderr)
	out := r.stdout + r.stderr
	for _, want := range []string{`kubernetes: watching context "kubetest"`, "predates what the cluster's history knows"} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q", want)
		}
	}
	all := calls(t, data)
	if len(all) == 0 {
		t.Fatal("no records")
	}
	if !strings.Contains(out, "kubernetes: "+itoa(len(all))+" of "+itoa(len(all))+" records") {
		t.Errorf("import does not say every record was named (%d records)", len(all))
	}
	for _, rec := range all {
		if rec.Src.K8s == nil || rec.Dst.K8s == nil || rec.Src.Namespace != "shop" || rec.Dst.Namespace != "shop" {
			t.Fatalf("record %s not named: %+v → %+v", rec.ID, rec.Src, rec.Dst)
		}
	}

	// KFL2's names.
	check := func(filter string, want func(n int) bool) {
		t.Helper()
		got := calls(t, data, "--filter", filter)
		if !want(len(got)) {
			t.Errorf("%s: %d records", filter, len(got))
		}
	}
	orders := calls(t, data, "--filter", `src.pod.name == "orders-0" && dst.service.name == "payments"`)
	if len(orders) == 0 {
		t.Fatal("no orders → payments calls by pod and service name")
	}
	for _, rec := range orders {
		if rec.Dst.Pod != "payments-6f7c9-xyz12" || rec.Dst.Workload != "payments" || rec.Dst.WorkloadKind != "Deployment" ||
			rec.Src.WorkloadKind != "StatefulSet" || rec.Src.Workload != "orders" || rec.Src.Node != "node-1" || rec.Src.Labels["app"] != "orders" {
			t.Errorf("orders → payments record: %+v → %+v", rec.Src.K8s, rec.Dst.K8s)
		}
	}
	check(`dst.service.name == "payments"`, func(n int) bool { return n == len(orders) })
	check(`src.namespace == "shop" && "shop" in namespaces`, func(n int) bool { return n == len(all) })
	check(`node.name == "node-1"`, func(n int) bool { return n == len(all) })
	check(`local_labels["app"] == "loadgen" && remote_labels["app"] == "frontend"`, func(n int) bool { return n > 0 && n < len(all) })
	check(`src.pod.name == "no-such-pod"`, func(n int) bool { return n == 0 })
	// Namespace labels (not in KFL2): from the namespaces informer.
	check(`src.namespace.labels["team"] == "commerce" && remote_namespace_labels["team"] == "commerce"`, func(n int) bool { return n == len(all) })
	check(`map_get(dst.namespace.labels, "team", "") == "payments"`, func(n int) bool { return n == 0 })
	if all[0].Src.NamespaceLabels["team"] != "commerce" {
		t.Errorf("record JSON lacks the namespace's labels: %+v", all[0].Src.K8s)
	}

	// The table gets a workloads column.
	tbl := ks(t, data, "calls", "--filter", `dst.service.name == "payments"`, "--limit", "3")
	if tbl.code != 0 || !strings.Contains(tbl.stdout, "WORKLOADS") || !strings.Contains(tbl.stdout, "shop/orders → shop/payments") {
		t.Errorf("calls table:\n%s%s", tbl.stdout, tbl.stderr)
	}
	one := ks(t, data, "call", orders[0].ID, "-o", "text")
	if !strings.Contains(one.stdout, "src: pod shop/orders-0 (StatefulSet orders), service shop/orders, node node-1") {
		t.Errorf("call -o text:\n%s", one.stdout)
	}

	t.Run("hub --kubernetes", func(t *testing.T) {
		// Another data directory, imported with no cluster: no names
		// until a hub runs the informers.
		data2 := t.TempDir()
		if r := ks(t, data2, "import", pcap); r.code != 0 {
			t.Fatalf("import: %s", r.stderr)
		}
		if n := len(calls(t, data2, "--filter", `dst.service.name == "orders"`)); n != 0 {
			t.Fatalf("%d named records before any cluster was seen", n)
		}
		h := startHubProcess(t, data2, "--kubernetes", "--kubeconfig", env.Kubeconfig)
		tok := strings.TrimSpace(ks(t, data2, "hub", "token").stdout)
		hc, err := client.NewStreamableHttpClient(h.url+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + tok}))
		if err != nil {
			t.Fatal(err)
		}
		s := mcptest.Connect(t, hc)
		var res struct {
			Calls []struct {
				Src struct{ Pod string } `json:"src"`
			} `json:"calls"`
		}
		s.Get(t, "list_api_calls", map[string]any{"kfl": `dst.service.name == "orders"`}, &res)
		if len(res.Calls) == 0 || res.Calls[0].Src.Pod != "frontend-6f7c9-abcde" {
			t.Errorf("hub --kubernetes: %+v", res.Calls)
		}
		if code := h.stop(t); code != 0 {
			t.Fatalf("hub exit %d", code)
		}
		// What the hub's informers saw stays with the store.
		want := len(calls(t, data, "--filter", `dst.service.name == "orders"`))
		if n := len(calls(t, data2, "--filter", `dst.service.name == "orders"`)); n != want || n == 0 {
			t.Errorf("after the hub stopped: %d named records, want %d (as in the import with --kubeconfig)", n, want)
		}
	})

	t.Run("an account that may not list namespaces", func(t *testing.T) {
		// RBAC written for the other informers: every name still comes,
		// the import says what is missing, and no namespace has labels.
		rules := []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "services", "nodes"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list", "watch"}},
		}
		if _, err := c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "no-namespaces"}, Rules: rules}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "no-namespaces"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "no-namespaces"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "shop", Name: "limited"}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		cfg, err := clientcmd.LoadFromFile(env.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range cfg.AuthInfos {
			a.Impersonate = "system:serviceaccount:shop:limited"
		}
		kc := filepath.Join(t.TempDir(), "limited.kubeconfig")
		if err := clientcmd.WriteToFile(*cfg, kc); err != nil {
			t.Fatal(err)
		}
		var data3 string
		var r result
		// The authorizer applies new RBAC within moments.
		for try := 0; try < 20; try++ {
			data3 = t.TempDir()
			if r = ks(t, data3, "import", "--kubeconfig", kc, "--context", "kubetest", pcap); r.code == 0 || !strings.Contains(r.stderr, "may not list") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if r.code != 0 || !strings.Contains(r.stderr+r.stdout, "namespaces are not watched") || !strings.Contains(r.stderr+r.stdout, "grant list and watch on namespaces") {
			t.Fatalf("import as an account without namespaces: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		got := calls(t, data3)
		named := calls(t, data3, "--filter", `src.pod.name != "" && dst.pod.name != "" && size(src.namespace.labels) == 0 && size(remote_namespace_labels) == 0`)
		if len(got) != len(all) || len(named) != len(all) {
			t.Errorf("%d records, %d named without namespace labels; want all %d", len(got), len(named), len(all))
		}
	})

	// MCP, with no cluster: the history is in the store.
	if err := os.Remove(env.Kubeconfig); err != nil {
		t.Fatal(err)
	}
	mc, err := client.NewStdioMCPClient(binary_, nil, "--data", data, "mcp")
	if err != nil {
		t.Fatal(err)
	}
	s := mcptest.Connect(t, mc)
	var wl struct {
		Hosts []struct {
			IP, Name, Namespace, Pod, Service, Workload, WorkloadKind string
			Labels                                                    map[string]string
			NamespaceLabels                                           map[string]string `json:"namespace_labels"`
		} `json:"hosts"`
	}
	s.Get(t, "list_workloads", map[string]any{"namespace": "shop", "labels": map[string]string{"app": "payments"}}, &wl)
	if len(wl.Hosts) != 1 || wl.Hosts[0].Name != "payments" || wl.Hosts[0].Pod != "payments-6f7c9-xyz12" || wl.Hosts[0].IP != "10.244.3.30" ||
		wl.Hosts[0].NamespaceLabels["team"] != "commerce" {
		t.Errorf("list_workloads by label: %+v", wl.Hosts)
	}
	s.Get(t, "list_workloads", map[string]any{"namespace": "shop"}, &wl)
	inShop := len(wl.Hosts)
	s.Get(t, "list_workloads", map[string]any{"namespace_labels": map[string]string{"team": "commerce"}}, &wl)
	if len(wl.Hosts) != inShop || inShop == 0 {
		t.Errorf("list_workloads by namespace label: %d hosts, want those of shop (%d): %+v", len(wl.Hosts), inShop, wl.Hosts)
	}
	s.Get(t, "list_workloads", map[string]any{"namespace_labels": map[string]string{"team": "payments"}}, &wl)
	if len(wl.Hosts) != 0 {
		t.Errorf("list_workloads by another team's label: %+v", wl.Hosts)
	}
	var sm struct {
		Edges []struct {
			Client, Server string
			Calls          int
		} `json:"edges"`
	}
	s.Get(t, "get_service_map", nil, &sm)
	edges := map[string]bool{}
	for _, e := range sm.Edges {
		edges[e.Client+" → "+e.Server] = true
	}
	for _, want := range []string{"shop/loadgen → shop/frontend", "shop/frontend → shop/orders", "shop/orders → shop/payments"} {
		if !edges[want] {
			t.Errorf("service map lacks %s: %v", want, edges)
		}
	}
	var deps struct {
		Callers []struct{ Client string } `json:"callers"`
	}
	s.Get(t, "get_dependencies", map[string]any{"service": "shop/payments"}, &deps)
	if len(deps.Callers) != 1 || deps.Callers[0].Client != "shop/orders" {
		b, _ := json.Marshal(deps)
		t.Errorf("get_dependencies of payments: %s, want one caller, shop/orders", b)
	}
	var calls struct {
		Calls []struct {
			Src struct{ Pod string } `json:"src"`
		} `json:"calls"`
	}
	s.Get(t, "list_api_calls", map[string]any{"kfl": `dst.service.name == "orders"`}, &calls)
	if len(calls.Calls) == 0 || calls.Calls[0].Src.Pod != "frontend-6f7c9-abcde" {
		t.Errorf("list_api_calls by dst.service.name: %+v", calls.Calls)
	}
}

// TestTapKubernetes captures live traffic with tap --kubernetes: curl on
// the host (a pod's IP) calls nginx in a network namespace (a StatefulSet
// pod behind a service), and the records carry their names while tap runs
// and after it stops.
func TestTapKubernetes(t *testing.T) {
	requireTap(t)
	env := kubetest.Start(t)
	ctx := context.Background()
	n := newTestNet(t)
	n.servers(t)
	env.CreateNamespace(t, "web", nil)
	yes := true
	server := env.CreatePod(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx-0", Namespace: "web", Labels: map[string]string{"app": "nginx"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "nginx", UID: "0b7a1c2d-0000-4000-8000-00000000000a", Controller: &yes}}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}, corev1.PodRunning, n.nsIP)
	env.CreatePod(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "web", Labels: map[string]string{"app": "client"}},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "curl"}}},
	}, corev1.PodRunning, n.hostIP)
	if _, err := env.Client.CoreV1().Services("web").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "nginx"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.DiscoveryV1().EndpointSlices("web").Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "nginx-1", Labels: map[string]string{discoveryv1.LabelServiceName: "nginx"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{n.nsIP}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "web", Name: server.Name, UID: server.UID}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	tap := startTap(t, data, "--filter", "host "+n.nsIP+" and tcp port 80", "--kubernetes", "--kubeconfig", env.Kubeconfig)
	if !strings.Contains(tap.out.String(), `kubernetes: watching context "kubetest"`) {
		t.Errorf("tap does not say it watches the cluster:\n%s", tap.out)
	}
	for range 3 {
		curl(t, "http://"+n.nsIP+"/t/hello")
	}
	named := `http && src.pod.name == "client" && dst.pod.name == "nginx-0" && dst.service.name == "nginx" && "web" in namespaces`
	tap.waitCalls(t, data, named, 3)
	if code := tap.stop(t, syscall.SIGINT); code != 0 {
		t.Fatalf("tap exit %d", code)
	}
	recs := calls(t, data, "--filter", named)
	if len(recs) != 3 {
		t.Fatalf("after tap stopped: %d named records, want 3", len(recs))
	}
	if d := recs[0].Dst; d.WorkloadKind != "StatefulSet" || d.Workload != "nginx" || d.Node != "node-1" || d.Name != "nginx" {
		t.Errorf("server: %+v %+v", d, d.K8s)
	}
}

// TestImportKubeconfigErrors: a kubeconfig that names no cluster, or a
// cluster nobody answers for, is a clear error before anything is stored.
func TestImportKubeconfigErrors(t *testing.T) {
	dir := t.TempDir()
	dead := filepath.Join(dir, "dead.kubeconfig")
	if err := os.WriteFile(dead, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: dead, context: {cluster: c, user: u}}]
current-context: dead
`), 0o600); err != nil {
		t.Fatal(err)
	}
	pcap := sample(t, 5)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--kubeconfig", filepath.Join(dir, "missing")}, "kubernetes: no cluster from " + filepath.Join(dir, "missing")},
		{[]string{"--kubeconfig", dead, "--context", "other"}, `context "other"`},
		{[]string{"--kubeconfig", dead}, "is the API server reachable?"},
	} {
		data := t.TempDir()
		r := ks(t, data, append([]string{"import", pcap}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("import %v: exit %d, stderr %q; want an error with %q", c.args, r.code, r.stderr, c.want)
		}
		if n := len(calls(t, data)); n != 0 {
			t.Errorf("import %v stored %d records before failing", c.args, n)
		}
	}
}
