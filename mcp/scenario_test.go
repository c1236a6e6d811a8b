package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/packetlog"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/analysis"
	"github.com/kubeshark-wasm/kubeshark/storage/snapshot"
)

var incidentStart = time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)

// The audit capture: crafted HTTP exchanges (real HTTP/1.1 bytes written
// as TCP packets) at 14:05, after the cascade, carrying secrets and calls
// without credentials, and one connection whose handshake took a known
// 12ms + 0.5ms.
const (
	testJWT  = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUiLCJpYXQiOjE1MTYyMzkwMjJ9.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	testCard = "4111111111111111"
)

func auditPCAP(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 14, 5, 0, 0, time.UTC)
	client := netip.MustParseAddrPort("10.0.1.7:50000")
	server := netip.MustParseAddrPort("10.0.1.9:8443")
	c := w.ConnRTT(client, server, at, 12*time.Millisecond, 500*time.Microsecond)
	at = at.Add(20 * time.Millisecond)
	exchange := func(auth bool, body string) {
		req := "POST /api/admin/users HTTP/1.1\r\nHost: admin\r\nContent-Type: application/json\r\n"
		if auth {
			req += "Authorization: Bearer " + testJWT + "\r\n"
		}
		req += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
		if err := c.Client([]byte(req), at); err != nil {
			t.Fatal(err)
		}
		at = at.Add(3 * time.Millisecond)
		resp := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"
		if err := c.Server([]byte(resp), at); err != nil {
			t.Fatal(err)
		}
		at = at.Add(100 * time.Millisecond)
	}
	for i := 0; i < 5; i++ {
		exchange(true, fmt.Sprintf(`{"user":%d}`, i))
	}
	exchange(false, `{"user":99,"card":"`+testCard+`","email":"jane.doe@example.com"}`)
	if err := c.Close(at); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type scenario struct {
	*fixture
	cascade synth.CascadeStats
	snaps   *snapshot.Manager
}

