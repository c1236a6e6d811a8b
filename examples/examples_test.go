package examples_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/mark3labs/mcp-go/client"

	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
)

// kubeshark is the CLI built once for every example's test.
var kubeshark string

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "kubeshark-examples")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		if wasm, _ := filepath.Glob(filepath.Join(root(), "dissectors", "bin", "*.wasm")); len(wasm) == 0 {
			println("SKIPPED: dissectors/bin has no WebAssembly builds; run `make test` (it runs `make wasm` first)")
			return 0
		}
		kubeshark = filepath.Join(dir, "kubeshark")
		cmd := exec.Command("go", "build", "-o", kubeshark, ".")
		cmd.Dir = filepath.Join(root(), "cmd", "kubeshark")
		if out, err := cmd.CombinedOutput(); err != nil {
			println("building kubeshark:", err.Error(), string(out))
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// root is the repository's top directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

// ks runs the CLI on data (no --data when empty) and fails the test on a
// non-zero exit; it returns stdout.
func ks(t *testing.T, data string, args ...string) string {
	t.Helper()
	if data != "" {
		args = append([]string{"--data", data}, args...)
	}
	cmd := exec.Command(kubeshark, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubeshark %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// needs skips the test, naming what is missing, unless every command is on
// PATH and we may capture on loopback (root).
func needs(t *testing.T, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("SKIPPED: %s is not installed (`make deps` installs it)", c)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: recording with tcpdump on loopback needs root")
	}
}

// copyProject copies an example's project into a temporary directory, so
// that building it leaves the source tree clean.
func copyProject(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	src := filepath.Join(root(), "examples", name)
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasSuffix(p, ".wasm") || strings.HasSuffix(p, ".pcap") {
			return nil // what a developer built or recorded there is not the project
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, fi.Mode())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// freePort is a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// capture runs a project's testdata/capture.sh, which records its real
// server and client on loopback, on a free port.
func capture(t *testing.T, dir string) (string, error) {
	t.Helper()
	pcap := filepath.Join(t.TempDir(), "sample.pcap")
	cmd := exec.Command("bash", "testdata/capture.sh", pcap)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(freePort(t)))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testdata/capture.sh: %v\n%s", err, out)
	}
	return pcap, nil
}

// recorded builds the project with `plugin build`, records its
// conversation with testdata/capture.sh and checks the records against the
// golden file with `plugin test`. A capture script refuses a capture from
// which tcpdump dropped packets (a busy machine), and a capture whose
// records differ may lack packets tcpdump never saw, so either is made
// again, at most three times in all; a dissector that is wrong differs
// every time and fails. It returns the capture.
func recorded(t *testing.T, dir string) string {
	t.Helper()
	ks(t, "", "plugin", "build", dir)
	var last string
	for attempt := 1; attempt <= 3; attempt++ {
		pcap, err := capture(t, dir)
		if err != nil {
			last = err.Error()
			t.Logf("attempt %d: %v", attempt, err)
			continue
		}
		cmd := exec.Command(kubeshark, "plugin", "test", dir, pcap)
		out, err := cmd.CombinedOutput()
		if err == nil && strings.Contains(string(out), "records match ") {
			return pcap
		}
		last = string(out)
		t.Logf("attempt %d: the records of this capture differ from the golden file:\n%s", attempt, out)
	}
	t.Fatalf("no capture of three gave the golden records; the last said:\n%s", last)
	return ""
}

// installed signs and installs the module `plugin build` made in dir into
// a new data directory and imports pcap there, as the example's README
// does. It returns the data directory.
func installed(t *testing.T, dir, name, pcap string) string {
	t.Helper()
	module := filepath.Join(dir, name+".wasm")
	data := t.TempDir()
	key := filepath.Join(t.TempDir(), "dev")
	ks(t, data, "plugin", "keygen", "--no-password", "--out", key, "--trust")
	ks(t, data, "plugin", "sign", module, "--key", key+".key")
	ks(t, data, "plugin", "install", module)
	ks(t, data, "import", pcap)
	return data
}

// calls runs `kubeshark calls --filter filter -o jsonl` and returns the
// records' method and path.
func calls(t *testing.T, data, filter string) []string {
	t.Helper()
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(ks(t, data, "calls", "--limit", "0", "-o", "jsonl", "--filter", filter)), "\n") {
		if line == "" {
			continue
		}
		var r struct{ Method, Path string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("calls output %q: %v", line, err)
		}
		got = append(got, strings.TrimSpace(r.Method+" "+r.Path))
	}
	return got
}

