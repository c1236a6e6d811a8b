package mcp_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// skillCall is one tool call a Kubeshark agent skill makes, transcribed
// with the arguments the skill gives (SNAP stands for the snapshot the
// walk created, CALL for a call id an earlier answer gave).
type skillCall struct {
	source string // the skill file that makes the call
	tool   string
	args   map[string]any
	// fails is the text the error must hold, for the tools listed as not
	// available; empty means the call must succeed.
	fails string
}

// skillCalls are the calls of Kubeshark's published agent skills, from
// github.com/kubeshark/kubeshark at commit d3ac79a2: skills/network-rca
// (SKILL.md, references/setup.md) and skills/security-audit/SKILL.md, in
// the order the skills make them. Time windows the skills leave to the
// user are the cascade's incident; workload names and IPs are the skills'
// own examples where they give them.
// dissectHTTP is the import pipeline with the built-in HTTP dissector, as
// Options.Dissect.
func dissectHTTP(t testing.TB) func(ctx context.Context, src capture.Source, dst *storage.Store, disabled []string) error {
	d := dissectortest.Builtin(t, "http1")
	return func(ctx context.Context, src capture.Source, dst *storage.Store, disabled []string) error {
		_, err := pipeline.New(pipeline.Config{NewID: storage.NewID}, []engine.Dissector{d}, dst).Run(ctx, src)
		return err
	}
}