func newScenario(t *testing.T) *scenario {
	t.Helper()
	ctx := context.Background()
	var cbuf bytes.Buffer
	cs, err := synth.Cascade(ctx, &cbuf, synth.CascadeOptions{Start: incidentStart})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	store, err := storage.Open(ctx, storage.Options{Dir: filepath.Join(dir, "store"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	plog, err := packetlog.Open(ctx, filepath.Join(dir, "packets"), packetlog.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plog.Close() })
	for name, pcap := range map[string][]byte{"cascade.pcap": cbuf.Bytes(), "audit.pcap": auditPCAP(t)} {
		src, err := capture.NewSource(name, bytes.NewReader(pcap))
		if err != nil {
			t.Fatal(err)
		}
		p := pipeline.New(pipeline.Config{NewID: storage.NewID}, []engine.Dissector{dissectortest.Builtin(t, "http1")}, store)
		if _, err := p.Run(ctx, packetlog.Tee(src, plog)); err != nil {
			t.Fatal(err)
		}
	}
	snaps, err := snapshot.Open(ctx, snapshot.Options{Dir: filepath.Join(dir, "snapshots"), Packets: plog.Reader(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { snaps.Close() })
	return &scenario{fixture: &fixture{store: store, dir: dir}, cascade: cs, snaps: snaps}
}

func (sc *scenario) server(t *testing.T) *mcp.Server {
	t.Helper()
	s, err := mcp.New(mcp.Options{Store: sc.store, Dissectors: dissectorList(), Snapshots: sc.snaps, ExportDir: filepath.Join(sc.dir, "exports"), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// TestCascadeInvestigation asks what an SRE would ask after "checkout broke
// at 14:00:30" and checks that the tools point at payments, with evidence.
func TestCascadeInvestigation(t *testing.T) {
	sc := newScenario(t)
	c := mcptest.Connect(t, mustInProcess(t, sc.server(t)))
	cs := sc.cascade
	baseline := map[string]any{"baseline_start": rfc(cs.Start), "baseline_end": rfc(cs.FailureOnset), "start": rfc(cs.FailureOnset), "end": rfc(cs.End.Add(time.Second))}

	// 1. find_anomalies names payments first, as the root cause, with
	// failed calls to it as examples.
	var an analysis.AnomalyResult
	c.Structured(t, "find_anomalies", c.Call(t, "find_anomalies", baseline), &an)
	if len(an.Anomalies) == 0 || len(an.RootCauses) == 0 {
		t.Fatalf("no anomalies: %+v", an)
	}
	top := an.Anomalies[0]
	if !strings.Contains(top.Server, "10.0.0.30:8080") || !strings.Contains(top.Path, "/api/payments/charge") {
		t.Fatalf("first anomaly is %s %s %s, want payments' charge endpoint; all: %s", top.Server, top.Method, top.Path, an.Summary)
	}
	if !strings.Contains(an.RootCauses[0], "10.0.0.30:8080") {
		t.Fatalf("root causes %v, want payments first", an.RootCauses)
	}
	if len(top.ExampleIDs) == 0 {
		t.Fatal("no example calls")
	}
	var ex mcp.GetCallResult
	c.Structured(t, "get_api_call", c.Call(t, "get_api_call", map[string]any{"id": top.ExampleIDs[0], "include_l4": true}), &ex)
	if ex.Call.Status != 503 || !strings.Contains(ex.Call.Response.Body, "UPSTREAM_TIMEOUT") {
		t.Fatalf("example call: %d %q", ex.Call.Status, ex.Call.Response.Body)
	}
	if ex.Flow == nil || ex.Flow.Server.IP != "10.0.0.30" {
		t.Fatalf("include_l4 flow: %+v", ex.Flow)
	}
	// The default windows (second half against the first) find it too.
	var dflt analysis.AnomalyResult
	c.Structured(t, "find_anomalies", c.Call(t, "find_anomalies", map[string]any{"end": rfc(cs.End.Add(time.Second))}), &dflt)
	if len(dflt.RootCauses) == 0 || !strings.Contains(dflt.RootCauses[0], "10.0.0.30:8080") {
		t.Fatalf("default windows: root causes %v", dflt.RootCauses)
	}

	// 2. get_api_stats over the incident, by errors: payments first, every
	// call failed, and the latency of a timeout.
	var st analysis.StatsResult
	c.Structured(t, "get_api_stats", c.Call(t, "get_api_stats", map[string]any{"start": rfc(cs.FailureOnset), "end": rfc(cs.End.Add(time.Second)), "sort": "errors"}), &st)
	first := st.Groups[0]
	if !strings.Contains(first.Server, "10.0.0.30:8080") || first.ErrorRate != 1 || first.Errors != cs.Payments.Statuses[503] {
		t.Fatalf("stats by errors: first row %s %s errors=%d rate=%.2f; payments had %d 503s", first.Server, first.Path, first.Errors, first.ErrorRate, cs.Payments.Statuses[503])
	}
	if first.Latency.P50 < 200 {
		t.Fatalf("payments p50 %.1fms; its 503s take over 250ms", first.Latency.P50)
	}

	// 3. compare_traffic ranks payments' change first.
	var cmp analysis.CompareResult
	c.Structured(t, "compare_traffic", c.Call(t, "compare_traffic", baseline), &cmp)
	if len(cmp.Rows) == 0 || !strings.Contains(cmp.Rows[0].Server, "10.0.0.30:8080") {
		t.Fatalf("compare: %s", cmp.Summary)
	}

	// 4. The service map links the tiers; payments' impact reaches the
	// client.
	var sm analysis.ServiceMapResult
	c.Structured(t, "get_service_map", c.Call(t, "get_service_map", map[string]any{"end": rfc(cs.End.Add(time.Second))}), &sm)
	edges := map[string]bool{}
	for _, e := range sm.Edges {
		edges[e.Client+"→"+e.Server] = true
	}
	for _, want := range []string{"10.0.0.5→10.0.0.10", "10.0.0.10→10.0.0.20", "10.0.0.20→10.0.0.30"} {
		if !edges[want] {
			t.Errorf("service map lacks %s: %v", want, edges)
		}
	}
	var dep analysis.DependencyResult
	c.Structured(t, "get_dependencies", c.Call(t, "get_dependencies", map[string]any{"endpoint": "10.0.0.30"}), &dep)
	impact := fmt.Sprint(dep.Impact)
	if !strings.Contains(impact, "10.0.0.20") || !strings.Contains(impact, "10.0.0.10") || !strings.Contains(impact, "10.0.0.5") {
		t.Fatalf("impact of payments: %s", dep.Summary)
	}

	// 5. The error payload can be searched for.
	var sr analysis.SearchResult
	c.Structured(t, "search_payloads", c.Call(t, "search_payloads", map[string]any{"query": "UPSTREAM_TIMEOUT", "limit": 500}), &sr)
	if len(sr.Hits) != cs.Payments.Statuses[503] {
		t.Fatalf("search found %d calls carrying UPSTREAM_TIMEOUT, payments sent %d", len(sr.Hits), cs.Payments.Statuses[503])
	}

	// 6. Inventory.
	var wl analysis.EndpointsResult
	c.Structured(t, "list_workloads", c.Call(t, "list_workloads", map[string]any{"end": rfc(cs.End.Add(time.Second))}), &wl)
	if len(wl.Hosts) != 3 {
		t.Fatalf("workloads: %s", wl.Summary)
	}
	var ips analysis.EndpointsResult
	c.Structured(t, "list_ips", c.Call(t, "list_ips", nil), &ips)
	if len(ips.Hosts) != 6 {
		t.Fatalf("ips: %d hosts (%s), want the cascade's 4 and the audit's 2", len(ips.Hosts), ips.Summary)
	}
}

func TestFlowsAndTCPInsights(t *testing.T) {
	sc := newScenario(t)
	c := mcptest.Connect(t, mustInProcess(t, sc.server(t)))

	var flows mcp.ListFlowsResult
	c.Structured(t, "list_l4_flows", c.Call(t, "list_l4_flows", nil), &flows)
	if flows.Returned != 4 {
		t.Fatalf("%d flows, want the cascade's 3 and the audit's 1", flows.Returned)
	}
	// The audit connection's handshake took 12ms + 0.5ms.
	var slow mcp.ListFlowsResult
	c.Structured(t, "list_l4_flows", c.Call(t, "list_l4_flows", map[string]any{"min_handshake_rtt_ms": 10}), &slow)
	if slow.Returned != 1 {
		t.Fatalf("%d flows with a handshake over 10ms, want 1", slow.Returned)
	}
	f := slow.Flows[0]
	if f.HandshakeRTTMs == nil || math.Abs(*f.HandshakeRTTMs-12.5) > 0.001 || f.SynAckMs == nil || math.Abs(*f.SynAckMs-12) > 0.001 {
		t.Fatalf("handshake: rtt %v syn-ack %v, want 12.5 and 12", f.HandshakeRTTMs, f.SynAckMs)
	}
	if f.Client.IP != "10.0.1.7" || f.Server.Port != 8443 || f.Records != 6 || f.State != "closed" || !f.HandshakeSeen {
		t.Fatalf("audit flow: %+v", f)
	}

	var sum mcp.FlowSummaryResult
	c.Structured(t, "get_l4_flow_summary", c.Call(t, "get_l4_flow_summary", nil), &sum)
	if sum.Flows != 4 || sum.HandshakeRTT.Samples != 4 || sum.HandshakeRTT.Max != 12.5 || len(sum.TopByBytes) == 0 {
		t.Fatalf("summary: %+v", sum)
	}

	var one mcp.TCPInsightsResult
	c.Structured(t, "get_tcp_insights", c.Call(t, "get_tcp_insights", map[string]any{"id": f.ID}), &one)
	if one.Flow == nil || one.Flow.ID != f.ID || len(one.Insights) == 0 {
		t.Fatalf("insights for one flow: %+v", one)
	}
	var all mcp.TCPInsightsResult
	c.Structured(t, "get_tcp_insights", c.Call(t, "get_tcp_insights", map[string]any{"server_port": 8080}), &all)
	if all.Flows != 3 {
		t.Fatalf("insights over port 8080: %d flows, want 3", all.Flows)
	}
}

func TestSecurityTools(t *testing.T) {
	sc := newScenario(t)
	c := mcptest.Connect(t, mustInProcess(t, sc.server(t)))

	res := c.Call(t, "find_sensitive_data", nil)
	var sd analysis.SensitiveResult
	c.Structured(t, "find_sensitive_data", res, &sd)
	kinds := map[string]int{}
	for _, k := range sd.Counts {
		kinds[k.Kind] = k.Findings
	}
	for _, k := range []string{"credit_card", "jwt", "email"} {
		if kinds[k] == 0 {
			t.Errorf("find_sensitive_data found no %s: %s", k, sd.Summary)
		}
	}
	raw, _ := json.Marshal(res)
	if bytes.Contains(raw, []byte(testCard)) || bytes.Contains(raw, []byte(testJWT)) {
		t.Fatal("the answer repeats a secret it should redact")
	}

	var un analysis.UnauthResult
	c.Structured(t, "find_unauthenticated_calls", c.Call(t, "find_unauthenticated_calls", nil), &un)
	if len(un.Endpoints) != 1 || !strings.Contains(un.Endpoints[0].Path, "/api/admin/users") || un.Endpoints[0].WithoutCredentials != 1 {
		t.Fatalf("unauthenticated: %s", un.Summary)
	}
}

func TestSnapshotTools(t *testing.T) {
	sc := newScenario(t)
	s := sc.server(t)
	c := mcptest.Connect(t, mustInProcess(t, s))
	cs := sc.cascade

	var info snapshot.Info
	c.Structured(t, "create_snapshot", c.Call(t, "create_snapshot", map[string]any{"name": "payments outage", "start": rfc(cs.FailureOnset), "end": rfc(cs.End.Add(time.Second))}), &info)
	if info.Records == 0 || info.Flows != 3 || info.Packets == 0 {
		t.Fatalf("snapshot: %+v", info)
	}
	var list mcp.SnapshotsResult
	c.Structured(t, "list_snapshots", c.Call(t, "list_snapshots", nil), &list)
	if len(list.Snapshots) != 1 || list.Snapshots[0].ID != info.ID {
		t.Fatalf("list: %+v", list)
	}
	var got snapshot.Info
	c.Structured(t, "get_snapshot", c.Call(t, "get_snapshot", map[string]any{"id": info.ID}), &got)
	if got.Name != "payments outage" {
		t.Fatalf("get: %+v", got)
	}
	if res, err := c.Resource(t, "kubeshark://snapshots/"+info.ID); err != nil || !strings.Contains(res, "payments outage") {
		t.Fatalf("snapshot resource: %v %q", err, res)
	}
	flowURI := "kubeshark://flows/" + func() string {
		var fl mcp.ListFlowsResult
		c.Structured(t, "list_l4_flows", c.Call(t, "list_l4_flows", map[string]any{"limit": 1}), &fl)
		return fl.Flows[0].ID
	}()
	if res, err := c.Resource(t, flowURI); err != nil || !strings.Contains(res, "insights") {
		t.Fatalf("flow resource: %v %q", err, res)
	}
	// The snapshot's calls answer like the live ones.
	var calls mcp.ListCallsResult
	c.Structured(t, "list_api_calls", c.Call(t, "list_api_calls", map[string]any{"snapshot": info.ID, "kfl": "status_code == 503", "limit": 1000}), &calls)
	if calls.Returned != cs.Payments.Statuses[503] {
		t.Fatalf("snapshot 503s: %d, want %d", calls.Returned, cs.Payments.Statuses[503])
	}
	var ex mcp.ExportResult
	c.Structured(t, "export_snapshot_pcap", c.Call(t, "export_snapshot_pcap", map[string]any{"id": info.ID, "kfl": "status_code == 503"}), &ex)
	if ex.Packets == 0 || ex.Bytes == 0 {
		t.Fatalf("export: %+v", ex)
	}
	f, err := os.Open(ex.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if _, _, err := r.ReadPacketData(); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		n++
	}
	if n != ex.Packets {
		t.Fatalf("exported file holds %d packets, the tool said %d", n, ex.Packets)
	}
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"get_snapshot", map[string]any{"id": "snap-0000000000000000"}, `no snapshot with id "snap-0000000000000000"; list_snapshots lists the ids`},
		{"export_snapshot_pcap", map[string]any{"id": "snap-0000000000000000"}, `no snapshot with id "snap-0000000000000000"`},
		{"export_snapshot_pcap", map[string]any{"id": info.ID, "bpf": "port http"}, "bpf"},
		{"create_snapshot", map[string]any{"start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"}, "nothing in the window"},
		{"list_api_calls", map[string]any{"snapshot": "snap-ffffffffffffffff"}, `no snapshot with id "snap-ffffffffffffffff"`},
	} {
		res := c.Call(t, tc.tool, tc.args)
		if !res.IsError || !strings.Contains(mcptest.Text(res), tc.want) {
			t.Errorf("%s(%v): %v %q, want an error mentioning %q", tc.tool, tc.args, res.IsError, mcptest.Text(res), tc.want)
		}
	}

	// The hub serves the same export for download.
	tok := strings.Repeat("k", 64)
	h, err := hub.Handler(hub.Options{Server: s, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/snapshots/"+info.ID+"/pcap?kfl=status_code%20%3D%3D%20503", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	disk, _ := os.ReadFile(ex.Path)
	if resp.StatusCode != 200 || !bytes.Equal(body, disk) {
		t.Fatalf("download: %d, %d bytes; the export on disk has %d", resp.StatusCode, len(body), len(disk))
	}
	req, _ = http.NewRequest("GET", srv.URL+"/api/snapshots/"+info.ID+"/pcap?bpf=port%20http", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad bpf download: %d, want 400", resp.StatusCode)
	}
}
