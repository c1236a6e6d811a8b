package kube

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/snapshot"
)

var t0 = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func podInfo(name string) *Binding {
	return &Binding{Name: name, Namespace: "shop", Node: "n1", WorkloadKind: "Deployment", Workload: name + "-deploy", Labels: map[string]string{"app": name}}
}

func name(h *History, ip string, cg uint64, t time.Time) string {
	e := sdk.Endpoint{IP: ip}
	h.ResolveEndpoint(&e, cg, t)
	if e.K8s == nil {
		return ""
	}
	return e.Pod + "|" + e.Service + "|" + e.Node
}

// openStore opens a store for one test and closes it when the test ends.
func openStore(t *testing.T, o storage.Options) *storage.Store {
	t.Helper()
	st, err := storage.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// observer gives a history over st and a function that feeds it one
// observation, failing the test on an error.
func observer(ctx context.Context, t *testing.T, st *storage.Store) (*History, func(kind, uid string, want map[string]*Binding, from, now time.Time)) {
	h := NewHistory(st, nil)
	return h, func(kind, uid string, want map[string]*Binding, from, now time.Time) {
		t.Helper()
		if err := h.Observe(ctx, kind, uid, want, from, now); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHistoryIntervals drives the history with explicit times: the
// informer tests (watch_test.go) cover the same rules against a real API
// server, where times are the moments events arrive.
func TestHistoryIntervals(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, storage.Options{InMemory: true})
	h, obs := observer(ctx, t, st)
	// Listed at 100 s: pod a, created at 10 s, holds X.
	obs(KindPod, "uid-a", map[string]*Binding{"10.0.0.1": podInfo("a")}, at(10), at(100))
	// Pod a is deleted at 200 s; pod b takes X at 300 s.
	obs(KindPod, "uid-a", nil, at(200), at(200))
	obs(KindPod, "uid-b", map[string]*Binding{"10.0.0.1": podInfo("b")}, at(300), at(300))
	// Pod c takes Y at 400 s and, without its end being seen, pod d takes
	// Y at 500 s (a missed delete): c ends where d starts.
	obs(KindPod, "uid-c", map[string]*Binding{"10.0.0.2": podInfo("c")}, at(400), at(400))
	obs(KindPod, "uid-d", map[string]*Binding{"10.0.0.2": podInfo("d")}, at(500), at(500))
	// A service, and b listed in its endpoints from 350 s.
	obs(KindService, "uid-s", map[string]*Binding{"10.96.0.10": {Name: "checkout", Namespace: "shop"}}, at(100), at(100))
	obs(KindEndpoint, "uid-slice", map[string]*Binding{"10.0.0.1": {Service: "checkout", Namespace: "shop"}}, at(350), at(350))
	// A node address.
	obs(KindNode, "uid-n", map[string]*Binding{"192.168.1.1": {Name: "n1"}}, at(100), at(100))

	for _, c := range []struct {
		ip   string
		t    time.Time
		want string
	}{
		{"10.0.0.1", at(5), "a||n1"},   // before the history: the first state known
		{"10.0.0.1", at(50), "a||n1"},  // listed pods hold their IP from creation
		{"10.0.0.1", at(199), "a||n1"}, //
		{"10.0.0.1", at(250), ""},      // between holders: nobody
		{"10.0.0.1", at(320), "b||n1"}, // the new holder
		{"10.0.0.1", at(360), "b|checkout|n1"},
		{"10.0.0.2", at(450), "c||n1"},
		{"10.0.0.2", at(550), "d||n1"},
		{"10.96.0.10", at(360), "|checkout|"},
		{"192.168.1.1", at(360), "||n1"},
		{"10.9.9.9", at(360), ""},
		{"::ffff:10.0.0.1", at(320), "b||n1"}, // IPv4-mapped
	} {
		if got := name(h, c.ip, 0, c.t); got != c.want {
			t.Errorf("%s at +%v: %q, want %q", c.ip, c.t.Sub(t0), got, c.want)
		}
	}

	// Labels change at 600 s: records before keep the old labels.
	info := podInfo("b")
	info.Labels = map[string]string{"app": "b", "version": "2"}
	obs(KindPod, "uid-b", map[string]*Binding{"10.0.0.1": info}, at(600), at(600))
	e := sdk.Endpoint{IP: "10.0.0.1"}
	h.ResolveEndpoint(&e, 0, at(590))
	if e.Labels["version"] != "" {
		t.Errorf("labels before the change: %v", e.Labels)
	}
	e = sdk.Endpoint{IP: "10.0.0.1"}
	h.ResolveEndpoint(&e, 0, at(610))
	if e.Labels["version"] != "2" || e.Name != "checkout" || e.Workload != "b-deploy" || e.Namespace != "shop" {
		t.Errorf("after the change: %+v %+v", e, e.K8s)
	}

	// Cgroups: two pods on the node's IP (hostNetwork) told apart by the
	// socket's cgroup.
	obs(KindPodUID, "uid-h1", map[string]*Binding{"uid-h1": podInfo("h1")}, at(100), at(100))
	obs(KindPodUID, "uid-h2", map[string]*Binding{"uid-h2": podInfo("h2")}, at(100), at(100))
	if err := h.ObserveCgroups(ctx, []CgroupEntry{{ID: 1001, PodUID: "uid-h1", ContainerID: "c1"}, {ID: 1002, PodUID: "uid-h2"}}, at(700)); err != nil {
		t.Fatal(err)
	}
	if got := name(h, "192.168.1.1", 1001, at(710)); got != "h1||n1" {
		t.Errorf("cgroup 1001: %q", got)
	}
	if got := name(h, "192.168.1.1", 1002, at(710)); got != "h2||n1" {
		t.Errorf("cgroup 1002: %q", got)
	}
	if got := name(h, "192.168.1.1", 0, at(710)); got != "||n1" {
		t.Errorf("no cgroup: %q", got)
	}
	// h2's cgroup goes away at 800 s.
	if err := h.ObserveCgroups(ctx, []CgroupEntry{{ID: 1001, PodUID: "uid-h1", ContainerID: "c1"}}, at(800)); err != nil {
		t.Fatal(err)
	}
	if got := name(h, "192.168.1.1", 1002, at(810)); got != "||n1" {
		t.Errorf("cgroup 1002 after it went: %q", got)
	}

	// Reconcile: pod d was deleted while nobody watched.
	if err := h.Reconcile(ctx, KindPod, map[string]bool{"uid-b": true}, at(900)); err != nil {
		t.Fatal(err)
	}
	if got := name(h, "10.0.0.2", 0, at(910)); got != "" {
		t.Errorf("after reconcile: %q", got)
	}
	if got := name(h, "10.0.0.1", 0, at(910)); got != "b|checkout|n1" {
		t.Errorf("present pod after reconcile: %q", got)
	}

	// Everything is read back from the store.
	h2, err := LoadHistory(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h2.Len() != h.Len() || !h2.Since().Equal(h.Since()) {
		t.Fatalf("reloaded %d bindings since %v, want %d since %v", h2.Len(), h2.Since(), h.Len(), h.Since())
	}
	for _, c := range []struct {
		ip string
		cg uint64
		t  time.Time
	}{{"10.0.0.1", 0, at(50)}, {"10.0.0.1", 0, at(250)}, {"10.0.0.1", 0, at(360)}, {"10.0.0.2", 0, at(450)}, {"10.0.0.2", 0, at(910)}, {"192.168.1.1", 1001, at(710)}, {"10.96.0.10", 0, at(360)}} {
		if a, b := name(h, c.ip, c.cg, c.t), name(h2, c.ip, c.cg, c.t); a != b {
			t.Errorf("%s at +%v: %q live, %q reloaded", c.ip, c.t.Sub(t0), a, b)
		}
	}
}

// TestHistoryWaitsForAStore: bindings seen while no store is open are
// saved by the next SetAux, and a closed store is not an error.
func TestHistoryWaitsForAStore(t *testing.T) {
	ctx := context.Background()
	h := NewHistory(nil, nil)
	if err := h.Observe(ctx, KindPod, "u", map[string]*Binding{"10.0.0.1": podInfo("a")}, at(0), at(0)); err != nil {
		t.Fatal(err)
	}
	closed, err := storage.Open(ctx, storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if err := h.SetAux(ctx, closed); err != nil {
		t.Fatalf("a closed store: %v", err)
	}
	if h.Pending() == 0 {
		t.Fatal("nothing pending after a closed store")
	}
	st, err := storage.Open(ctx, storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := h.SetAux(ctx, st); err != nil {
		t.Fatal(err)
	}
	if h.Pending() != 0 {
		t.Fatalf("%d still pending", h.Pending())
	}
	h2, err := LoadHistory(ctx, st, nil)
	if err != nil || h2.Len() != 1 {
		t.Fatalf("reloaded %d bindings, %v", h2.Len(), err)
	}
}

// TestStoreResolves: records, summaries and flows come out of the store
// named; the per-minute statistics are kept per history generation.
func TestStoreResolves(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, storage.Options{InMemory: true})
	ts := time.Now().Add(-time.Hour)
	if err := st.Put(ctx, []*sdk.Record{{Protocol: "http", Timestamp: ts, Stream: "f1", Method: "GET", Path: "/",
		Src: sdk.Endpoint{IP: "10.0.0.1", Port: 5000}, Dst: sdk.Endpoint{IP: "10.96.0.10", Port: 80}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutFlows(ctx, []*sdk.Flow{{ID: "f1", Transport: "tcp", Start: ts, End: ts.Add(time.Second),
		Client: sdk.Endpoint{IP: "10.0.0.1", Port: 5000}, Server: sdk.Endpoint{IP: "10.96.0.10", Port: 80}}}); err != nil {
		t.Fatal(err)
	}
	h := NewHistory(st, nil)
	g0 := h.Generation()
	if err := h.Observe(ctx, KindPod, "ua", map[string]*Binding{"10.0.0.1": podInfo("a")}, ts.Add(-time.Hour), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := h.Observe(ctx, KindService, "us", map[string]*Binding{"10.96.0.10": {Name: "checkout", Namespace: "shop"}}, ts.Add(-time.Hour), time.Now()); err != nil {
		t.Fatal(err)
	}
	if h.Generation() == g0 {
		t.Error("bindings reaching back in time did not change the generation")
	}
	page, err := st.Query(ctx, storage.Query{})
	if err != nil || len(page.Records) != 1 || page.Records[0].Src.K8s != nil {
		t.Fatalf("before SetResolver: %v %+v", err, page.Records)
	}
	st.SetResolver(h)
	page, err = st.Query(ctx, storage.Query{})
	if err != nil || len(page.Records) != 1 {
		t.Fatal(err)
	}
	r := page.Records[0]
	if r.Src.Pod != "a" || r.Src.Name != "a-deploy" || r.Dst.Service != "checkout" || r.Dst.Name != "checkout" || r.Dst.Namespace != "shop" {
		t.Errorf("queried: %+v %+v", r.Src, r.Dst)
	}
	got, err := st.Get(ctx, r.ID)
	if err != nil || got.Src.Pod != "a" {
		t.Errorf("get: %v %+v", err, got)
	}
	f, err := st.Flow(ctx, "f1")
	if err != nil || f.Client.Pod != "a" || f.Server.Service != "checkout" {
		t.Errorf("flow: %v %+v", err, f)
	}
	fp, err := st.Flows(ctx, storage.FlowQuery{})
	if err != nil || len(fp.Flows) != 1 || fp.Flows[0].Client.Workload != "a-deploy" {
		t.Errorf("flows: %v %+v", err, fp.Flows)
	}
}

// TestStoreResolvesByCgroup: records and flows that live capture stored
// with their sockets' cgroups resolve to the pod of each cgroup, although
// both pods send from the node's address (hostNetwork).
func TestStoreResolvesByCgroup(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, storage.Options{Dir: t.TempDir()})
	ts := time.Now().Add(-time.Minute)
	node := func(cg uint64) sdk.Endpoint {
		return sdk.Endpoint{IP: "192.168.1.1", Port: 40000 + uint16(cg%1000), Process: &sdk.Process{PID: 7, Comm: "curl", CgroupID: cg}}
	}
	if err := st.Put(ctx, []*sdk.Record{
		{Protocol: "http", Timestamp: ts, Stream: "s1", Method: "GET", Path: "/one", Src: node(1001), Dst: sdk.Endpoint{IP: "10.0.0.2", Port: 80}},
		{Protocol: "http", Timestamp: ts.Add(time.Millisecond), Stream: "s2", Method: "GET", Path: "/two", Src: node(1002), Dst: sdk.Endpoint{IP: "10.0.0.2", Port: 80}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutFlows(ctx, []*sdk.Flow{{ID: "s2", Transport: "tcp", Start: ts, End: ts.Add(time.Second),
		Client: node(1002), Server: sdk.Endpoint{IP: "10.0.0.2", Port: 80}}}); err != nil {
		t.Fatal(err)
	}
	h := NewHistory(st, nil)
	for _, p := range []string{"h1", "h2"} {
		if err := h.Observe(ctx, KindPodUID, "uid-"+p, map[string]*Binding{"uid-" + p: podInfo(p)}, ts.Add(-time.Hour), ts.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.ObserveCgroups(ctx, []CgroupEntry{{ID: 1001, PodUID: "uid-h1"}, {ID: 1002, PodUID: "uid-h2"}}, ts.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	st.SetResolver(h)
	page, err := st.Query(ctx, storage.Query{})
	if err != nil || len(page.Records) != 2 {
		t.Fatalf("query: %v %+v", err, page.Records)
	}
	got := map[string]string{}
	for _, r := range page.Records {
		if r.Src.K8s != nil {
			got[r.Path] = r.Src.Pod
		}
	}
	if got["/one"] != "h1" || got["/two"] != "h2" {
		t.Errorf("pods by cgroup: %v", got)
	}
	f, err := st.Flow(ctx, "s2")
	if err != nil || f.Client.K8s == nil || f.Client.Pod != "h2" {
		t.Errorf("flow: %v %+v", err, f.Client)
	}
}

// TestSnapshotCarriesHistory: a snapshot copies the workload history, and a
// snapshot store opened with the history it holds names its records.
func TestSnapshotCarriesHistory(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, storage.Options{Dir: t.TempDir()})
	ts := time.Now().Add(-time.Minute)
	if err := st.Put(ctx, []*sdk.Record{{Protocol: "http", Timestamp: ts, Method: "GET", Path: "/",
		Src: sdk.Endpoint{IP: "10.0.0.1", Port: 5000}, Dst: sdk.Endpoint{IP: "10.0.0.2", Port: 80}}}); err != nil {
		t.Fatal(err)
	}
	h := NewHistory(st, nil)
	for ip, n := range map[string]string{"10.0.0.1": "client", "10.0.0.2": "server"} {
		if err := h.Observe(ctx, KindPod, "uid-"+n, map[string]*Binding{ip: podInfo(n)}, ts.Add(-time.Hour), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	m, err := snapshot.Open(ctx, snapshot.Options{Dir: t.TempDir(), Prepare: func(ctx context.Context, s *storage.Store) error {
		sh, err := LoadHistory(ctx, s, nil)
		if err == nil && sh.Len() > 0 {
			s.SetResolver(sh)
		}
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	info, err := m.Create(ctx, st, "s", ts.Add(-time.Second), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ss, err := m.Store(ctx, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, err := ss.Query(ctx, storage.Query{})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("snapshot query: %v %d", err, len(page.Records))
	}
	if r := page.Records[0]; r.Src.K8s == nil || r.Src.Pod != "client" || r.Dst.Pod != "server" {
		t.Errorf("snapshot record: %+v → %+v", r.Src, r.Dst)
	}
}

// TestHistoryPrune: bindings that ended by the oldest record kept go, in
// memory and in the store; open ones and ones reaching past it stay, and
// every record from then on resolves as before.
func TestHistoryPrune(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, storage.Options{InMemory: true})
	h, obs := observer(ctx, t, st)
	// a holds X over [10 s, 200 s), b from 300 s on; e holds Z over
	// [100 s, 300 s); X is in checkout's endpoints over [150 s, 250 s).
	obs(KindPod, "uid-a", map[string]*Binding{"10.0.0.1": podInfo("a")}, at(10), at(100))
	obs(KindPod, "uid-e", map[string]*Binding{"10.0.0.3": podInfo("e")}, at(100), at(100))
	obs(KindService, "uid-s", map[string]*Binding{"10.96.0.10": {Name: "checkout", Namespace: "shop"}}, at(100), at(100))
	obs(KindEndpoint, "uid-slice", map[string]*Binding{"10.0.0.1": {Service: "checkout", Namespace: "shop"}}, at(150), at(150))
	obs(KindPod, "uid-a", nil, at(200), at(200))
	obs(KindEndpoint, "uid-slice", nil, at(250), at(250))
	obs(KindPod, "uid-e", nil, at(300), at(300))
	obs(KindPod, "uid-b", map[string]*Binding{"10.0.0.1": podInfo("b")}, at(300), at(300))

	const cutoff = 250
	ips := []string{"10.0.0.1", "10.0.0.3", "10.96.0.10", "10.9.9.9"}
	resolveAll := func(h *History) map[string]string {
		out := map[string]string{}
		for _, ip := range ips {
			for s := cutoff; s <= 400; s += 10 {
				out[ip+"@"+at(s).Format(time.TimeOnly)] = name(h, ip, 0, at(s))
			}
		}
		return out
	}
	before := resolveAll(h)
	if before["10.0.0.3@10:04:10"] != "e||n1" || before["10.0.0.1@10:05:10"] != "b||n1" {
		t.Fatalf("setup resolves wrong: %v", before)
	}
	if n, err := h.Prune(ctx, at(50)); err != nil || n != 0 {
		t.Fatalf("pruning before anything ended: %d, %v", n, err)
	}
	n, err := h.Prune(ctx, at(cutoff))
	if err != nil {
		t.Fatal(err)
	}
	// a's pod binding and the endpoint binding that ended at the cutoff.
	if n != 2 || h.Len() != 3 {
		t.Fatalf("pruned %d, %d left; want 2 and 3", n, h.Len())
	}
	for _, c := range []struct {
		kind, key string
		t         time.Time
		want      int
	}{
		{KindPod, "10.0.0.1", at(150), 0},      // a is gone
		{KindEndpoint, "10.0.0.1", at(200), 0}, // so is the endpoint
		{KindPod, "10.0.0.3", at(299), 1},      // e overlaps the cutoff
		{KindPod, "10.0.0.1", at(400), 1},      // b is open
		{KindService, "10.96.0.10", at(400), 1},
	} {
		if got := h.Lookup(c.kind, c.key, c.t); len(got) != c.want {
			t.Errorf("%s %s at %v: %d bindings, want %d", c.kind, c.key, c.t, len(got), c.want)
		}
	}
	if after := resolveAll(h); !maps.Equal(before, after) {
		t.Errorf("resolution changed by pruning:\nbefore %v\nafter  %v", before, after)
	}
	if n, err := h.Prune(ctx, at(cutoff)); err != nil || n != 0 {
		t.Errorf("pruning again: %d, %v", n, err)
	}
	// The store forgot them too.
	h2, err := LoadHistory(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h2.Len() != 3 || !h2.Since().Equal(h.Since()) {
		t.Fatalf("reopened: %d bindings since %v, want 3 since %v", h2.Len(), h2.Since(), h.Since())
	}
	if after := resolveAll(h2); !maps.Equal(before, after) {
		t.Errorf("resolution changed after reopening:\nbefore %v\nafter  %v", before, after)
	}
}

// TestNamespaceLabelsOverTime: a record gets the labels its namespace had
// at its time — before and after a relabelling, across a namespace deleted
// and created again under its name (another UID) — also after the history
// is reloaded from the store, and after pruning up to a time.
func TestNamespaceLabelsOverTime(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, storage.Options{InMemory: true})
	h, obs := observer(ctx, t, st)
	team := func(v string) map[string]*Binding {
		return map[string]*Binding{"shop": {Name: "shop", Labels: map[string]string{"team": v}}}
	}
	// Listed at 100 s: namespace shop (created at 10 s) of team a, a pod
	// of it, a ClusterIP of it, and a node. Relabelled to team b at 200 s;
	// deleted at 300 s; created again at 400 s for team c.
	obs(KindNamespace, "ns-1", team("a"), at(10), at(100))
	obs(KindPod, "uid-p", map[string]*Binding{"10.0.0.1": podInfo("p")}, at(20), at(100))
	obs(KindService, "uid-s", map[string]*Binding{"10.96.0.10": {Name: "checkout", Namespace: "shop"}}, at(20), at(100))
	obs(KindNode, "uid-n", map[string]*Binding{"192.168.1.1": {Name: "n1"}}, at(5), at(100))
	obs(KindNamespace, "ns-1", team("b"), at(200), at(200))
	obs(KindNamespace, "ns-1", nil, at(300), at(300))
	obs(KindNamespace, "ns-2", team("c"), at(400), at(400))

	cases := []struct {
		ip   string
		s    int
		want string
	}{
		{"10.0.0.1", 1, "a"}, // before the history: the first labels known
		{"10.0.0.1", 50, "a"},
		{"10.0.0.1", 199, "a"},
		{"10.0.0.1", 250, "b"},
		{"10.0.0.1", 350, ""}, // no namespace of that name then
		{"10.0.0.1", 450, "c"},
		{"10.96.0.10", 250, "b"}, // a service's end too
		{"192.168.1.1", 250, ""}, // a node has no namespace
	}
	check := func(h *History, when string) {
		t.Helper()
		for _, c := range cases {
			e := sdk.Endpoint{IP: c.ip}
			h.ResolveEndpoint(&e, 0, at(c.s))
			if e.K8s == nil {
				t.Fatalf("%s: %s at %d s unresolved", when, c.ip, c.s)
			}
			if got := e.NamespaceLabels["team"]; got != c.want {
				t.Errorf("%s: %s at %d s: team %q, want %q", when, c.ip, c.s, got, c.want)
			}
		}
	}
	check(h, "live")
	if got := h.Lookup(KindNamespace, "shop", at(450)); len(got) != 1 || got[0].UID != "ns-2" {
		t.Errorf("shop at 450 s: %+v, want the namespace of UID ns-2", got)
	}
	h2, err := LoadHistory(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	check(h2, "reloaded")
	// Pruning to 250 s drops the team a binding (ended at 200 s) only:
	// records from 250 s on resolve as before.
	if n, err := h2.Prune(ctx, at(250)); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want the one namespace binding that ended", n, err)
	}
	cases = cases[3:]
	check(h2, "pruned")
}