var skillCalls = []skillCall{
	// network-rca: prerequisites and snapshot operations.
	{"network-rca/SKILL.md", "check_kubeshark_status", nil, ""},
	{"network-rca/SKILL.md", "get_data_boundaries", nil, ""},
	{"network-rca/SKILL.md", "get_l7_data_boundaries", nil, ""},
	{"network-rca/SKILL.md", "list_snapshots", nil, ""},
	// "create_snapshot covering the incident window (add 15 minutes
	// buffer)": from before the capture began to its end.
	{"network-rca/SKILL.md", "create_snapshot", map[string]any{"start": "BEFORE", "end": "END"}, ""},
	{"network-rca/SKILL.md", "get_snapshot", map[string]any{"snapshot_id": "SNAP"}, ""},
	{"network-rca/SKILL.md", "get_cloud_storage_status", nil, ""},
	{"network-rca/SKILL.md", "upload_snapshot_to_cloud", map[string]any{"snapshot_id": "SNAP"}, "not available"},
	{"network-rca/SKILL.md", "download_snapshot_from_cloud", map[string]any{"snapshot_id": "SNAP"}, "not available"},
	// Route 1: PCAP.
	{"network-rca/SKILL.md", "list_workloads", map[string]any{"name": "orders-594487879c-7ddxf", "namespace": "prod"}, ""},
	{"network-rca/SKILL.md", "list_workloads", map[string]any{"name": "payment-service-6b8f9d-x2k4p", "namespace": "prod"}, ""},
	{"network-rca/SKILL.md", "export_snapshot_pcap", map[string]any{"snapshot_id": "SNAP", "bpf_filter": "host 10.0.53.101 or host 10.0.53.205"}, ""},
	{"network-rca/SKILL.md", "list_workloads", map[string]any{"snapshot_id": "SNAP", "namespaces": []string{"prod"}, "name_regex": "payment.*"}, ""},
	{"network-rca/SKILL.md", "list_ips", map[string]any{"ip": "10.0.53.101", "snapshot_id": "SNAP"}, ""},
	{"network-rca/SKILL.md", "list_ips", map[string]any{"snapshot_id": "SNAP", "namespaces": []string{"prod"}, "labels": map[string]string{"app": "payment"}}, ""},
	// Route 2: dissection.
	{"network-rca/SKILL.md", "get_snapshot_dissection_status", map[string]any{"snapshot_id": "SNAP"}, ""},
	{"network-rca/SKILL.md", "list_snapshot_dissections", nil, ""},
	{"network-rca/SKILL.md", "start_snapshot_dissection", map[string]any{"snapshot_id": "SNAP"}, ""},
	{"network-rca/SKILL.md", "get_snapshot_dissection_status", map[string]any{"snapshot_id": "SNAP"}, ""}, // polled until completed
	{"network-rca/SKILL.md", "get_api_stats", map[string]any{"snapshot_id": "SNAP"}, ""},
	{"network-rca/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": "http && status_code >= 500"}, ""},
	{"network-rca/SKILL.md", "get_api_call", map[string]any{"snapshot_id": "SNAP", "id": "CALL"}, ""},
	{"network-rca/SKILL.md", "list_api_calls", map[string]any{"kfl": "http && status_code == 500"}, ""},
	{"network-rca/SKILL.md", "list_api_calls", map[string]any{"kfl": `dst.service.name == "payment-service"`}, ""},
	{"network-rca/SKILL.md", "list_api_calls", map[string]any{"kfl": "dns && status_code != 0"}, ""},
	{"network-rca/SKILL.md", "list_api_calls", map[string]any{"kfl": `src.pod.namespace == "prod" && dst.pod.namespace == "staging"`}, ""},
	{"network-rca/SKILL.md", "list_api_calls", map[string]any{"kfl": "http && elapsed_time > 5000000"}, ""},
	{"network-rca/SKILL.md", "list_api_calls", map[string]any{"kfl": `http && dst.pod.namespace == "production" && status_code >= 500 && dst.service.name == "payment-service" && path.contains("/charge")`}, ""},
	{"network-rca/SKILL.md", "list_api_calls", map[string]any{"kfl": "dns && dns_response && status_code != 0"}, ""},
	{"network-rca/SKILL.md", "list_api_calls", map[string]any{"kfl": "src.service.namespace != dst.service.namespace"}, ""},
	{"network-rca/SKILL.md", "list_api_calls", map[string]any{"kfl": `conn && conn_state == "open" && conn_local_bytes > 1000000`}, ""},
	{"network-rca/references/setup.md", "get_dissection_status", nil, ""},
	{"network-rca/references/setup.md", "enable_dissection", nil, ""},
	// security-audit: section A (live data).
	{"security-audit/SKILL.md", "check_kubeshark_status", nil, ""},
	{"security-audit/SKILL.md", "get_l7_data_boundaries", nil, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"kfl": "dns"}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"kfl": "http"}, ""},
	{"security-audit/SKILL.md", "list_l4_flows", nil, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"kfl": "postgresql"}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"kfl": "redis"}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"kfl": `dns && src.pod.namespace == "k8s-mule"`}, ""},
	// Section B (snapshots), phases 1 to 6.
	{"security-audit/SKILL.md", "get_data_boundaries", nil, ""},
	{"security-audit/SKILL.md", "get_snapshot", map[string]any{"snapshot_id": "SNAP"}, ""},
	{"security-audit/SKILL.md", "start_snapshot_dissection", map[string]any{"snapshot_id": "SNAP"}, ""},
	{"security-audit/SKILL.md", "get_snapshot_dissection_status", map[string]any{"snapshot_id": "SNAP"}, ""},
	{"security-audit/SKILL.md", "list_workloads", map[string]any{"snapshot_id": "SNAP"}, ""},
	{"security-audit/SKILL.md", "export_snapshot_pcap", map[string]any{"snapshot_id": "SNAP", "bpf_filter": "host 10.0.0.30"}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": `dns && dns_questions.exists(q, q.contains("minexmr"))`}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": "dns && dns_response && size(dns_answers) == 0"}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": `http && !dst.pod.namespace.startsWith("kube")`}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": "src.pod.namespace != dst.pod.namespace"}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": `http && dst.port == 443 && path.startsWith("/api")`}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": `http && (path == "/.env" || path == "/actuator/info" || path == "/server-info" || path == "/version")`}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": `postgresql && postgresql_query.contains("UNION SELECT")`}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": "postgresql && !postgresql_success"}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": `redis && redis_type == "CONFIG"`}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": `redis && redis_command.contains("CONFIG SET dir")`}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": `grpc && grpc_method.contains("Reflection")`}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": `grpc && dst.name.contains("attacker")`}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": "grpc && grpc_status != 0"}, ""},
	{"security-audit/SKILL.md", "list_api_calls", map[string]any{"snapshot_id": "SNAP", "kfl": `dst.ip == "169.254.169.254"`}, ""},
	{"security-audit/SKILL.md", "get_api_call", map[string]any{"snapshot_id": "SNAP", "id": "CALL"}, ""},
	{"security-audit/SKILL.md", "get_api_stats", map[string]any{"snapshot_id": "SNAP"}, ""},
}

