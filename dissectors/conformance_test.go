package dissectors_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/dissectors"
	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// The conformance suite runs every capture of the shared third-party corpus
// through the real pipeline and the WebAssembly builds of the built-in
// dissectors, and compares the result with tshark's view of the same file
// (../shared/tools/tshark-oracle.py), per protocol: the multiset of
// "METHOD PATH" and the multiset of status codes.

// conformingProtocols is the share of corpus files per protocol that must
// match tshark exactly. Only protocols that a loaded dissector declares are
// checked; KUBESHARK_CONFORMANCE=dns,redis narrows the run further.
var conformingProtocols = map[string]float64{
	"http": 1.0, "http2": 0.98, "grpc": 0.98, "dns": 0.98, "postgres": 0.98,
	"mysql": 0.98, "kafka": 0.98, "amqp": 0.98, "mqtt": 0.98, "tls": 0.98,
	// redis, mongodb and websocket have no oracle row; their dissectors
	// check the corpus against tshark's own output in their tests.
}

// oracleStatuses are the protocols for which the oracle reports status
// codes; for the others only requests are compared.
var oracleStatuses = map[string]bool{"http": true, "http2": true, "grpc": true, "dns": true}

// knownDisagreements are files where our answer differs from tshark's on
// purpose; docs/conformance.md explains each one. The value names the
// protocol the exception covers.
var knownDisagreements = map[string]string{
	// HTTP/1: tshark misses out-of-order or holed responses, counts HTTP
	// quoted in ICMP errors and sFlow samples, stops at a smuggling probe.
	"http1/sv_keepalive_15_range_req_ooo.pcap":   "http",
	"http1/zeek_bro-org_browsing.pcap":           "http",
	"http1/sv_pipelined_multi_conn.pcap":         "http",
	"http1/sv_pipelined_chunked_with_gap.pcap":   "http",
	"tcp/sv_http_ooo13_lost5.pcap":               "http",
	"tcp/sv_http_multipart_ooo7.pcap":            "http",
	"http1/zeek_chunk_size_2pow64_overflow.pcap": "http",
	// HTTP/2: one stream, one record; tshark splits it by header block.
	"grpc/deepflow_grpc_unknown.pcap": "http2",
	// DNS: the oracle's type table lacks LOC (29) and SSHFP (44); tshark
	// does not decode DoH GET queries carried in :path.
	"dns/tcpdump_dnssec.pcap":         "dns",
	"dns/zeek_udp_11q_same_flow.pcap": "dns",
	"http2/sv_h2c_doh_get.pcap":       "dns",
	// PostgreSQL: the contract's EXECUTE per Execute against tshark's
	// QUERY per Parse; failed logins and CancelRequest are records of ours;
	// tshark escapes newlines in SQL.
	"postgresql/ndpi_session.pcap":                "postgres",
	"postgresql/deepflow_all_types_port8000.pcap": "postgres",
	"postgresql/deepflow_prepared_stmt.pcap":      "postgres",
	"postgresql/zeek_app_greenhouse.pcap":         "postgres",
	"postgresql/zeek_login_fail.pcap":             "postgres",
	"postgresql/sv_upgrade_tls.pcap":              "postgres",
	"postgresql/sv_cancel_request.pcap":           "postgres",
	// MySQL: schema and prepared SQL as path (the contract); compressed
	// captures and encrypted passwords tshark misreads as commands; failed
	// logins are records of ours.
	"mysql/zeek_session.pcap":                 "mysql",
	"mysql/deepflow_prepared_statements.pcap": "mysql",
	"mysql/deepflow_stmt_execute.pcap":        "mysql",
	"mysql/deepflow_compressed_protocol.pcap": "mysql",
	"mysql/deepflow_compressed_response.pcap": "mysql",
	"mysql/zeek_login_failed.pcap":            "mysql",
	"mysql/zeek_caching_sha2.pcap":            "mysql",
	"mysql/zeek_auth_retrans.pcap":            "mysql",
	"mysql/deepflow_login_error.pcap":         "mysql",
}

type oracleView map[string]struct {
	Req    map[string]int `json:"req"`
	Status map[string]int `json:"status"`
}

type manifestEntry struct {
	File   string         `json:"file"`
	Decode []string       `json:"decode"`
	Protos map[string]int `json:"protos"`
}

