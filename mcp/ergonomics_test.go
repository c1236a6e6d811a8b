package mcp_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
	"github.com/kubeshark-wasm/kubeshark/storage/analysis"
	"github.com/kubeshark-wasm/kubeshark/storage/snapshot"
)

// changesState lists the tools that are not read-only, with whether they
// are destructive (need --allow-destructive).
var changesState = map[string]bool{
	"create_snapshot":           false,
	"export_snapshot_pcap":      false,
	"start_snapshot_dissection": false,
	// Listed as not available; they would add state if they were.
	"upload_snapshot_to_cloud":     false,
	"download_snapshot_from_cloud": false,
	"enable_dissection":            true,
	"disable_dissection":           true,
}

func TestEveryToolCarriesAnnotationsTitleAndGuidance(t *testing.T) {
	f := newFixture(t)
	c := mcptest.Connect(t, mustInProcess(t, f.server(t, false)))
	for _, tool := range c.Tools {
		a := tool.Annotations
		if tool.Title == "" || a.Title == "" {
			t.Errorf("%s: no title", tool.Name)
		}
		if a.ReadOnlyHint == nil || a.DestructiveHint == nil || a.IdempotentHint == nil || a.OpenWorldHint == nil {
			t.Errorf("%s: a hint is left to the specification's default: %+v", tool.Name, a)
			continue
		}
		destructive, writes := changesState[tool.Name]
		if *a.ReadOnlyHint == writes || *a.DestructiveHint != destructive || *a.OpenWorldHint {
			t.Errorf("%s: readOnly=%v destructive=%v openWorld=%v; want readOnly=%v destructive=%v openWorld=false", tool.Name, *a.ReadOnlyHint, *a.DestructiveHint, *a.OpenWorldHint, !writes, destructive)
		}
		if !writes && !*a.IdempotentHint {
			t.Errorf("%s: a read-only tool is idempotent", tool.Name)
		}
		if !strings.Contains(tool.Description, "Next:") {
			t.Errorf("%s: the description does not say what to call next: %q", tool.Name, tool.Description)
		}
		if strings.Contains(string(tool.RawInputSchema), `"additionalProperties":false`) {
			t.Errorf("%s: the input schema forbids the aliases the server accepts", tool.Name)
		}
	}
}