// TestKubesharkSkillsRunUnchanged walks every tool call of Kubeshark's
// agent skills against a server over the cascade and audit captures: each
// succeeds and satisfies its output schema, except the cloud storage calls,
// which say they are not available. The snapshot is dissected again in the
// background and its answers then come from that dissection.
func TestKubesharkSkillsRunUnchanged(t *testing.T) {
	// Before the scenario: cleanups run last-first, so the snapshot
	// manager stops its background dissection before the dissector's
	// runtime closes under it.
	dissect := dissectHTTP(t)
	sc := newScenario(t)
	s, err := mcp.New(mcp.Options{Store: sc.store, Dissectors: dissectorList(), Snapshots: sc.snaps, ExportDir: filepath.Join(sc.dir, "exports"),
		Version: "test", AllowDestructive: true, Dissect: dissect})
	if err != nil {
		t.Fatal(err)
	}
	c := mcptest.Connect(t, mustInProcess(t, s))
	cs := sc.cascade
	before, end := rfc(cs.FailureOnset.Add(-15*time.Minute)), rfc(cs.End.Add(time.Second))

	listed := map[string]bool{}
	for _, tool := range c.Tools {
		listed[tool.Name] = true
	}
	snap, call := "", ""
	subst := func(args map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range args {
			switch v {
			case "SNAP":
				v = snap
			case "CALL":
				v = call
			case "BEFORE":
				v = before
			case "END":
				v = end
			}
			out[k] = v
		}
		return out
	}
	for i, sk := range skillCalls {
		if !listed[sk.tool] {
			t.Errorf("%s calls %s, which the server does not list", sk.source, sk.tool)
			continue
		}
		res := c.Call(t, sk.tool, subst(sk.args))
		if sk.fails != "" {
			if !res.IsError || !strings.Contains(mcptest.Text(res), sk.fails) {
				t.Errorf("step %d (%s) %s: %v %q, want an error saying %q", i, sk.source, sk.tool, res.IsError, mcptest.Text(res), sk.fails)
			}
			continue
		}
		if res.IsError {
			t.Errorf("step %d (%s) %s(%v): %s", i, sk.source, sk.tool, subst(sk.args), mcptest.Text(res))
			continue
		}
		var out map[string]any
		c.Structured(t, sk.tool, res, &out)
		switch sk.tool {
		case "create_snapshot":
			snap, _ = out["id"].(string)
		case "get_snapshot":
			if out["status"] != "completed" {
				t.Errorf("get_snapshot status %v; the skills poll until completed", out["status"])
			}
		case "get_l7_data_boundaries":
			cl, _ := out["cluster"].(map[string]any)
			if out["dissection_enabled"] != true || cl["oldest_ts"].(float64) <= 0 || cl["newest_ts"].(float64) < cl["oldest_ts"].(float64) {
				t.Errorf("get_l7_data_boundaries: %v", out)
			}
		case "start_snapshot_dissection":
			// The skills poll until progress reaches 100.
			deadline := time.Now().Add(time.Minute)
			for {
				var st mcp.DissectionStatusResult
				c.Get(t, "get_snapshot_dissection_status", map[string]any{"snapshot_id": snap}, &st)
				if st.Status == "completed" && st.Progress == 100 {
					if st.Dissection.Records == 0 || !strings.HasPrefix(st.Queried, "dissection ") {
						t.Fatalf("completed dissection: %+v", st)
					}
					break
				}
				if st.Status == "failed" || time.Now().After(deadline) {
					t.Fatalf("dissection: %+v", st)
				}
				time.Sleep(50 * time.Millisecond)
			}
		case "list_api_calls":
			calls, _ := out["calls"].([]any)
			if sk.args["kfl"] == "http && status_code >= 500" {
				// A page holds 50 by default; the rest follow the cursor.
				want := cs.Payments.Statuses[503]
				if len(calls) != min(want, 50) || out["truncated"] != (want > 50) {
					t.Errorf("the dissected snapshot lists %d server errors (truncated %v), payments sent %d 503s", len(calls), out["truncated"], want)
				}
				call = calls[0].(map[string]any)["id"].(string)
			}
		case "get_api_call":
			body, _ := out["call"].(map[string]any)["response"].(map[string]any)["body"].(string)
			if !strings.Contains(body, "UPSTREAM_TIMEOUT") {
				t.Errorf("get_api_call on the dissected snapshot: body %q", body)
			}
		}
	}
	if snap == "" {
		t.Fatal("no snapshot was created")
	}
}
