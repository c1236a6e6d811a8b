package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/dissectors/http1"
	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/fanout"
)

// The fan-out tests run a small cluster in one process, over real HTTP:
// three workers, each a hub over its own store on its own loopback
// address (127.0.0.2-4), holding the connections a node would have
// captured, and a central hub over a fanout.Cluster of them. Every answer
// is held against a hub over one store holding all the traffic.

const testToken = "fanout-test-token-0123456789abcdef0123456789"

var (
	cascadeOnce sync.Once
	cascadePcap []byte
	cascadeErr  error
)

// cascadePCAP is the cascade incident (synth.Cascade: real net/http
// services on loopback recorded through a relay) over three and a half
// minutes of capture time, so that statistics are served by rollups.
func cascadePCAP(t *testing.T) []byte {
	cascadeOnce.Do(func() {
		var buf bytes.Buffer
		_, cascadeErr = synth.Cascade(context.Background(), &buf, synth.CascadeOptions{
			Start: time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC), Checkouts: 70, Interval: 3 * time.Second})
		cascadePcap = buf.Bytes()
	})
	if cascadeErr != nil {
		t.Fatal(cascadeErr)
	}
	return cascadePcap
}

// splitByConnection deals the packets of a capture to n captures by
// connection (the unordered address pair), as n nodes each capture their
// own pods' connections.
func splitByConnection(t *testing.T, pcap []byte, n int) [][]byte {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	outs := make([]*bytes.Buffer, n)
	ws := make([]*pcapgo.Writer, n)
	for i := range outs {
		outs[i] = new(bytes.Buffer)
		if r.Resolution() == gopacket.TimestampResolutionNanosecond {
			ws[i] = pcapgo.NewWriterNanos(outs[i])
		} else {
			ws[i] = pcapgo.NewWriter(outs[i])
		}
		if err := ws[i].WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
			t.Fatal(err)
		}
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.NoCopy)
		var a, b string
		if nl := p.NetworkLayer(); nl != nil {
			a, b = nl.NetworkFlow().Src().String(), nl.NetworkFlow().Dst().String()
		}
		if tl, ok := p.TransportLayer().(*layers.TCP); ok {
			a += fmt.Sprint(":", tl.SrcPort)
			b += fmt.Sprint(":", tl.DstPort)
		}
		if a > b {
			a, b = b, a
		}
		h := fnv.New32a()
		h.Write([]byte(a + "|" + b))
		if err := ws[h.Sum32()%uint32(n)].WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	res := make([][]byte, n)
	for i := range outs {
		res[i] = outs[i].Bytes()
	}
	return res
}