// viaMCP asks `kubeshark mcp`, over stdio as an assistant would, for the
// plugin among the dissectors and for the calls that match kfl; it returns
// their method and path.
func viaMCP(t *testing.T, data, name, kfl string) []string {
	t.Helper()
	c, err := client.NewStdioMCPClient(kubeshark, nil, "--data", data, "mcp")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := mcptest.Connect(t, c)
	if text := mcptest.Text(s.Call(t, "list_dissectors", nil)); !strings.Contains(text, `"name":"`+name+`"`) || !strings.Contains(text, "plugin sha256:") {
		t.Errorf("list_dissectors does not show the plugin %s: %s", name, text)
	}
	var page struct {
		Calls []struct{ Method, Path string } `json:"calls"`
	}
	s.Get(t, "list_api_calls", map[string]any{"kfl": kfl, "limit": 100}, &page)
	var got []string
	for _, c := range page.Calls {
		got = append(got, strings.TrimSpace(c.Method+" "+c.Path))
	}
	return got
}

// TestVendoredSDK keeps each example's vendored SDK (what `plugin new`
// copied: the Go package, kubeshark.h, the Rust crate's lib.rs) the same
// as sdk/: an example built against an older SDK would show newcomers an
// ABI kubeshark no longer speaks.
func TestVendoredSDK(t *testing.T) {
	// Where each vendored file comes from, by the glob that finds it.
	sources := map[string]func(string) string{
		filepath.Join("*", "kubeshark-sdk", "sdk", "*.go"): func(p string) string { return filepath.Join("sdk", filepath.Base(p)) },
		filepath.Join("*", "kubeshark.h"):                  func(string) string { return filepath.Join("sdk", "c", "kubeshark.h") },
		filepath.Join("*", "kubeshark-sdk", "lib.rs"):      func(string) string { return filepath.Join("sdk", "rust", "src", "lib.rs") },
	}
	for glob, source := range sources {
		vendored, _ := filepath.Glob(filepath.Join(root(), "examples", glob))
		if len(vendored) == 0 {
			t.Errorf("no example vendors %s", glob)
		}
		for _, p := range vendored {
			compareVendored(t, p, filepath.Join(root(), source(p)))
		}
	}
}

func compareVendored(t *testing.T, p, src string) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(src)
	if err != nil {
		t.Errorf("%s: %v (the SDK lost this file: delete it here)", p, err)
		return
	}
	if !bytes.Equal(got, want) {
		rel, _ := filepath.Rel(root(), p)
		srel, _ := filepath.Rel(root(), src)
		t.Errorf("%s differs from %s: copy it again", rel, srel)
	}
}

// lostCommand runs the project's module on pcap without the packet whose
// TCP payload is command (a capture that lost it). The command's reply
// must not be paired with the next command, which would put the wrong
// result on every record after it: each record made is one of the golden
// file's, and only the lost command's is missing.
func lostCommand(t *testing.T, dir, name, pcap, command string) {
	t.Helper()
	damaged := withoutPayload(t, pcap, command)
	out := strings.TrimSpace(ks(t, "", "plugin", "test", filepath.Join(dir, name+".wasm"), damaged))
	golden, err := os.ReadFile(filepath.Join(dir, "testdata", "records.golden"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(golden)), "\n")
	lines := strings.Split(out, "\n")
	for _, l := range lines {
		if !slices.Contains(want, l) {
			t.Errorf("without %q: a record the conversation never had: %s", command, l)
		}
	}
	if len(lines) != len(want)-1 {
		t.Errorf("without %q: %d records, want the golden file's %d less the lost one", command, len(lines), len(want))
	}
}

// withoutPayload copies the capture pcap leaving out the packet whose TCP
// payload is exactly payload (one only: it fails unless there is exactly
// one), as a capture that lost it would be.
func withoutPayload(t *testing.T, pcap, payload string) string {
	t.Helper()
	in, err := os.Open(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "damaged.pcap")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.NoCopy)
		if tcp, ok := p.TransportLayer().(*layers.TCP); ok && string(tcp.Payload) == payload {
			dropped++
			continue
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if dropped != 1 {
		t.Fatalf("%s: %d packets carry exactly %q, want 1", pcap, dropped, payload)
	}
	return out
}
