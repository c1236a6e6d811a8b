package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/plugins/plugintest"
)

// hubGet reads a hub JSON route with the data directory's token.
func hubGet(t *testing.T, data, url, path string, out any) int {
	t.Helper()
	tok, err := hub.LoadToken(data)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", url+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// hubDissectors lists the dissector names a running hub serves.
func hubDissectors(t *testing.T, data, url string) string {
	t.Helper()
	var res struct {
		Dissectors []struct{ Name, Source string }
	}
	if st := hubGet(t, data, url, "/api/dissectors", &res); st != 200 {
		t.Fatalf("GET /api/dissectors: %d", st)
	}
	var names []string
	for _, d := range res.Dissectors {
		names = append(names, d.Name)
	}
	return strings.Join(names, ",")
}

// eventually polls cond for a few seconds: the hub reads the plugin store
// once a second.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A running hub follows the plugin store: a plugin installed, disabled or
// removed (through the hub with --url, or with kubeshark plugin on the
// same data directory) shows in list_dissectors and the filter language
// without a restart; a read-only hub refuses changes; the hub checks
// signatures with its own trust store; errors say what went wrong.
func TestPluginsThroughRunningHub(t *testing.T) {
	f := newPluginFixture(t)
	h := startHubProcess(t, f.data, "--allow-destructive")
	tok, err := hub.LoadToken(f.data)
	if err != nil {
		t.Fatal(err)
	}
	remote := []string{"--url", h.url, "--token", tok}
	if got := hubDissectors(t, f.data, h.url); strings.Contains(got, "pingpong") {
		t.Fatalf("pingpong listed before its install: %s", got)
	}
	filterOK := func(kfl string) bool {
		return hubGet(t, f.data, h.url, "/api/calls?kfl="+strings.ReplaceAll(kfl, " ", "%20"), nil) == 200
	}
	if filterOK("pingpong_n > 1") {
		t.Fatal("a filter on the plugin's field passed before the install")
	}

	r := ks(t, t.TempDir(), append([]string{"plugin", "install", f.module}, remote...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "installed pingpong 1.0.0") || !strings.Contains(r.stdout, "into the hub at "+h.url) {
		t.Fatalf("install through the hub: %+v", r)
	}
	eventually(t, "the hub lists the installed plugin", func() bool { return strings.Contains(hubDissectors(t, f.data, h.url), "pingpong") })
	if !filterOK("pingpong_n > 1") {
		t.Fatal("the plugin's field does not filter on the running hub")
	}
	// `kubeshark dissectors` on the hub's data directory sees it too.
	if r := ks(t, f.data, "dissectors"); !strings.Contains(r.stdout, "pingpong") {
		t.Fatalf("kubeshark dissectors: %+v", r)
	}
	r = ks(t, t.TempDir(), append([]string{"plugin", "list", "-o", "json"}, remote...)...)
	if r.code != 0 || !strings.Contains(r.stdout, `"name": "pingpong"`) {
		t.Fatalf("list through the hub: %+v", r)
	}

	r = ks(t, t.TempDir(), append([]string{"plugin", "disable", "pingpong"}, remote...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "disabled") {
		t.Fatalf("disable through the hub: %+v", r)
	}
	eventually(t, "the hub drops the disabled plugin", func() bool { return !strings.Contains(hubDissectors(t, f.data, h.url), "pingpong") })
	// Local changes to the store reach the running hub as well.
	if r := ks(t, f.data, "plugin", "enable", "pingpong"); r.code != 0 {
		t.Fatalf("enable: %+v", r)
	}
	eventually(t, "the hub lists the re-enabled plugin", func() bool { return strings.Contains(hubDissectors(t, f.data, h.url), "pingpong") })
	r = ks(t, t.TempDir(), append([]string{"plugin", "remove", "pingpong"}, remote...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "removed pingpong") {
		t.Fatalf("remove through the hub: %+v", r)
	}
	eventually(t, "the hub drops the removed plugin", func() bool { return !strings.Contains(hubDissectors(t, f.data, h.url), "pingpong") })
	if r := ks(t, t.TempDir(), append([]string{"plugin", "remove", "pingpong"}, remote...)...); r.code == 0 || !strings.Contains(r.stderr, "not installed") {
		t.Fatalf("second remove through the hub: %+v", r)
	}

	// The hub's trust store decides: an unsigned module is refused, and so
	// is one signed by a key only the client trusts.
	unsigned := filepath.Join(t.TempDir(), "pingpong.wasm")
	b, _ := os.ReadFile(f.module)
	os.WriteFile(unsigned, b, 0o644)
	if r := ks(t, t.TempDir(), append([]string{"plugin", "install", unsigned}, remote...)...); r.code == 0 || !strings.Contains(r.stderr, "refused by the hub's trust store") || !strings.Contains(r.stderr, "unsigned") {
		t.Fatalf("unsigned through the hub: %+v", r)
	}
	other := t.TempDir()
	h2 := startHubProcess(t, other, "--allow-destructive")
	tok2, _ := hub.LoadToken(other)
	if r := ks(t, f.data, "plugin", "install", f.module, "--url", h2.url, "--token", tok2); r.code == 0 || !strings.Contains(r.stderr, "untrusted key") {
		t.Fatalf("a key the client trusts and the hub does not: %+v", r)
	}

	// Clear errors: a wrong token, no hub, a read-only hub.
	if r := ks(t, t.TempDir(), "plugin", "install", f.module, "--url", h.url, "--token", strings.Repeat("x", 40)); r.code == 0 || !strings.Contains(r.stderr, "rejected the token") {
		t.Fatalf("wrong token: %+v", r)
	}
	if r := ks(t, t.TempDir(), "plugin", "list", "--url", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), "--token", tok); r.code == 0 || !strings.Contains(r.stderr, "unreachable") {
		t.Fatalf("no hub: %+v", r)
	}
	if r := ks(t, t.TempDir(), "plugin", "install", f.module, "--url", h.url); r.code == 0 || !strings.Contains(r.stderr, "token") {
		t.Fatalf("no token: %+v", r)
	}
	// --proxy (TestMCPProxy drives it through a real API server) takes
	// the cluster's flags, not --url's.
	if r := ks(t, t.TempDir(), "plugin", "install", f.module, "--proxy", "--url", h.url); r.code == 0 || !strings.Contains(r.stderr, "not --url or --token") {
		t.Fatalf("--proxy with --url: %+v", r)
	}
	if r := ks(t, t.TempDir(), "plugin", "list", "--url", h.url, "--token", tok, "--namespace", "obs"); r.code == 0 || !strings.Contains(r.stderr, "apply to --proxy") {
		t.Fatalf("--namespace without --proxy: %+v", r)
	}
	h.stop(t)
	ro := startHubProcess(t, f.data)
	if r := ks(t, t.TempDir(), append([]string{"plugin", "install", f.module}, "--url", ro.url, "--token", tok)...); r.code == 0 || !strings.Contains(r.stderr, "read-only") || !strings.Contains(r.stderr, "--allow-destructive") {
		t.Fatalf("read-only hub: %+v", r)
	}
	if r := ks(t, t.TempDir(), "plugin", "list", "--url", ro.url, "--token", tok); r.code != 0 {
		t.Fatalf("a read-only hub lists its plugins: %+v", r)
	}
	if r := ks(t, f.data, "plugin", "list"); !strings.Contains(r.stdout, "no plugins installed") {
		t.Fatalf("refused installs left something: %s", r.stdout)
	}
}

// A running tap picks up a plugin installed while it captures: connections
// opened afterwards are dissected by it, a connection in progress when it is
// removed finishes with it, and connections opened after the removal are
// not. Real traffic on loopback, captured by the kernel hooks.
func TestTapHotReloadsPlugins(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("tap needs root to load BPF programs (CI runs as root)")
	}
	f := newPluginFixture(t)
	addr := plugintest.Server(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	tap := startTap(t, f.data, "--filter", "tcp port "+port, "--tls=false", "--no-status")
	// It says where it looked for plugins.
	tap.waitOutput(t, "; no plugins enabled in "+filepath.Join(f.data, "plugins"))
	session := func(names ...string) {
		c := plugintest.Dial(t, addr)
		for _, n := range names {
			c.Ping(t, n)
		}
		c.Close()
	}
	session("alice", "alice")

	if r := ks(t, f.data, "plugin", "install", f.module); r.code != 0 {
		t.Fatalf("install while tap runs: %+v", r)
	}
	tap.waitOutput(t, "plugins changed (+pingpong 1.0.0)")
	if r := ks(t, f.data, "dissectors"); !strings.Contains(r.stdout, "pingpong") {
		t.Fatalf("kubeshark dissectors through the tap: %+v", r)
	}
	session("bob", "bob", "bob")
	tap.waitCalls(t, f.data, `pingpong_name == "bob"`, 3)
	// `calls` goes through the tap's hub as it does without a tap: times
	// in UTC, nothing on stderr (no wait for the store tap holds), and an
	// empty answer says where the data is.
	if r := ks(t, f.data, "calls", "--filter", "pingpong && pingpong_n > 1"); r.code != 0 || !strings.HasPrefix(r.stdout, "TIME (UTC)") || strings.Count(r.stdout, " bob ") != 2 || r.stderr != "" {
		t.Errorf("calls on a plugin's field while tap runs: %+v", r)
	}
	if r := ks(t, f.data, "calls", "--filter", `pingpong_name == "nobody"`); r.code != 0 || !strings.Contains(r.stdout, `no calls match (--filter pingpong_name == "nobody"); the store holds 3 calls from `) {
		t.Errorf("calls matching nothing while tap runs: %+v", r)
	}

	// In progress when the plugin is removed: finishes with it.
	carol := plugintest.Dial(t, addr)
	carol.Ping(t, "carol")
	tap.waitCalls(t, f.data, `pingpong_name == "carol"`, 1)
	tok, _ := hub.LoadToken(f.data)
	if r := ks(t, t.TempDir(), "plugin", "remove", "pingpong", "--url", tap.url, "--token", tok); r.code == 0 || !strings.Contains(r.stderr, "read-only") {
		t.Fatalf("remove through a tap without --allow-destructive: %+v", r)
	}
	if r := ks(t, f.data, "plugin", "remove", "pingpong"); r.code != 0 {
		t.Fatalf("remove while tap runs: %+v", r)
	}
	tap.waitOutput(t, "plugins changed (-pingpong 1.0.0)")
	if r := ks(t, f.data, "dissectors"); strings.Contains(r.stdout, "plugin sha256:") {
		t.Fatalf("kubeshark dissectors after the removal: %+v", r)
	}
	carol.Ping(t, "carol")
	carol.Ping(t, "carol")
	carol.Close()
	session("dave", "dave")
	tap.waitCalls(t, f.data, `pingpong_name == "carol"`, 3)
	// The removed plugin's fields still filter from the command line, and
	// the reference lists them.
	if r := ks(t, f.data, "calls", "--filter", `pingpong_name == "carol"`); r.code != 0 || strings.Count(r.stdout, " carol ") != 3 || r.stderr != "" {
		t.Errorf("calls on a removed plugin's field while tap runs: %+v", r)
	}
	if r := ks(t, f.data, "calls", "--filter-help"); r.code != 0 || !strings.Contains(r.stdout, "`pingpong_name`") || r.stderr != "" {
		t.Errorf("calls --filter-help while tap runs: stderr %q; the removed plugin's fields listed: %v", r.stderr, strings.Contains(r.stdout, "`pingpong_name`"))
	}
	// dave's connection went through the pipeline before carol's close
	// was stored (one worker per flow, records flushed together); give a
	// record of it time to show, which it must not.
	time.Sleep(2 * time.Second)
	for _, who := range []string{"alice", "dave"} {
		if recs := tap.hubCalls(t, f.data, `pingpong_name == "`+who+`"`); len(recs) != 0 {
			t.Errorf("%s's connection, made while pingpong was not installed, has %d records", who, len(recs))
		}
	}
	if code := tap.stop(t, syscall.SIGINT); code != 0 {
		t.Fatalf("tap exit %d:\n%s", code, tap.out)
	}
	// The summary says what was stored: bob's 3 and carol's 3.
	if out := tap.out.String(); !regexp.MustCompile(`(?m)^tap: stored 6 records and \d+ flows in `).MatchString(out) || strings.Contains(out, "records: 0 new") {
		t.Errorf("tap's summary of what it stored:\n%s", out)
	}
	// Stored with its manifest: the fields filter after the tap.
	if recs := calls(t, f.data, "--filter", "pingpong && pingpong_n > 1"); len(recs) != 4 {
		t.Fatalf("after tap: %d records with pingpong_n > 1, want 4 (bob 2, carol 2)", len(recs))
	}
	// A tap started with the plugin installed names it.
	if r := ks(t, f.data, "plugin", "install", f.module); r.code != 0 {
		t.Fatalf("install: %+v", r)
	}
	tap = startTap(t, f.data, "--filter", "tcp port "+port, "--tls=false", "--no-status", "--l4=false")
	tap.waitOutput(t, "; plugins pingpong 1.0.0\n")
	tap.stop(t, syscall.SIGINT)
}

// --decode-as pins a port to a dissector without probing, and names what
// is wrong with a bad pin.
func TestImportDecodeAs(t *testing.T) {
	pcap := sample(t, 40)
	data := t.TempDir()
	if r := ks(t, data, "import", pcap); r.code != 0 || !strings.Contains(r.stdout, "(http 40)") {
		t.Fatalf("import: %+v", r)
	}
	port := calls(t, data)[0].Dst.Port
	// Pinned to the HTTP/2 dissector, the HTTP/1.1 connections are not
	// probed: HTTP/2 never sees its preface and no record is made.
	pinned := t.TempDir()
	r := ks(t, pinned, "import", pcap, "--decode-as", fmt.Sprintf("%d=http2", port))
	if r.code != 0 || strings.Contains(r.stdout, "http 40") || !strings.Contains(r.stdout, "records:  0\n") {
		t.Fatalf("import --decode-as %d=http2: %+v", port, r)
	}
	for _, bad := range []struct{ arg, want string }{
		{"80", "want PORT=NAME"},
		{"0=http", "want PORT=NAME"},
		{"99999=http", "want PORT=NAME"},
		{"80=gopher", `no loaded dissector is named "gopher"`},
	} {
		if r := ks(t, t.TempDir(), "import", pcap, "--decode-as", bad.arg); r.code == 0 || !strings.Contains(r.stderr, bad.want) {
			t.Errorf("--decode-as %s: %+v", bad.arg, r)
		}
	}
}

// hostileModule assembles runtime/wasm's hostile test guest (named
// "hostile") with the given probe and feed bodies.
func hostileModule(t *testing.T, probe, feed string) string {
	t.Helper()
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Skip("wat2wasm (Debian package wabt) is not installed; `make deps` installs it")
	}
	tmpl, err := os.ReadFile(filepath.Join("..", "..", "runtime", "wasm", "testdata", "hostile.wat.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	src := strings.NewReplacer("{{IMPORTS}}", "", "{{MARKER}}", "kubeshark_abi_v1", "{{INIT}}", "", "{{MAXMEM}}", "",
		"{{PROBE}}", probe, "{{FEED}}", feed).Replace(string(tmpl))
	dir := t.TempDir()
	wat, out := filepath.Join(dir, "hostile.wat"), filepath.Join(dir, "hostile.wasm")
	os.WriteFile(wat, []byte(src), 0o644)
	if msg, err := exec.Command("wat2wasm", wat, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	return out
}

// A plugin whose probe claims every connection with confidence 100,
// through the CLI: when its feed traps, every HTTP exchange still becomes a
// record and the faults are listed against it; when it swallows what it
// claimed, the contest is reported (import, dissectors, plugin inspect) and
// --decode-as gives the connections back to the built-in.
func TestGreedyPluginThroughCLI(t *testing.T) {
	pcap := sample(t, 40)
	t.Run("trap", func(t *testing.T) {
		data := t.TempDir()
		if r := ks(t, data, "plugin", "install", "--allow-unsigned", hostileModule(t, "(i32.const 100)", "unreachable")); r.code != 0 {
			t.Fatalf("install: %+v", r)
		}
		r := ks(t, data, "import", pcap)
		if r.code != 0 || !strings.Contains(r.stdout, "(http 40)") || !strings.Contains(r.stdout, "detected again after their dissector faulted") {
			t.Fatalf("import with a trapping plugin: %+v", r)
		}
		if r := ks(t, data, "dissectors"); !strings.Contains(r.stdout, "faults in last import") {
			t.Fatalf("dissectors: %s", r.stdout)
		}
	})
	t.Run("swallow", func(t *testing.T) {
		data := t.TempDir()
		if r := ks(t, data, "plugin", "install", "--allow-unsigned", hostileModule(t, "(i32.const 100)", "(i64.extend_i32_u (local.get $len))")); r.code != 0 {
			t.Fatalf("install: %+v", r)
		}
		r := ks(t, data, "import", pcap)
		if r.code != 0 || strings.Contains(r.stdout, "http 40") || !strings.Contains(r.stdout, "contested by a plugin") {
			t.Fatalf("import with a swallowing plugin: %+v", r)
		}
		if r := ks(t, data, "dissectors"); !strings.Contains(r.stdout, "contested on tcp") || !strings.Contains(r.stdout, "from http@") {
			t.Fatalf("dissectors does not report the contest: %s", r.stdout)
		}
		if r := ks(t, data, "plugin", "inspect", "hostile"); !strings.Contains(r.stdout, "contested:") {
			t.Fatalf("inspect does not report the contest: %s", r.stdout)
		}
		port := 0
		other := t.TempDir()
		ks(t, other, "import", pcap)
		port = int(calls(t, other)[0].Dst.Port)
		pinned := t.TempDir()
		ks(t, pinned, "plugin", "install", "--allow-unsigned", hostileModule(t, "(i32.const 100)", "(i64.extend_i32_u (local.get $len))"))
		if r := ks(t, pinned, "import", pcap, "--decode-as", fmt.Sprintf("%d=http", port)); r.code != 0 || !strings.Contains(r.stdout, "(http 40)") {
			t.Fatalf("import --decode-as %d=http: %+v", port, r)
		}
	})
}

// plugin enable --port pins ports to a plugin: a plugin whose probe
// recognises nothing gets the connections on its pinned port; --unpin and
// --decode-as undo it.
func TestPluginPortPin(t *testing.T) {
	pcap := sample(t, 20)
	probe := t.TempDir()
	ks(t, probe, "import", pcap)
	port := calls(t, probe)[0].Dst.Port
	// Probe: never; feed: one record per call, everything consumed.
	mod := hostileModule(t, "(i32.const 0)", "(call $emit (i32.const 1) (i32.const 512) (i32.const 21)) (i64.extend_i32_u (local.get $len))")
	data := t.TempDir()
	if r := ks(t, data, "plugin", "install", "--allow-unsigned", mod); r.code != 0 {
		t.Fatalf("install: %+v", r)
	}
	if r := ks(t, data, "plugin", "enable", "hostile", "--port", fmt.Sprint(port)); r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("ports pinned to hostile: [%d]", port)) {
		t.Fatalf("enable --port: %+v", r)
	}
	if r := ks(t, data, "plugin", "inspect", "hostile"); !strings.Contains(r.stdout, "pinned ports:") {
		t.Fatalf("inspect: %s", r.stdout)
	}
	if r := ks(t, data, "import", pcap); r.code != 0 || !strings.Contains(r.stdout, "hostile") || strings.Contains(r.stdout, "http 20") {
		t.Fatalf("import with the port pinned to the plugin: %+v", r)
	}
	// --decode-as overrides the plugin's pin for one run.
	if r := ks(t, data, "import", pcap, "--decode-as", fmt.Sprintf("%d=http", port)); r.code != 0 || !strings.Contains(r.stdout, "(http 20)") {
		t.Fatalf("import --decode-as over the plugin's pin: %+v", r)
	}
	if r := ks(t, data, "plugin", "enable", "hostile", "--unpin"); r.code != 0 || strings.Contains(r.stdout, "pinned") {
		t.Fatalf("--unpin: %+v", r)
	}
	other := t.TempDir()
	ks(t, other, "plugin", "install", "--allow-unsigned", mod)
	if r := ks(t, other, "import", pcap); r.code != 0 || !strings.Contains(r.stdout, "(http 20)") {
		t.Fatalf("import without the pin: %+v", r)
	}
	if r := ks(t, data, "plugin", "enable", "hostile", "--port", "0"); r.code == 0 || !strings.Contains(r.stderr, "want a port") {
		t.Fatalf("--port 0: %+v", r)
	}
}
