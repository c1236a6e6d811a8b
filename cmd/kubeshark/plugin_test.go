package main_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
	"github.com/kubeshark-wasm/kubeshark/plugins/plugintest"
)

// pluginFixture is a data directory, a key pair made by `plugin keygen`,
// the pingpong plugin signed by `plugin sign`, and a capture of real
// pingpong traffic: 3 connections of 3 PINGs each, so 9 records with
// pingpong_n 1, 2, 3 on each connection.
type pluginFixture struct {
	data, dir, module, key, pub, pcap string
}

func newPluginFixture(t *testing.T) *pluginFixture {
	t.Helper()
	f := &pluginFixture{data: t.TempDir(), dir: t.TempDir()}
	f.key, f.pub = filepath.Join(f.dir, "keys", "dev.key"), filepath.Join(f.dir, "keys", "dev.pub")
	// Without a password and without --no-password keygen refuses; the
	// encrypted path is covered by the plugins package's tests (minisign's
	// scrypt takes seconds per key).
	if r := ks(t, f.data, "plugin", "keygen", "--out", filepath.Join(f.dir, "keys", "dev")); r.code == 0 || !strings.Contains(r.stderr, "KUBESHARK_PLUGIN_KEY_PASSWORD") {
		t.Fatalf("keygen without a password: %+v", r)
	}
	if r := ks(t, f.data, "plugin", "keygen", "--no-password", "--out", filepath.Join(f.dir, "keys", "dev"), "--trust"); r.code != 0 || !strings.Contains(r.stdout, "trusted:") {
		t.Fatalf("keygen: %+v", r)
	}
	if r := ks(t, f.data, "plugin", "keygen", "--no-password", "--out", filepath.Join(f.dir, "keys", "dev")); r.code == 0 || !strings.Contains(r.stderr, "refusing to overwrite") {
		t.Fatalf("keygen over an existing key: %+v", r)
	}
	f.module = plugintest.WritePingPong(t, f.dir)
	if r := ks(t, f.data, "plugin", "sign", f.module, "--key", f.key); r.code != 0 {
		t.Fatalf("sign: %+v", r)
	}
	f.pcap = filepath.Join(f.dir, "pingpong.pcap")
	plugintest.Capture(t, f.pcap, 3, "alice", "bob", "carol")
	return f
}