// tsharkNames maps our protocol names to tshark's, to pick from the
// manifest the files where tshark saw a protocol we check. Running the
// oracle costs seconds per file, so files with none of them are skipped.
var tsharkNames = map[string][]string{
	"http": {"http"}, "http2": {"http2"}, "grpc": {"grpc"}, "dns": {"dns"}, "redis": {"resp"},
	"postgres": {"pgsql"}, "mysql": {"mysql"}, "kafka": {"kafka"}, "amqp": {"amqp"},
	"mongodb": {"mongo"}, "mqtt": {"mqtt"}, "tls": {"tls"},
}

func relevant(e manifestEntry, checked map[string]float64) bool {
	for proto := range checked {
		for _, n := range tsharkNames[proto] {
			if e.Protos[n] > 0 {
				return true
			}
		}
	}
	return false
}

func sharedDir(*testing.T) string { return dissectortest.SharedDir() }

func TestCorpusConformance(t *testing.T) {
	shared := sharedDir(t)
	corpus := filepath.Join(shared, "corpus")
	raw, err := os.ReadFile(filepath.Join(corpus, "manifest.json"))
	if err != nil {
		t.Skipf("SKIPPED: the shared corpus is not at %s (%v); conformance against tshark was not checked", corpus, err)
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("SKIPPED: tshark is not installed (Debian package tshark; `make deps` installs it); conformance against tshark was not checked")
	}
	var all []manifestEntry
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	oracle := filepath.Join(shared, "tools", "tshark-oracle.py")
	engines := loadBuiltins(t)
	checked := map[string]float64{}
	only := map[string]bool{}
	for _, p := range strings.Split(os.Getenv("KUBESHARK_CONFORMANCE"), ",") {
		if p != "" {
			only[p] = true
		}
	}
	for _, e := range engines {
		for _, p := range e.Manifest().Protocols {
			if share, ok := conformingProtocols[p]; ok && (len(only) == 0 || only[p]) {
				checked[p] = share
			}
		}
	}

	var entries []manifestEntry
	for _, e := range all {
		if relevant(e, checked) {
			entries = append(entries, e)
		}
	}

	type result struct {
		file      string
		want, got oracleView
		err       error
	}
	results := make([]result, len(entries))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, e := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			path := filepath.Join(corpus, e.File)
			res := result{file: e.File}
			res.want, res.err = runOracle(oracle, path, e.Decode)
			if res.err == nil {
				res.got, res.err = runOurs(engines, path)
			}
			results[i] = res
		}()
	}
	wg.Wait()

	// exact counts files identical to tshark; match adds the documented
	// disagreements, which the share target is measured on.
	type tally struct{ files, exact, match int }
	per := map[string]*tally{}
	var report bytes.Buffer
	for _, r := range results {
		if r.err != nil {
			t.Errorf("%s: %v", r.file, r.err)
			continue
		}
		for proto := range checked {
			w, g := r.want[proto], r.got[proto]
			if len(w.Req) == 0 && len(w.Status) == 0 && len(g.Req) == 0 && len(g.Status) == 0 {
				continue
			}
			tl := per[proto]
			if tl == nil {
				tl = &tally{}
				per[proto] = tl
			}
			tl.files++
			diff := diffCounts("requests", w.Req, g.Req)
			if oracleStatuses[proto] {
				diff += diffCounts("statuses", w.Status, g.Status)
			}
			if diff == "" {
				tl.exact++
				tl.match++
				if knownDisagreements[r.file] == proto {
					fmt.Fprintf(&report, "%s [%s] listed as a known disagreement but now matches: remove it\n", r.file, proto)
				}
				continue
			}
			if knownDisagreements[r.file] == proto {
				tl.match++
				fmt.Fprintf(&report, "%s [%s] known disagreement (docs/conformance.md):%s\n", r.file, proto, diff)
				continue
			}
			fmt.Fprintf(&report, "%s [%s] MISMATCH:%s\n", r.file, proto, diff)
		}
	}
	protos := make([]string, 0, len(per))
	for p := range per {
		protos = append(protos, p)
	}
	sort.Strings(protos)
	for _, p := range protos {
		tl := per[p]
		share := float64(tl.match) / float64(tl.files)
		t.Logf("conformance %-8s %3d/%3d files identical to tshark (%.1f%%); %3d/%3d with the documented disagreements (%.1f%%)",
			p, tl.exact, tl.files, 100*float64(tl.exact)/float64(tl.files), tl.match, tl.files, 100*share)
		if share < checked[p] {
			t.Errorf("%s: %.1f%% of files match tshark, want at least %.1f%%", p, 100*share, 100*checked[p])
		}
	}
	if report.Len() > 0 {
		t.Logf("per-file differences:\n%s", report.String())
	}
}