func openStore(t *testing.T, pcaps ...[]byte) *storage.Store {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Options{Dir: filepath.Join(t.TempDir(), "store"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, pcap := range pcaps {
		src, err := capture.NewSource("part.pcap", bytes.NewReader(pcap))
		if err != nil {
			t.Fatal(err)
		}
		p := pipeline.New(pipeline.Config{NewID: storage.NewID}, []engine.Dissector{dissectortest.Builtin(t, "http1")}, st)
		if _, err := p.Run(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func dissectors() []mcp.Dissector {
	return []mcp.Dissector{{Manifest: http1.Manifest(), Source: "native", ABIVersion: sdk.ABIVersion}}
}

var testNow = func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }

// testWorker is one node: its store, its hub and the server it runs on.
type testWorker struct {
	node  string
	store *storage.Store
	url   string
	srv   *http.Server
	// cut, when set, wraps the record streams the worker serves.
	cut func(http.ResponseWriter) http.ResponseWriter
	mu  sync.Mutex
}

func startWorker(t *testing.T, node, addr string, st *storage.Store) *testWorker {
	t.Helper()
	s, err := mcp.New(mcp.Options{Store: st, Dissectors: dissectors(), Version: "test", Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := fanout.WorkerHandler(fanout.WorkerOptions{Node: node, Store: fanout.FixedStore(st), Compile: s.CompileKFL})
	if err != nil {
		t.Fatal(err)
	}
	w := &testWorker{node: node, store: st}
	cutting := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		cut := w.cut
		w.mu.Unlock()
		if cut != nil && r.URL.Path == fanout.Prefix+"records" {
			rw = cut(rw)
		}
		wh.ServeHTTP(rw, r)
	})
	h, err := hub.Handler(hub.Options{Server: s, Token: testToken, Worker: cutting})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s (a loopback address other than 127.0.0.1): %v", addr, err)
	}
	w.url = "http://" + ln.Addr().String()
	w.srv = &http.Server{Handler: h}
	go w.srv.Serve(ln)
	t.Cleanup(func() { w.srv.Close() })
	return w
}

// cluster is the test cluster and the single-store reference.
type cluster struct {
	workers []*testWorker
	central *mcp.Server
	single  *mcp.Server
	hubURL  string
	reader  *fanout.Cluster
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	pcap := cascadePCAP(t)
	parts := splitByConnection(t, pcap, 3)
	c := &cluster{}
	var static fanout.Static
	for i, part := range parts {
		w := startWorker(t, fmt.Sprintf("node-%c", 'a'+i), fmt.Sprintf("127.0.0.%d:0", i+2), openStore(t, part))
		n, err := w.store.Count(context.Background())
		if err != nil || n == 0 {
			t.Fatalf("worker %s holds %d records (%v): the split gave it nothing", w.node, n, err)
		}
		c.workers = append(c.workers, w)
		static = append(static, fanout.Worker{Node: w.node, URL: w.url})
	}
	cl, err := fanout.New(fanout.Options{Discovery: static, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	c.reader = cl
	t.Cleanup(func() { cl.Close() })
	if c.central, err = mcp.New(mcp.Options{Reader: cl, Dissectors: dissectors(), Version: "test", Now: testNow}); err != nil {
		t.Fatal(err)
	}
	if c.single, err = mcp.New(mcp.Options{Store: openStore(t, pcap), Dissectors: dissectors(), Version: "test", Now: testNow}); err != nil {
		t.Fatal(err)
	}
	h, err := hub.Handler(hub.Options{Server: c.central, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c.hubURL = "http://" + ln.Addr().String()
	return c
}

// call runs a tool and returns its structured answer as generic JSON.
func call(t *testing.T, s *mcp.Server, tool string, args map[string]any) map[string]any {
	t.Helper()
	raw, _ := json.Marshal(args)
	res, _, err := s.Call(context.Background(), tool, raw)
	if err != nil {
		t.Fatalf("%s %s: %v", tool, raw, err)
	}
	return generic(t, res)
}

func generic(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// normalize drops what differs by construction between stores holding
// the same traffic: record ids (random per store) and the cursors made of
// them, and the fan-out's own workers list.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			switch k {
			case "id", "workers":
				continue
			case "next_cursor":
				out[k] = e != ""
				continue
			}
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.MarshalIndent(normalize(got), "", " ")
	w, _ := json.MarshalIndent(normalize(want), "", " ")
	if !bytes.Equal(g, w) {
		t.Errorf("%s: the fan-out answer differs from one store's:\n%s", what, diffLines(string(g), string(w)))
	}
}

// diffLines shows the first lines that differ.
func diffLines(got, want string) string {
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < min(len(gl), len(wl)); i++ {
		if gl[i] != wl[i] {
			lo := max(0, i-3)
			return fmt.Sprintf("at line %d\n fan-out: %s\n single:  %s", i+1, strings.Join(gl[lo:min(len(gl), i+3)], "\n          "), strings.Join(wl[lo:min(len(wl), i+3)], "\n          "))
		}
	}
	return fmt.Sprintf("lengths %d vs %d lines", len(gl), len(wl))
}

func checkWorkers(t *testing.T, what string, res map[string]any, n int) {
	t.Helper()
	ws, _ := res["workers"].([]any)
	if len(ws) != n {
		t.Fatalf("%s: workers = %v, want %d nodes", what, res["workers"], n)
	}
	for _, w := range ws {
		if w.(map[string]any)["ok"] != true {
			t.Errorf("%s: node not ok: %v", what, w)
		}
	}
	if p, ok := res["partial"]; ok {
		t.Errorf("%s: partial %q with every node up", what, p)
	}
}

// pageThrough lists every page of a tool on both servers and compares
// them page by page.
func pageThrough(t *testing.T, c *cluster, tool string, args map[string]any) int {
	t.Helper()
	total := 0
	ca, sa := map[string]any{}, map[string]any{}
	for k, v := range args {
		ca[k], sa[k] = v, v
	}
	for page := 0; ; page++ {
		got, want := call(t, c.central, tool, ca), call(t, c.single, tool, sa)
		what := fmt.Sprintf("%s %v page %d", tool, args, page)
		checkWorkers(t, what, got, len(c.workers))
		sameJSON(t, what, got, want)
		if t.Failed() {
			t.FailNow()
		}
		total += int(got["returned"].(float64))
		gc, _ := got["next_cursor"].(string)
		wc, _ := want["next_cursor"].(string)
		if gc == "" || wc == "" {
			return total
		}
		ca["cursor"], sa["cursor"] = gc, wc
	}
}

func TestFanOutMatchesOneStore(t *testing.T) {
	c := newCluster(t)

	// Records: both orders, a filter, small pages that cross the nodes.
	for _, args := range []map[string]any{
		{"limit": 17},
		{"limit": 23, "order": "oldest"},
		{"limit": 5, "kfl": `http && status_code >= 500`},
		{"limit": 9, "kfl": `path.contains("checkout")`, "order": "oldest", "start": "2026-11-20T14:01:00Z", "end": "2026-11-20T14:02:30Z"},
		{"limit": 1000, "format": "full"},
	} {
		n := pageThrough(t, c, "list_api_calls", args)
		if n == 0 {
			t.Errorf("list_api_calls %v listed nothing: the comparison proves little", args)
		}
	}
	// Flows, paged by start time.
	if n := pageThrough(t, c, "list_l4_flows", map[string]any{"limit": 7}); n == 0 {
		t.Error("list_l4_flows listed nothing")
	}

	// Aggregates: over the whole data (per-minute rollups, built on the
	// hub from the merged records, then read again from its cache), with
	// a filter (a scan), and by other groupings.
	for _, args := range []map[string]any{
		{},
		{},
		{"group_by": "server"},
		{"group_by": "client"},
		{"kfl": `status_code >= 500`},
		{"start": "2026-11-20T14:00:30Z", "end": "2026-11-20T14:03:10Z", "group_by": "protocol"},
	} {
		got, want := call(t, c.central, "get_api_stats", args), call(t, c.single, "get_api_stats", args)
		checkWorkers(t, fmt.Sprint("get_api_stats ", args), got, 3)
		sameJSON(t, fmt.Sprint("get_api_stats ", args), got, want)
	}
	for _, tool := range []string{"get_data_boundaries", "get_service_map", "find_anomalies", "get_l4_flow_summary", "list_workloads"} {
		got, want := call(t, c.central, tool, map[string]any{}), call(t, c.single, tool, map[string]any{})
		checkWorkers(t, tool, got, 3)
		sameJSON(t, tool, got, want)
	}

	// The merged records are the workers' own, bodies, header order and
	// all.
	merged, err := c.reader.Query(context.Background(), storage.Query{WithBodies: true})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*sdk.Record{}
	for _, r := range merged.Records {
		byID[r.ID] = r
	}
	for _, w := range c.workers {
		own, err := w.store.Query(context.Background(), storage.Query{WithBodies: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range own.Records {
			if !reflect.DeepEqual(byID[r.ID], r) {
				t.Fatalf("record %s of %s changed on its way:\n got %+v\nwant %+v", r.ID, w.node, byID[r.ID], r)
			}
			delete(byID, r.ID)
		}
	}
	if len(byID) != 0 {
		t.Errorf("%d merged records belong to no worker", len(byID))
	}

	// One call by id, from whichever node holds it, with its flow.
	list := call(t, c.central, "list_api_calls", map[string]any{"limit": 3, "order": "oldest"})
	id := list["calls"].([]any)[2].(map[string]any)["id"].(string)
	got := call(t, c.central, "get_api_call", map[string]any{"id": id})
	wantList := call(t, c.single, "list_api_calls", map[string]any{"limit": 3, "order": "oldest"})
	want := call(t, c.single, "get_api_call", map[string]any{"id": wantList["calls"].([]any)[2].(map[string]any)["id"]})
	sameJSON(t, "get_api_call", got, want)
	// The tool also reads what the call's endpoint template is learned
	// from; the record itself comes from the one node that holds it.
	tctx, rep := fanout.Track(context.Background())
	if _, err := c.reader.Get(tctx, id); err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, n := range rep.Nodes() {
		held += n.Records
	}
	if held != 1 {
		t.Errorf("Get: nodes %+v, want one node holding the call", rep.Nodes())
	}
	// Unknown ids are not found on any node: a 404, not a failure.
	if _, _, err := c.central.Call(context.Background(), "get_api_call", []byte(`{"id":"00000000000000000000000000"}`)); !errors.Is(err, storage.ErrNotFound) || strings.Contains(err.Error(), "did not answer") {
		t.Errorf("unknown id: %v", err)
	}
}

// stopAfter stops the worker's server once the stream has written some
// lines: the node goes away in the middle of answering.
type stopAfter struct {
	http.ResponseWriter
	lines int
	stop  func()
}

func (s *stopAfter) Write(p []byte) (int, error) {
	n, err := s.ResponseWriter.Write(p)
	if s.lines--; s.lines == 0 {
		s.stop()
	}
	return n, err
}

func (s *stopAfter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func TestFanOutNodeStoppedMidQuery(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	victim := c.workers[1]
	victimStreams := map[string]bool{}
	page, err := victim.store.Query(ctx, storage.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page.Records {
		victimStreams[r.Stream] = true
	}
	lost := len(page.Records)
	all := call(t, c.single, "get_data_boundaries", nil)
	total := int(all["records"].(map[string]any)["count"].(float64))
	if lost < 50 || lost >= total {
		t.Fatalf("the stopped node holds %d of %d records: too few to stop it mid-stream", lost, total)
	}

	stopped := make(chan struct{})
	victim.mu.Lock()
	victim.cut = func(rw http.ResponseWriter) http.ResponseWriter {
		return &stopAfter{ResponseWriter: rw, lines: 40, stop: func() { victim.srv.Close(); close(stopped) }}
	}
	victim.mu.Unlock()

	raw, _ := json.Marshal(map[string]any{"limit": 1000, "order": "oldest", "format": "full"})
	res, text, err := c.central.Call(ctx, "list_api_calls", raw)
	if err != nil {
		t.Fatalf("a node stopping must not fail the call: %v", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("the worker was not stopped during the query")
	}
	got := generic(t, res)
	wantWarning := "node node-b ("
	partial, _ := got["partial"].(string)
	if !strings.HasPrefix(partial, wantWarning) || !strings.HasSuffix(partial, "did not answer; results are from 2 of 3 nodes") ||
		!strings.Contains(partial, "stream cut short") {
		t.Errorf("partial = %q, want node node-b named, why, and 2 of 3 nodes", partial)
	}
	if !strings.HasPrefix(text, "PARTIAL: node node-b") {
		t.Errorf("the text does not open with the warning: %.200s", text)
	}
	for _, w := range got["workers"].([]any) {
		w := w.(map[string]any)
		if ok := w["ok"].(bool); ok == (w["node"] == "node-b") {
			t.Errorf("worker status %v", w)
		}
	}
	t.Logf("partial: %s", partial)
	calls := got["calls"].([]any)
	if len(calls) != total-lost {
		t.Errorf("listed %d calls, want the %d of the two nodes that answered (of %d)", len(calls), total-lost, total)
	}
	prev := ""
	for _, cl := range calls {
		cl := cl.(map[string]any)
		if victimStreams[cl["stream"].(string)] {
			t.Fatalf("call %v of the stopped node kept in an answer said to be from the others", cl["id"])
		}
		if ts := cl["timestamp"].(string); ts < prev {
			t.Fatalf("calls out of order: %s after %s", ts, prev)
		} else {
			prev = ts
		}
	}

	// The node is gone now: the next calls say so as well, over the
	// hub's JSON API too, and aggregate the nodes that answered.
	req, _ := http.NewRequest("GET", c.hubURL+"/api/stats?group_by=protocol", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/stats: %d %v", resp.StatusCode, err)
	}
	if p, _ := stats["partial"].(string); !strings.Contains(p, "node node-b (") || !strings.Contains(p, "connection refused") {
		t.Errorf("stats partial = %q", stats["partial"])
	}
	if n := int(stats["total"].(map[string]any)["count"].(float64)); n != total-lost {
		t.Errorf("stats count %d, want %d from the nodes that answered", n, total-lost)
	}
	// A real MCP client over Streamable HTTP sees the same, in answers
	// that hold to the tools' output schemas (workers and partial are in
	// every one), and in the text a model reads.
	hc, err := client.NewStreamableHttpClient(c.hubURL+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + testToken}))
	if err != nil {
		t.Fatal(err)
	}
	sess := mcptest.Connect(t, hc)
	for _, tool := range []string{"list_api_calls", "get_api_stats", "get_service_map", "get_data_boundaries", "list_l4_flows", "find_anomalies"} {
		res := sess.Call(t, tool, nil)
		var v struct {
			Workers []fanout.NodeStatus `json:"workers"`
			Partial string              `json:"partial"`
		}
		sess.Structured(t, tool, res, &v)
		if len(v.Workers) != 3 || !strings.Contains(v.Partial, "node node-b (") || !strings.HasPrefix(mcptest.Text(res), "PARTIAL: node node-b (") {
			t.Errorf("%s over MCP: workers %+v, partial %q, text %.120q", tool, v.Workers, v.Partial, mcptest.Text(res))
		}
	}
	b := call(t, c.central, "get_data_boundaries", nil)
	if n := int(b["records"].(map[string]any)["count"].(float64)); n != total-lost || b["partial"] == nil {
		t.Errorf("boundaries: %d calls, partial %v; want %d and a warning", n, b["partial"], total-lost)
	}
}

// TestFanOutEveryTool runs every tool on the cluster and on one store:
// the answers are the same, or, for the tools that need what only a node
// has (snapshots, its packets), the same refusal.
func TestFanOutEveryTool(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	stream := call(t, c.single, "list_api_calls", map[string]any{"limit": 1, "kfl": "status_code == 503"})["calls"].([]any)[0].(map[string]any)["stream"]
	args := map[string]map[string]any{
		"compare_traffic": {"baseline_start": "2026-11-20T14:00:00Z", "baseline_end": "2026-11-20T14:01:40Z",
			"start": "2026-11-20T14:01:40Z", "end": "2026-11-20T14:03:30Z"},
		"get_dependencies": {"endpoint": "10.0.0.30"},
		"search_payloads":  {"query": "payment", "limit": 30},
		"get_tcp_insights": {"id": stream},
		"list_l4_flows":    {"sort": "bytes"},
	}
	skip := map[string]string{
		"get_api_call":    "by id: TestFanOutMatchesOneStore",
		"list_api_calls":  "paged: TestFanOutMatchesOneStore",
		"create_snapshot": "refused on a cluster hub: TestFanOutRefusals",
	}
	for _, tool := range c.central.Tools() {
		name := tool.Name
		if skip[name] != "" {
			continue
		}
		raw, _ := json.Marshal(args[name])
		if args[name] == nil {
			raw = []byte(`{}`)
		}
		gotRes, _, gotErr := c.central.Call(ctx, name, raw)
		wantRes, _, wantErr := c.single.Call(ctx, name, raw)
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s: fan-out error %v, one store's %v", name, gotErr, wantErr)
			continue
		}
		if gotErr != nil {
			if strings.Contains(name, "snapshot") && !strings.Contains(gotErr.Error(), wantErr.Error()) {
				if !strings.Contains(gotErr.Error(), "snapshots are made on each node") {
					t.Errorf("%s: %v, want the refusal that says snapshots are per node", name, gotErr)
				}
				continue
			}
			if !strings.Contains(gotErr.Error(), wantErr.Error()) {
				t.Errorf("%s: fan-out error %q, one store's %q", name, gotErr, wantErr)
			}
			continue
		}
		got, want := generic(t, gotRes), generic(t, wantRes)
		if name == "get_l7_data_boundaries" {
			// Kubeshark's per-node bounds: one store is "local", the
			// cluster lists its nodes.
			nodes, _ := got["nodes"].([]any)
			sum := 0
			for i, n := range nodes {
				n := n.(map[string]any)
				sum += int(n["records"].(float64))
				if n["node"] != c.workers[i].node {
					t.Errorf("get_l7_data_boundaries: node %d is %v, want %s", i, n["node"], c.workers[i].node)
				}
			}
			if len(nodes) != 3 || sum != int(want["cluster"].(map[string]any)["records"].(float64)) {
				t.Errorf("get_l7_data_boundaries: nodes %v", nodes)
			}
			delete(got, "nodes")
			delete(want, "nodes")
		}
		sameJSON(t, name, got, want)
		if got["workers"] == nil && name != "get_cloud_storage_status" { // the one that reads no store
			t.Errorf("%s: no workers in the fan-out answer", name)
		}
	}
}

// TestFanOutChangesAndRefusals: a change reaches every node; what cannot
// span nodes says so; a bad cursor is the caller's error, not a node's.
func TestFanOutChangesAndRefusals(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	var static fanout.Static
	for _, w := range c.workers {
		static = append(static, fanout.Worker{Node: w.node, URL: w.url})
	}
	cl, err := fanout.New(fanout.Options{Discovery: static, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := mcp.New(mcp.Options{Reader: cl, Dissectors: dissectors(), AllowDestructive: true, Version: "test", Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := admin.Call(ctx, "disable_dissection", []byte(`{"name":"http"}`)); err != nil {
		t.Fatal(err)
	}
	for _, w := range c.workers {
		got, err := w.store.DisabledDissectors(ctx)
		if err != nil || len(got) != 1 || got[0] != "http" {
			t.Errorf("node %s: disabled %v (%v), want [http]", w.node, got, err)
		}
	}
	if _, _, err := admin.Call(ctx, "create_snapshot", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "snapshots are made on each node") {
		t.Errorf("create_snapshot on a cluster hub: %v", err)
	}
	_, _, err = c.central.Call(ctx, "list_api_calls", []byte(`{"cursor":"not-a-cursor"}`))
	if !errors.Is(err, storage.ErrBadCursor) {
		t.Errorf("bad cursor: %v, want ErrBadCursor", err)
	}
	// A worker with another token refuses the hub: named, not hidden.
	bad, _ := fanout.New(fanout.Options{Discovery: static, Token: "another-token-0123456789abcdef0123456789"})
	if _, err := bad.Summary(ctx); err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "node-a") {
		t.Errorf("wrong token: %v", err)
	}
}