func TestArgumentsForgiveWhatAModelGuesses(t *testing.T) {
	sc := newScenario(t)
	c := mcptest.Connect(t, mustInProcess(t, sc.server(t)))
	cs := sc.cascade
	end := rfc(cs.End.Add(time.Second))

	var snap snapshot.Info
	c.Get(t, "create_snapshot", map[string]any{"name": "aliases", "start": rfc(cs.FailureOnset), "end": end}, &snap)

	// snapshot_id (Kubeshark's name) is snapshot on the query tools and id
	// on the snapshot tools.
	var a, b mcp.ListCallsResult
	c.Get(t, "list_api_calls", map[string]any{"snapshot": snap.ID, "kfl": "status_code == 503", "limit": 1000}, &a)
	c.Get(t, "list_api_calls", map[string]any{"snapshot_id": snap.ID, "filter": "status_code == 503", "max_results": 1000}, &b)
	if a.Returned == 0 || a.Returned != b.Returned {
		t.Fatalf("snapshot_id/filter/max_results found %d calls, snapshot/kfl/limit %d", b.Returned, a.Returned)
	}
	var got snapshot.Info
	c.Get(t, "get_snapshot", map[string]any{"snapshot_id": snap.ID}, &got)
	if got.ID != snap.ID {
		t.Fatalf("get_snapshot with snapshot_id: %+v", got)
	}
	var ex mcp.ExportResult
	c.Get(t, "export_snapshot_pcap", map[string]any{"snapshot_id": snap.ID, "bpf_filter": "host 10.0.0.30"}, &ex)
	if ex.Packets == 0 {
		t.Fatalf("export with snapshot_id and bpf_filter: %+v", ex)
	}

	// service where a tool takes an endpoint.
	var dep analysis.DependencyResult
	c.Get(t, "get_dependencies", map[string]any{"service": "10.0.0.30"}, &dep)
	if !strings.Contains(fmt.Sprint(dep.Impact), "10.0.0.20") {
		t.Fatalf("get_dependencies with service: %s", dep.Summary)
	}
	// list_workloads: a lookup by name (an IP here: a pcap has no names),
	// a regex scan, namespaces (none known in a pcap: empty, and why).
	var wl analysis.EndpointsResult
	c.Get(t, "list_workloads", map[string]any{"name": "10.0.0.30"}, &wl)
	if len(wl.Hosts) != 1 || wl.Hosts[0].IP != "10.0.0.30" {
		t.Fatalf("list_workloads name=10.0.0.30: %s", wl.Summary)
	}
	c.Get(t, "list_workloads", map[string]any{"snapshot_id": snap.ID, "name_regex": `^10\.0\.0\.(20|30)$`}, &wl)
	if len(wl.Hosts) != 2 {
		t.Fatalf("list_workloads name_regex: %s", wl.Summary)
	}
	c.Get(t, "list_workloads", map[string]any{"namespaces": []string{"prod"}}, &wl)
	if len(wl.Hosts) != 0 || !strings.Contains(wl.Summary, "namespace") {
		t.Fatalf("list_workloads namespaces=[prod] on a pcap: %s", wl.Summary)
	}
	var ips analysis.EndpointsResult
	c.Get(t, "list_ips", map[string]any{"ip": "10.0.0.5", "namespace": ""}, &ips)
	if len(ips.Hosts) != 1 || ips.Hosts[0].Role != "client" {
		t.Fatalf("list_ips ip=10.0.0.5: %s", ips.Summary)
	}

	for _, tc := range []struct {
		tool string
		args map[string]any
		want []string
	}{
		{"list_api_calls", map[string]any{"limt": 5}, []string{`unknown argument "limt"`, `did you mean "limit"?`}},
		{"list_api_calls", map[string]any{"snapshotid": snap.ID}, []string{`did you mean "snapshot"?`}},
		{"get_dependencies", map[string]any{"endpont": "10.0.0.30"}, []string{`did you mean "endpoint"?`}},
		{"export_snapshot_pcap", map[string]any{"id": snap.ID, "bpf_fliter": "host 10.0.0.30"}, []string{`unknown argument "bpf_fliter"`, `did you mean "bpf"?`}},
		{"get_dependencies", map[string]any{"servce": "10.0.0.30"}, []string{`did you mean "endpoint"?`}},
		{"list_api_calls", map[string]any{"top": 5}, []string{`unknown argument "top"`, "this tool takes"}},
		{"list_l4_flows", map[string]any{"min_rtt_ms": 5}, []string{`unknown argument "min_rtt_ms"`, "min_handshake_rtt_ms"}},
		{"get_data_boundaries", map[string]any{"xyzzy": 1}, []string{`unknown argument "xyzzy"`, "takes no arguments"}},
		{"list_api_calls", map[string]any{"kfl": "http", "filter": "dns"}, []string{"filter and kfl are the same argument", "pass only kfl"}},
		{"list_api_calls", map[string]any{"limit": "ten"}, []string{`"limit" must be an integer`}},
		// Every error says what to do.
		{"get_api_call", map[string]any{}, []string{"id is required", "list_api_calls"}},
		{"compare_traffic", map[string]any{"start": "14:00"}, []string{"baseline_start", "find_anomalies"}},
		{"list_api_calls", map[string]any{"limit": 5000}, []string{"at most 1000", "next_cursor"}},
		{"get_dependencies", map[string]any{}, []string{"endpoint (or service) is required", "list_workloads"}},
		{"list_workloads", map[string]any{"name_regex": "("}, []string{"name_regex", "RE2"}},
		{"export_snapshot_pcap", map[string]any{"id": snap.ID, "bpf": "port http"}, []string{"bpf", "tcpdump"}},
	} {
		res := c.Call(t, tc.tool, tc.args)
		text := mcptest.Text(res)
		if !res.IsError {
			t.Errorf("%s(%v) succeeded: %.200q", tc.tool, tc.args, text)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s(%v): error %q lacks %q", tc.tool, tc.args, text, w)
			}
		}
	}
}