func diffCounts(what string, want, got map[string]int) string {
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if want[k] != got[k] {
			shown := k
			if len(shown) > 100 {
				shown = shown[:97] + "..."
			}
			out = append(out, fmt.Sprintf("%q tshark %d ours %d", shown, want[k], got[k]))
		}
	}
	if len(out) == 0 {
		return ""
	}
	sort.Strings(out)
	if len(out) > 8 {
		out = append(out[:8], fmt.Sprintf("… %d more", len(out)-8))
	}
	return "\n    " + what + ": " + strings.Join(out, "; ")
}

func runOracle(oracle, path string, decode []string) (oracleView, error) {
	cmd := exec.Command("python3", append([]string{oracle, path}, decode...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tshark oracle: %v: %s", err, stderr.String())
	}
	var v oracleView
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("tshark oracle output: %v", err)
	}
	return v, nil
}

type memSink struct {
	mu   sync.Mutex
	recs []*sdk.Record
}

func (m *memSink) Put(_ context.Context, recs []*sdk.Record) error {
	m.mu.Lock()
	m.recs = append(m.recs, recs...)
	m.mu.Unlock()
	return nil
}

func loadBuiltins(t *testing.T) []engine.Dissector {
	t.Helper()
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: filepath.Join(os.TempDir(), "kubeshark-test-wazero-cache")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	// KUBESHARK_DISSECTORS=dns,http1 loads only those built-ins, so that a
	// dissector can be checked while another is half-written.
	want := map[string]bool{}
	for _, n := range strings.Split(os.Getenv("KUBESHARK_DISSECTORS"), ",") {
		if n != "" {
			want[n] = true
		}
	}
	var out []engine.Dissector
	for _, name := range dissectortest.Sources(t) {
		if len(want) > 0 && !want[name] {
			continue
		}
		// As the CLI loads them: with the host's copy of the manifest and
		// the probe as a prefilter, so that the suite holds the prefilter
		// to the module's own answers.
		manifest, probe, ok := dissectors.Native(name)
		if !ok {
			t.Fatalf("built-in %s has no native manifest and probe (dissectors.natives)", name)
		}
		m, err := rt.LoadDescribed(ctx, "built-in", dissectortest.Wasm(t, name), manifest, probe)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// runOurs imports a capture and renders the records in the oracle's terms.
func runOurs(engines []engine.Dissector, path string) (oracleView, error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	sink := &memSink{}
	p := pipeline.New(pipeline.Config{Workers: 1}, engines, sink)
	if _, err := p.Run(context.Background(), src); err != nil {
		return nil, err
	}
	v := oracleView{}
	for _, r := range sink.recs {
		e := v[r.Protocol]
		if e.Req == nil {
			e.Req, e.Status = map[string]int{}, map[string]int{}
		}
		key := conformanceKey(r)
		// tshark's oracle pairs HTTP methods with URIs, so a request line
		// without a target ("OPTIONS\r\n") is a request we record and it
		// cannot count.
		uriless := r.Path == "" && (r.Protocol == "http" || r.Protocol == "http2" || r.Protocol == "grpc")
		// The oracle counts DNS queries; a response whose query the
		// capture missed is a record of ours without a request.
		queryless := r.Protocol == "dns" && r.Request == nil
		if (r.Method != "" || r.Path != "") && !uriless && !queryless {
			e.Req[key]++
		}
		if r.Response != nil {
			e.Status[strconv.Itoa(r.Status)]++
			// tshark lists interim responses as responses of their own.
			if interim, ok := r.Response.Fields["interim"].([]any); ok {
				for _, s := range interim {
					if f, ok := s.(float64); ok {
						e.Status[strconv.Itoa(int(f))]++
					}
				}
			}
		}
		v[r.Protocol] = e
	}
	return v, nil
}

// conformanceKey renders a record as the oracle keys its protocol: Kafka
// by API name and AMQP by Class.Method alone, the rest as "METHOD PATH".
func conformanceKey(r *sdk.Record) string {
	switch r.Protocol {
	case "kafka", "amqp":
		return r.Method
	}
	return strings.TrimSpace(r.Method + " " + r.Path)
}