func TestPluginLifecycle(t *testing.T) {
	f := newPluginFixture(t)
	data := f.data

	// Before the plugin, nobody knows pingpong.
	if r := ks(t, data, "import", f.pcap); r.code != 0 || strings.Contains(r.stdout, "pingpong 9") || !strings.Contains(r.stdout, "3 not recognised") {
		t.Fatalf("import without the plugin: %+v", r)
	}
	if r := ks(t, data, "calls", "--filter", "pingpong_n > 1"); r.code == 0 || !strings.Contains(r.stderr, "pingpong_n") {
		t.Fatalf("a filter on an unknown field: %+v", r)
	}

	// An unsigned copy is refused, and the error names the file.
	unsigned := filepath.Join(t.TempDir(), "pingpong.wasm")
	b, _ := os.ReadFile(f.module)
	os.WriteFile(unsigned, b, 0o644)
	if r := ks(t, data, "plugin", "install", unsigned); r.code == 0 || !strings.Contains(r.stderr, unsigned) || !strings.Contains(r.stderr, "unsigned") || !strings.Contains(r.stderr, "--allow-unsigned") {
		t.Fatalf("unsigned install: %+v", r)
	}
	// A module changed after signing is refused even with --allow-unsigned.
	tampered := filepath.Join(t.TempDir(), "pingpong.wasm")
	b2 := append([]byte{}, b...)
	b2[len(b2)/3] ^= 0x40
	os.WriteFile(tampered, b2, 0o644)
	sig, _ := os.ReadFile(f.module + ".minisig")
	os.WriteFile(tampered+".minisig", sig, 0o644)
	if r := ks(t, data, "plugin", "install", "--allow-unsigned", tampered); r.code == 0 || !strings.Contains(r.stderr, "does not verify") || !strings.Contains(r.stderr, "altered") {
		t.Fatalf("tampered install: %+v", r)
	}
	// A module that is no dissector is refused naming what is wrong.
	notWasm := filepath.Join(t.TempDir(), "x.wasm")
	os.WriteFile(notWasm, []byte("\x00asm\x01\x00\x00\x00"), 0o644)
	if r := ks(t, data, "plugin", "install", "--allow-unsigned", notWasm); r.code == 0 || !strings.Contains(r.stderr, "kubeshark_abi_v1") || !strings.Contains(r.stderr, notWasm) {
		t.Fatalf("non-dissector install: %+v", r)
	}
	if r := ks(t, data, "plugin", "list"); r.code != 0 || !strings.Contains(r.stdout, "no plugins installed") {
		t.Fatalf("refused installs left something: %+v", r)
	}

	r := ks(t, data, "plugin", "install", f.module)
	if r.code != 0 || !strings.Contains(r.stdout, "installed pingpong 1.0.0") || !strings.Contains(r.stdout, "signed by") {
		t.Fatalf("install: %+v", r)
	}
	r = ks(t, data, "plugin", "list", "-o", "json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0]["name"] != "pingpong" || list[0]["enabled"] != true {
		t.Fatalf("list: %v %s", err, r.stdout)
	}
	r = ks(t, data, "plugin", "inspect", "pingpong")
	for _, want := range []string{"digest:       sha256:", "signer:       ", "pingpong_name", "pingpong_n", "256 MiB memory", "not run by an import yet"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := ks(t, data, "plugin", "verify", "pingpong"); r.code != 0 || !strings.Contains(r.stdout, "digest ok, signed by") {
		t.Fatalf("verify: %+v", r)
	}
	if r := ks(t, data, "plugin", "verify", f.module, "--key", f.pub); r.code != 0 {
		t.Fatalf("verify file with key: %+v", r)
	}
	if r := ks(t, data, "plugin", "verify", tampered, "--key", f.pub); r.code == 0 || !strings.Contains(r.stderr, "altered") {
		t.Fatalf("verify tampered file: %+v", r)
	}
	r = ks(t, data, "dissectors")
	if !strings.Contains(r.stdout, "pingpong") || !strings.Contains(r.stdout, "plugin sha256:") {
		t.Fatalf("dissectors without the plugin: %s", r.stdout)
	}

	// Imports use it; its fields filter.
	r = ks(t, data, "import", f.pcap)
	if r.code != 0 || !strings.Contains(r.stdout, "pingpong 9") {
		t.Fatalf("import with the plugin: %+v", r)
	}
	recs := calls(t, data, "--filter", "pingpong && pingpong_n > 1")
	if len(recs) != 6 {
		t.Fatalf("pingpong && pingpong_n > 1: %d records, want 6", len(recs))
	}
	for _, rec := range recs {
		if rec.Protocol != "pingpong" || rec.Dissector != "pingpong@1.0.0" || rec.Method != "PING" {
			t.Errorf("record %+v", rec)
		}
	}
	if recs := calls(t, data, "--filter", `pingpong_name == "bob"`); len(recs) != 3 {
		t.Fatalf(`pingpong_name == "bob": %d records, want 3`, len(recs))
	}
	if r := ks(t, data, "calls", "--filter-help"); !strings.Contains(r.stdout, "pingpong_n") || !strings.Contains(r.stdout, "the count a PONG answered") {
		t.Fatalf("filter reference lacks the plugin's fields:\n%s", r.stdout)
	}
	if r := ks(t, data, "plugin", "inspect", "pingpong"); !strings.Contains(r.stdout, "health:       ok in the import of") {
		t.Fatalf("inspect after import: %s", r.stdout)
	}

	// MCP lists it with its source and filters on its fields.
	c, err := client.NewStdioMCPClient(binary_, nil, "--data", data, "mcp")
	if err != nil {
		t.Fatal(err)
	}
	s := mcptest.Connect(t, c)
	var listed struct {
		Dissectors []struct {
			Name, Version, Source string
			Enabled               bool
		} `json:"dissectors"`
	}
	s.Get(t, "list_dissectors", nil, &listed)
	found := false
	for _, d := range listed.Dissectors {
		if d.Name == "pingpong" {
			found = d.Version == "1.0.0" && d.Enabled && strings.HasPrefix(d.Source, "plugin sha256:")
		}
	}
	if !found {
		t.Errorf("list_dissectors does not list pingpong 1.0.0, enabled, from the plugin store: %+v", listed.Dissectors)
	}
	if res, err := s.Resource(t, "kubeshark://dissectors/pingpong"); err != nil || !strings.Contains(res, "pingpong_name") || !strings.Contains(res, "plugin sha256:") {
		t.Errorf("dissectors/pingpong resource: %v %s", err, res)
	}
	var page struct {
		Calls []map[string]any `json:"calls"`
	}
	s.Get(t, "list_api_calls", map[string]any{"kfl": "pingpong_n == 3", "limit": 50}, &page)
	if len(page.Calls) != 3 {
		t.Errorf("list_api_calls pingpong_n == 3: %d calls, want 3", len(page.Calls))
	}
	c.Close()

	// Disabled: not loaded, still installed.
	if r := ks(t, data, "plugin", "disable", "pingpong"); r.code != 0 {
		t.Fatalf("disable: %+v", r)
	}
	if r := ks(t, data, "dissectors"); strings.Contains(r.stdout, "plugin sha256:") {
		t.Fatalf("a disabled plugin is loaded: %s", r.stdout)
	}
	if r := ks(t, data, "plugin", "enable", "pingpong"); r.code != 0 {
		t.Fatalf("enable: %+v", r)
	}

	// Removed: its records and their fields stay.
	if r := ks(t, data, "plugin", "remove", "pingpong"); r.code != 0 || !strings.Contains(r.stdout, "removed pingpong") {
		t.Fatalf("remove: %+v", r)
	}
	if recs := calls(t, data, "--filter", "pingpong && pingpong_n > 1"); len(recs) != 6 {
		t.Fatalf("after remove: %d records, want 6", len(recs))
	}
	if r := ks(t, data, "calls", "--filter-help"); !strings.Contains(r.stdout, "pingpong_n") {
		t.Fatalf("filter reference after remove lacks the fields")
	}
	if r := ks(t, data, "dissectors"); !strings.Contains(r.stdout, "manifest kept for its stored records") {
		t.Fatalf("dissectors after remove: %s", r.stdout)
	}
	if r := ks(t, data, "plugin", "remove", "pingpong"); r.code == 0 || !strings.Contains(r.stderr, "not installed") {
		t.Fatalf("second remove: %+v", r)
	}

	// --allow-unsigned installs, warns and records it.
	r = ks(t, data, "plugin", "install", "--allow-unsigned", unsigned)
	if r.code != 0 || !strings.Contains(r.stderr, "WARNING") || !strings.Contains(r.stderr, "NOT TRUSTED") {
		t.Fatalf("--allow-unsigned: %+v", r)
	}
	if r := ks(t, data, "plugin", "inspect", "pingpong"); !strings.Contains(r.stdout, "unsigned (allowed with --allow-unsigned)") || !strings.Contains(r.stdout, "NOT TRUSTED") {
		t.Fatalf("inspect of an unsigned plugin: %s", r.stdout)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startDockerRegistry runs Debian's docker-registry (the CNCF distribution
// registry) on loopback with its storage in a temporary directory.
func startDockerRegistry(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry is not installed (make deps installs it)")
	}
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := filepath.Join(dir, "config.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
`, filepath.Join(dir, "storage"), addr)), 0o644)
	cmd := exec.Command(bin, "serve", cfg)
	out, _ := os.Create(filepath.Join(dir, "registry.log"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		out.Close()
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
	t.Fatalf("docker-registry did not listen on %s:\n%s", addr, log)
	return ""
}

// TestPluginThroughDockerRegistry: push → install → import → remove through
// a real registry.
func TestPluginThroughDockerRegistry(t *testing.T) {
	reg := startDockerRegistry(t)
	f := newPluginFixture(t)
	ref := "oci://" + reg + "/plugins/pingpong:1.0.0"
	r := ks(t, f.data, "plugin", "push", f.module, ref)
	if r.code != 0 || !strings.Contains(r.stdout, "digest: sha256:") {
		t.Fatalf("push: %+v", r)
	}
	digest, _, _ := strings.Cut(r.stdout[strings.Index(r.stdout, "digest: ")+len("digest: "):], "\n")
	// It says how to install exactly what it pushed.
	if want := "\ninstall: kubeshark plugin install oci://" + reg + "/plugins/pingpong@" + digest + "\n"; !strings.Contains(r.stdout, want) {
		t.Errorf("push: %+v, want %q", r, want)
	}
	// Pushing the same plugin again gives the same digest (the created
	// stamp is fixed), unless SOURCE_DATE_EPOCH says when it was made.
	if r := ks(t, f.data, "plugin", "push", f.module, "oci://"+reg+"/plugins/pingpong:again"); !strings.Contains(r.stdout, "digest: "+digest) {
		t.Errorf("second push of the same plugin: %+v, want digest %s", r, digest)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if r := ks(t, f.data, "plugin", "push", f.module, "oci://"+reg+"/plugins/pingpong:bad"); r.code == 0 || !strings.Contains(r.stderr, `SOURCE_DATE_EPOCH="yesterday"`) {
		t.Errorf("push with a malformed SOURCE_DATE_EPOCH: %+v", r)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1780000000")
	if r := ks(t, f.data, "plugin", "push", f.module, "oci://"+reg+"/plugins/pingpong:dated"); r.code != 0 || strings.Contains(r.stdout, digest) {
		t.Errorf("push with SOURCE_DATE_EPOCH kept the epoch digest %s: %+v", digest, r)
	}
	os.Unsetenv("SOURCE_DATE_EPOCH")

	other := t.TempDir()
	// Another data directory that does not trust the key refuses it.
	if r := ks(t, other, "plugin", "install", ref); r.code == 0 || !strings.Contains(r.stderr, "untrusted key") {
		t.Fatalf("install without trusting the key: %+v", r)
	}
	if r := ks(t, other, "plugin", "trust", f.pub); r.code != 0 {
		t.Fatalf("trust: %+v", r)
	}
	r = ks(t, other, "plugin", "install", "oci://"+reg+"/plugins/pingpong@"+digest)
	if r.code != 0 || !strings.Contains(r.stdout, "installed pingpong 1.0.0") || !strings.Contains(r.stdout, "@"+digest) {
		t.Fatalf("install by digest: %+v", r)
	}
	// The tables show the pinned source's digest short, as their DIGEST
	// columns do; JSON has it whole.
	short := "@" + digest[:len("sha256:")+12] + "…"
	for _, args := range [][]string{{"plugin", "list"}, {"dissectors"}} {
		if r := ks(t, other, args...); r.code != 0 || !strings.Contains(r.stdout, short) || strings.Contains(r.stdout, digest) {
			t.Errorf("%v: %+v, want the source's digest as %s", args, r, short)
		}
	}
	if r := ks(t, other, "plugin", "list", "-o", "json"); !strings.Contains(r.stdout, "@"+digest) {
		t.Errorf("plugin list -o json: %+v, want the whole digest", r)
	}
	r = ks(t, other, "plugin", "install", ref)
	if r.code != 0 {
		t.Fatalf("install by tag: %+v", r)
	}
	if r := ks(t, other, "import", f.pcap); r.code != 0 || !strings.Contains(r.stdout, "pingpong 9") {
		t.Fatalf("import: %+v", r)
	}
	// Installing compiled the module into the shared cache (--cache-dir),
	// where the import found it, not into a cache of the data directory's.
	for _, d := range []string{f.data, other} {
		if _, err := os.Stat(filepath.Join(d, "cache")); !os.IsNotExist(err) {
			t.Errorf("%s/cache exists (%v): plugin commands compiled outside --cache-dir", d, err)
		}
	}
	if recs := calls(t, other, "--filter", "pingpong && pingpong_n == 1"); len(recs) != 3 {
		t.Fatalf("calls: %d records, want 3", len(recs))
	}
	if r := ks(t, other, "plugin", "remove", "pingpong"); r.code != 0 {
		t.Fatalf("remove: %+v", r)
	}
	if r := ks(t, other, "plugin", "list"); !strings.Contains(r.stdout, "no plugins installed") {
		t.Fatalf("list after remove: %s", r.stdout)
	}
	// A digest that is not the tag's is refused.
	bad := "oci://" + reg + "/plugins/pingpong@sha256:" + strings.Repeat("0", 64)
	if r := ks(t, other, "plugin", "install", bad); r.code == 0 {
		t.Fatalf("install of a digest the registry lacks: %+v", r)
	}
}

// TestPluginHelpLifecycle: `kubeshark plugin --help` walks a newcomer from
// `plugin new` to a query, and every step it shows is a real subcommand
// taking the flags it is shown with.
func TestPluginHelpLifecycle(t *testing.T) {
	help := ks(t, t.TempDir(), "plugin", "--help").stdout
	steps := map[string][]string{}
	for _, line := range strings.Split(help, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "kubeshark" || f[1] != "plugin" || strings.HasPrefix(f[2], "[") {
			continue // not a step; "kubeshark plugin [command]" is the usage line
		}
		for _, w := range f[3:] {
			if w == "#" {
				break
			}
			if strings.HasPrefix(w, "--") {
				steps[f[2]] = append(steps[f[2]], w)
			}
		}
		if _, ok := steps[f[2]]; !ok {
			steps[f[2]] = nil
		}
	}
	for _, sub := range []string{"new", "build", "test", "keygen", "sign", "push", "install"} {
		if _, ok := steps[sub]; !ok {
			t.Errorf("plugin --help shows no `kubeshark plugin %s` step:\n%s", sub, help)
		}
	}
	for sub, flags := range steps {
		r := ks(t, t.TempDir(), "plugin", sub, "--help")
		if r.code != 0 || strings.Contains(r.stdout, "Available Commands") {
			t.Errorf("plugin %s --help: %+v", sub, r)
		}
		for _, fl := range flags {
			if !strings.Contains(r.stdout, fl+" ") && !strings.Contains(r.stdout, fl+"\n") {
				t.Errorf("plugin --help shows `plugin %s %s`, which plugin %s --help does not list", sub, fl, sub)
			}
		}
	}
}

// TestPluginKeygenExisting: keygen refuses to overwrite a key pair and
// says how to use the existing one in another data directory (a second
// walk-through), and that way works.
func TestPluginKeygenExisting(t *testing.T) {
	keys, first, second := t.TempDir(), t.TempDir(), t.TempDir()
	out := filepath.Join(keys, "me")
	if r := ks(t, first, "plugin", "keygen", "--no-password", "--out", out, "--trust"); r.code != 0 {
		t.Fatalf("keygen: %+v", r)
	}
	r := ks(t, second, "plugin", "keygen", "--no-password", "--out", out, "--trust")
	hint := "kubeshark plugin trust " + out + ".pub"
	if r.code == 0 || !strings.Contains(r.stderr, "refusing to overwrite a key (--force does)") || !strings.Contains(r.stderr, hint) {
		t.Fatalf("keygen over an existing pair: %+v, want the refusal and %q", r, hint)
	}
	if r := ks(t, second, strings.Fields(hint)[1:]...); r.code != 0 {
		t.Fatalf("%s: %+v", hint, r)
	}
	if a, b := ks(t, first, "plugin", "trust").stdout, ks(t, second, "plugin", "trust").stdout; a == "" || strings.Fields(a)[0] != strings.Fields(b)[0] {
		t.Errorf("trusted keys: %q in the first data directory, %q in the second", a, b)
	}
}
