package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
	"github.com/kubeshark-wasm/kubeshark/runtime/diskguard/diskguardtest"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// The tap tests capture real traffic from the kernel: a network namespace
// joined to the host by a veth pair stands for a second machine, with
// Debian's nginx and redis-server in it and curl and redis-cli on the host.
// They need root and those tools (`make deps` installs them).

const tapTimeout = 3 * time.Minute // the first start compiles the dissectors

func requireTap(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("tap needs root to load BPF programs (CI runs as root)")
	}
	for _, tool := range []string{"ip", "nginx", "curl", "redis-server", "redis-cli", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make deps installs it)", tool)
		}
	}
}

// testNet is a namespace with a veth pair to the host.
type testNet struct {
	ns, hostIf, nsIf string
	hostIP, nsIP     string
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	id := rand.IntN(1 << 20)
	n := &testNet{
		ns:     fmt.Sprintf("tap%05x", id),
		hostIf: fmt.Sprintf("tap%05xh", id),
		nsIf:   fmt.Sprintf("tap%05xn", id),
	}
	sub := 1 + id%250
	n.hostIP, n.nsIP = fmt.Sprintf("10.231.%d.1", sub), fmt.Sprintf("10.231.%d.2", sub)
	run(t, "ip", "netns", "add", n.ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.ns).Run() })
	run(t, "ip", "link", "add", n.hostIf, "type", "veth", "peer", "name", n.nsIf)
	t.Cleanup(func() { exec.Command("ip", "link", "del", n.hostIf).Run() })
	run(t, "ip", "link", "set", n.nsIf, "netns", n.ns)
	run(t, "ip", "addr", "add", n.hostIP+"/30", "dev", n.hostIf)
	run(t, "ip", "link", "set", n.hostIf, "up")
	run(t, "ip", "netns", "exec", n.ns, "ip", "addr", "add", n.nsIP+"/30", "dev", n.nsIf)
	run(t, "ip", "netns", "exec", n.ns, "ip", "link", "set", n.nsIf, "up")
	run(t, "ip", "netns", "exec", n.ns, "ip", "link", "set", "lo", "up")
	return n
}

// start runs a long-lived process in the namespace until the test ends.
func (n *testNet) start(t *testing.T, stderr io.Writer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.ns}, args...)...)
	cmd.Stderr = stderr // nil: /dev/null
	// Its own process group, so that nginx's workers go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	return cmd
}

// loopbackPort is where nginx also listens on the namespace's own
// loopback, for traffic between two local sockets on one interface.
const loopbackPort = "18931"

// servers starts nginx (on the veth address and on the namespace's
// loopback) and redis-server in the namespace.
func (n *testNet) servers(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`daemon off;
user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  server {
    listen %[2]s:80;
    listen 127.0.0.1:%[3]s;
    location /t/hello { return 200 "hello\n"; }
    location /t/missing { return 404; }
    location /t/lo { return 201 "local\n"; }
    location /t/big { alias %[1]s/big.bin; }
    location /kill/ { return 200 "k\n"; }
  }
}
`, dir, n.nsIP, loopbackPort)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n.start(t, nil, "nginx", "-c", confPath)
	n.start(t, nil, "redis-server", "--bind", n.nsIP, "--port", "6379", "--save", "", "--appendonly", "no", "--protected-mode", "no")
	deadline := time.Now().Add(10 * time.Second)
	for {
		nginxUp := exec.Command("curl", "-sf", "-o", "/dev/null", "http://"+n.nsIP+"/kill/ready").Run() == nil
		redisUp := exec.Command("redis-cli", "-h", n.nsIP, "ping").Run() == nil
		if nginxUp && redisUp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("servers in %s not up (nginx %v, redis %v)", n.ns, nginxUp, redisUp)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tapProcess is a running `kubeshark tap`.
type tapProcess struct {
	cmd  *exec.Cmd
	out  *watchWriter
	done chan struct{}
	err  error
	url  string
}

var tapCapturing = regexp.MustCompile(`(?m)^capturing on (.*)$`)

func startTap(t *testing.T, data string, args ...string) *tapProcess {
	t.Helper()
	w := &watchWriter{changed: make(chan struct{})}
	cmd := exec.Command(binary_, append([]string{"--data", data, "tap", "--hub-addr", "127.0.0.1:0"}, args...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &tapProcess{cmd: cmd, out: w, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	timeout := time.After(tapTimeout)
	for {
		m, changed := w.match(tapCapturing)
		if m != nil {
			break
		}
		select {
		case <-changed:
		case <-p.done:
			t.Fatalf("tap exited (%v) before capturing:\n%s", p.err, w)
		case <-timeout:
			t.Fatalf("tap did not start capturing within %v:\n%s", tapTimeout, w)
		}
	}
	b, err := os.ReadFile(filepath.Join(data, "tap.json"))
	if err != nil {
		t.Fatalf("tap advertises no hub: %v", err)
	}
	var info struct{ URL string }
	json.Unmarshal(b, &info)
	p.url = info.URL
	return p
}

// waitOutput waits until tap's stderr contains s.
func (p *tapProcess) waitOutput(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		_, changed := p.out.match(regexp.MustCompile(`$^`))
		if strings.Contains(p.out.String(), s) {
			return
		}
		select {
		case <-changed:
		case <-p.done:
			t.Fatalf("tap exited (%v) before printing %q:\n%s", p.err, s, p.out)
		case <-timeout:
			t.Fatalf("tap did not print %q within 30s:\n%s", s, p.out)
		}
	}
}

// hubCalls lists the calls matching a KFL filter through the tap's hub.
func (p *tapProcess) hubCalls(t *testing.T, data, kfl string) []sdk.Record {
	t.Helper()
	tok, err := hub.LoadToken(data)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"kfl": kfl, "limit": 1000, "format": "full"})
	req, _ := http.NewRequest("POST", p.url+"/api/tools/list_api_calls", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res struct{ Calls []sdk.Record }
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 {
		t.Fatalf("hub list_api_calls: %s %v", resp.Status, err)
	}
	return res.Calls
}

// waitCalls polls the hub until n calls match kfl, and returns how long
// that took.
func (p *tapProcess) waitCalls(t *testing.T, data, kfl string, n int) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		calls := p.hubCalls(t, data, kfl)
		got := len(calls)
		if got == n {
			return time.Since(start)
		}
		if got > n || time.Since(start) > 15*time.Second {
			var list []string
			for _, r := range calls {
				list = append(list, fmt.Sprintf("%s %s %s %d tls=%v %s:%d > %s:%d", r.Protocol, r.Method, r.Path, r.Status, r.TLS, r.Src.IP, r.Src.Port, r.Dst.IP, r.Dst.Port))
			}
			t.Fatalf("hub shows %d calls matching %s after %v, want %d:\n  %s\n%s", got, kfl, time.Since(start), n, strings.Join(list, "\n  "), p.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop signals tap and returns its exit code.
func (p *tapProcess) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatalf("tap still running a minute after %v:\n%s", sig, p.out)
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 0
}

// multiset renders records as "METHOD path status" with their counts.
func multiset(recs []sdk.Record) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		m[fmt.Sprintf("%s %s %s %d", r.Protocol, r.Method, r.Path, r.Status)]++
	}
	return m
}

func curl(t *testing.T, url string) {
	t.Helper()
	run(t, "curl", "-sf", "-o", "/dev/null", url)
}

// TestTapLive captures HTTP and Redis between the host and a namespace
// and HTTP over the namespace's loopback, and checks the records: exact,
// visible through the hub while tap runs, stored once each although both
// ends are local sockets, a 1 MiB answer whole, everything stored on
// SIGINT, and the same as `kubeshark import` makes of a tcpdump capture of
// the same traffic.
func TestTapLive(t *testing.T) {
	requireTap(t)
	n := newTestNet(t)
	n.servers(t)
	data := t.TempDir()

	pcap := filepath.Join(t.TempDir(), "veth.pcap")
	dumpErr := &watchWriter{changed: make(chan struct{})}
	// --immediate-mode: without it libpcap hands packets over a block at a
	// time, and the packets of a block not yet full when tcpdump is
	// interrupted are never written.
	dump := n.start(t, dumpErr, "tcpdump", "-i", n.nsIf, "--immediate-mode", "-s", "0", "-U", "-w", pcap)
	filter := fmt.Sprintf("host %s or tcp port %s", n.nsIP, loopbackPort)
	tap := startTap(t, data, "--filter", filter)
	for {
		if m, ch := dumpErr.match(regexp.MustCompile(`(listening on)`)); m != nil {
			break
		} else {
			select {
			case <-ch:
			case <-time.After(10 * time.Second):
				t.Fatalf("tcpdump did not start: %s", dumpErr)
			}
		}
	}

	base := "http://" + n.nsIP
	for range 3 {
		curl(t, base+"/t/hello")
	}
	run(t, "curl", "-s", "-o", "/dev/null", base+"/t/missing")
	run(t, "curl", "-s", "-o", "/dev/null", base+"/t/missing?x=1")
	run(t, "redis-cli", "-h", n.nsIP, "set", "tapkey", "v1")
	run(t, "redis-cli", "-h", n.nsIP, "get", "tapkey")
	run(t, "redis-cli", "-h", n.nsIP, "ping")
	lo := "http://127.0.0.1:" + loopbackPort
	run(t, "ip", "netns", "exec", n.ns, "curl", "-sf", "-o", "/dev/null", lo+"/t/lo")
	run(t, "ip", "netns", "exec", n.ns, "curl", "-sf", "-o", "/dev/null", lo+"/t/lo")
	run(t, "ip", "netns", "exec", n.ns, "curl", "-sf", "-o", "/dev/null", lo+"/t/big")

	// Records are stored while tap runs, and readers go through its hub.
	took := tap.waitCalls(t, data, `http && path.startsWith("/t/")`, 8)
	t.Logf("the last HTTP record was visible through the hub %v after the traffic", took)
	tap.waitCalls(t, data, `redis`, 3)
	r := ks(t, data, "calls", "--filter", `http && path.startsWith("/t/")`, "--limit", "0")
	if r.code != 0 || strings.Count(r.stdout, "/t/") != 8 {
		t.Fatalf("kubeshark calls while tap runs: %+v", r)
	}

	time.Sleep(300 * time.Millisecond) // let tcpdump write the last packets
	dump.Process.Signal(syscall.SIGINT)
	dump.Wait()
	if code := tap.stop(t, syscall.SIGINT); code != 0 {
		t.Fatalf("tap exit code %d after SIGINT:\n%s", code, tap.out)
	}
	if _, err := os.Stat(filepath.Join(data, "tap.json")); !os.IsNotExist(err) {
		t.Errorf("tap.json left behind after a clean exit: %v", err)
	}
	stderr := tap.out.String()
	if !strings.Contains(stderr, "capturing on cgroup ") || !strings.Contains(stderr, "0 packets lost in the kernel") {
		t.Errorf("tap's stderr lacks the capturing line or the loss count:\n%s", stderr)
	}

	recs := calls(t, data)
	got := multiset(recs)
	want := map[string]int{
		"http GET /t/hello 200":       3,
		"http GET /t/missing 404":     1,
		"http GET /t/missing?x=1 404": 1,
		"http GET /t/lo 201":          2,
		"http GET /t/big 200":         1,
		"redis SET tapkey 0":          1,
		"redis GET tapkey 0":          1,
		"redis PING  0":               1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q: %d records, want %d", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected records %q × %d", k, v)
		}
	}
	for _, r := range recs {
		if r.Path == "/t/big" && (r.Response == nil || r.Response.BodySize != 1<<20) {
			t.Errorf("GET /t/big: response %+v, want a body of 1 MiB", r.Response)
		}
	}
	if t.Failed() {
		t.Fatalf("records: %v\ntap:\n%s", got, stderr)
	}

	// Fidelity: import what tcpdump saw on the veth into a second store
	// (the compiled dissectors are shared through the user's cache).
	data2 := t.TempDir()
	if r := ks(t, data2, "import", pcap); r.code != 0 {
		t.Fatalf("import of tcpdump's capture: %+v", r)
	}
	imported := multiset(calls(t, data2))
	veth := map[string]int{}
	for _, r := range recs {
		if r.Dst.IP == n.nsIP {
			veth[fmt.Sprintf("%s %s %s %d", r.Protocol, r.Method, r.Path, r.Status)]++
		}
	}
	if fmt.Sprint(imported) != fmt.Sprint(veth) {
		t.Fatalf("records from tcpdump's capture: %v\nrecords tap stored for the same traffic: %v", imported, veth)
	}
}

// TestTapKilled: a tap killed with -9 leaves a store that opens, with the
// records it had committed, and a stale tap.json that readers ignore.
func TestTapKilled(t *testing.T) {
	requireTap(t)
	n := newTestNet(t)
	n.servers(t)
	data := t.TempDir()
	// A filter naming a port is also applied in the kernel.
	tap := startTap(t, data, "--filter", "host "+n.nsIP+" and tcp port 80")
	for i := range 4 {
		curl(t, fmt.Sprintf("http://%s/kill/%d", n.nsIP, i))
	}
	tap.waitCalls(t, data, `path.startsWith("/kill/")`, 4)

	// An assistant's `kubeshark mcp` on the same data goes through the
	// tap's hub instead of waiting for the store tap holds.
	c, err := client.NewStdioMCPClient(binary_, nil, "--data", data, "mcp")
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Calls []sdk.Record }
	s := mcptest.Connect(t, c)
	s.Get(t, "list_api_calls", map[string]any{"kfl": `path.startsWith("/kill/")`}, &res)
	if len(res.Calls) != 4 {
		t.Fatalf("kubeshark mcp while tap runs: %d calls, want 4", len(res.Calls))
	}

	// The hub reports the capture's health.
	var b struct {
		Capture *struct {
			Attached   []string
			Packets    uint64
			KernelLost *uint64 `json:"kernel_lost"`
		}
	}
	s.Get(t, "get_data_boundaries", nil, &b)
	if b.Capture == nil || len(b.Capture.Attached) != 1 || !strings.HasPrefix(b.Capture.Attached[0], "cgroup ") || b.Capture.Packets == 0 || b.Capture.KernelLost == nil {
		t.Fatalf("get_data_boundaries while tap runs: capture %+v", b.Capture)
	}

	// A second hub on the same data would only wait for the store.
	if r := ks(t, data, "hub", "--addr", "127.0.0.1:0"); r.code == 0 || !strings.Contains(r.stderr, "already serves its hub on "+tap.url) {
		t.Fatalf("kubeshark hub while tap runs: %+v", r)
	}

	tap.stop(t, syscall.SIGKILL)
	recs := calls(t, data, "--filter", `path.startsWith("/kill/")`)
	if len(recs) != 4 {
		t.Fatalf("after kill -9: %d calls, want the 4 committed while tap ran", len(recs))
	}
}

// TestTapErrors: bad flags are refused before anything is loaded.
func TestTapErrors(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--filter", "tcp port"}, "--filter"},
		{[]string{"--duration", "-1s"}, "--duration"},
	} {
		r := ks(t, data, append([]string{"tap"}, tc.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("tap %v: %+v, want an error naming %s", tc.args, r, tc.want)
		}
	}
}

// TestTapInterface captures one interface with TCX (-i): the host's end of
// the veth pair, whose frames carry an Ethernet header; SIGTERM ends it.
func TestTapInterface(t *testing.T) {
	requireTap(t)
	// TCX, and the TC clsact fallback of kernels without it (forced).
	for _, tc := range []struct {
		name  string
		args  []string
		named string
	}{
		{"tcx", nil, ""},
		{"clsact", []string{"--tc-clsact"}, " (tc clsact)"},
	} {
		t.Run(tc.name, func(t *testing.T) { testTapInterface(t, tc.args, tc.named) })
	}
}

func testTapInterface(t *testing.T, args []string, named string) {
	n := newTestNet(t)
	n.servers(t)
	data := t.TempDir()
	tap := startTap(t, data, append([]string{"-i", n.hostIf, "--filter", "host " + n.nsIP}, args...)...)
	if !strings.Contains(tap.out.String(), "capturing on interface "+n.hostIf+named) {
		t.Fatalf("capturing line does not name the interface%s:\n%s", named, tap.out)
	}
	curl(t, "http://"+n.nsIP+"/t/hello")
	run(t, "curl", "-s", "-o", "/dev/null", "http://"+n.nsIP+"/t/missing")
	tap.waitCalls(t, data, `path.startsWith("/t/")`, 2)
	if code := tap.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("tap exit code %d after SIGTERM:\n%s", code, tap.out)
	}
	got := multiset(calls(t, data))
	want := map[string]int{"http GET /t/hello 200": 1, "http GET /t/missing 404": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records from -i %s: %v, want %v", n.hostIf, got, want)
	}
}

// TestTapNamesMissingCapabilities runs tap as nobody, with and without some
// of the capabilities it needs: it fails at once, naming the missing ones.
func TestTapNamesMissingCapabilities(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop to a user with chosen capabilities")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	data := t.TempDir()
	os.Chmod(data, 0o777)
	for _, tc := range []struct {
		caps    []string
		missing string
	}{
		{nil, "missing CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN"},
		{[]string{"--inh-caps", "+bpf,+perfmon", "--ambient-caps", "+bpf,+perfmon"}, "missing CAP_NET_ADMIN"},
	} {
		args := append([]string{"--reuid", "65534", "--regid", "65534", "--clear-groups"}, tc.caps...)
		args = append(args, binary_, "--data", data, "tap")
		out, err := exec.Command("setpriv", args...).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() == 0 || !strings.Contains(string(out), "not permitted to load and attach BPF programs: "+tc.missing+" (") {
			t.Errorf("tap with %v: %v\n%s", tc.caps, err, out)
		}
	}
}

// tlsServer starts nginx with TLS on the namespace's address, port 443,
// with a self-signed certificate made by openssl.
func (n *testNet) tlsServer(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed (make deps installs it)")
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	run(t, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-subj", "/CN=kubeshark-tap-test", "-addext", "subjectAltName=IP:"+n.nsIP, "-days", "1", "-keyout", key, "-out", cert)
	conf := fmt.Sprintf(`daemon off;
user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  server {
    listen %[2]s:443 ssl;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    location /s/hello { return 200 "hello\n"; }
    location /s/missing { return 404; }
    location /s/go { return 202 "go\n"; }
  }
}
`, dir, n.nsIP, cert, key)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n.start(t, nil, "nginx", "-c", confPath)
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("curl", "-sk", "-o", "/dev/null", "https://"+n.nsIP+"/s/ready").Run() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("nginx with TLS in %s not up", n.ns)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// buildTLSClient builds testdata/tlsclient, a Go crypto/tls client.
func buildTLSClient(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("testdata/tlsclient/main.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module tlsclient\n\ngo 1.21\n"), 0o644)
	bin := filepath.Join(dir, "tlsclient")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the Go TLS client: %v\n%s", err, out)
	}
	return bin
}

// TestTapTLS captures HTTPS between curl (OpenSSL) or a Go crypto/tls
// client on the host and nginx in a namespace: each GET is one record with
// tls set, on the connection's real 5-tuple, selected by `http && tls`,
// and the encrypted packets add no second record (only the handshake's);
// with --tls=false there is no plaintext record.
func TestTapTLS(t *testing.T) {
	requireTap(t)
	n := newTestNet(t)
	n.tlsServer(t)
	goClient := buildTLSClient(t)
	data := t.TempDir()
	tap := startTap(t, data, "--filter", "host "+n.nsIP)
	if line := tap.out.String(); !regexp.MustCompile(`capturing on cgroup .*; TLS plaintext: [1-9]\d* libssl`).MatchString(line) {
		t.Fatalf("the capturing line does not name the TLS hooks:\n%s", line)
	}
	base := "https://" + n.nsIP
	// Two requests on one connection, then two connections of one each.
	run(t, "curl", "-skf", "--http1.1", "-o", "/dev/null", "-o", "/dev/null", base+"/s/hello", base+"/s/hello")
	run(t, "curl", "-sk", "--http1.1", "-o", "/dev/null", base+"/s/missing")
	run(t, "curl", "-sk", "--http1.1", "-o", "/dev/null", base+"/s/missing?x=1")
	// Go reads and writes a connection on two goroutines, here on as
	// many threads as the machine has.
	gc := exec.Command(goClient, base+"/s/go", base+"/s/go")
	if out, err := gc.CombinedOutput(); err != nil || string(out) != "202\n202\n" {
		t.Fatalf("Go client: %v %q", err, out)
	}
	tap.waitCalls(t, data, `http && tls`, 6)
	r := ks(t, data, "calls", "--filter", `http && tls`, "--limit", "0")
	if r.code != 0 || strings.Count(r.stdout, "/s/") != 6 {
		t.Fatalf("kubeshark calls --filter 'http && tls' while tap runs: %+v", r)
	}
	// The capture status (get_data_boundaries) reports the TLS hooks.
	tok, err := hub.LoadToken(data)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", tap.url+"/api/tools/get_data_boundaries", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		Capture *struct {
			TLS *struct {
				Libraries []string
				Processes int
				Events    uint64
				Lost      *uint64
			}
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&b)
	resp.Body.Close()
	if err != nil || b.Capture == nil || b.Capture.TLS == nil || len(b.Capture.TLS.Libraries) == 0 || b.Capture.TLS.Processes == 0 ||
		b.Capture.TLS.Events == 0 || b.Capture.TLS.Lost == nil {
		t.Errorf("get_data_boundaries while tap runs: %v, capture %+v", err, b.Capture)
	}

	if code := tap.stop(t, syscall.SIGINT); code != 0 {
		t.Fatalf("tap exit code %d after SIGINT:\n%s", code, tap.out)
	}
	stderr := tap.out.String()
	if !regexp.MustCompile(`captured: [1-9]\d* calls, .* [1-9]\d* records`).MatchString(stderr) ||
		!strings.Contains(stderr, "0 plaintext events lost in the kernel") {
		t.Errorf("tap's summary does not say what TLS captured and lost:\n%s", stderr)
	}

	recs := calls(t, data)
	want := map[string]int{
		"http GET /s/hello 200":       2,
		"http GET /s/missing 404":     1,
		"http GET /s/missing?x=1 404": 1,
		"http GET /s/go 202":          2,
	}
	httpRecs := map[string]int{}
	plainPorts := map[uint16]bool{} // client ports of the plaintext records
	handshakes := map[uint16]int{}  // client ports of the encrypted streams' records
	for _, r := range recs {
		switch {
		case r.Protocol == "http":
			httpRecs[fmt.Sprintf("%s %s %s %d", r.Protocol, r.Method, r.Path, r.Status)]++
			if !r.TLS || r.Src.IP != n.hostIP || r.Src.Port == 0 || r.Dst.IP != n.nsIP || r.Dst.Port != 443 {
				t.Errorf("%s %s: tls %v, %s:%d > %s:%d; want tls, %s:* > %s:443", r.Method, r.Path, r.TLS, r.Src.IP, r.Src.Port, r.Dst.IP, r.Dst.Port, n.hostIP, n.nsIP)
			}
			plainPorts[r.Src.Port] = true
		case r.TLS:
			t.Errorf("unexpected plaintext record %+v", r)
		default:
			// What the encrypted packets still record: the handshake.
			if r.Protocol != "tls" {
				t.Errorf("unexpected record from the encrypted packets: %s %s %s", r.Protocol, r.Method, r.Path)
			}
			if r.Src.IP == n.hostIP && r.Dst.IP == n.nsIP && r.Dst.Port == 443 {
				handshakes[r.Src.Port]++
			} else {
				t.Errorf("handshake record %s:%d > %s:%d, want client > %s:443", r.Src.IP, r.Src.Port, r.Dst.IP, r.Dst.Port, n.nsIP)
			}
		}
	}
	if fmt.Sprint(httpRecs) != fmt.Sprint(want) {
		t.Errorf("HTTPS records: %v, want %v", httpRecs, want)
	}
	// Each plaintext record is on a connection the packets saw: its
	// client port is a handshake's.
	if len(plainPorts) != 4 {
		t.Errorf("plaintext records on %d connections, want 4 (2 curl, 1 curl, 1 curl, 1 Go): %v", len(plainPorts), plainPorts)
	}
	for p := range plainPorts {
		if handshakes[p] == 0 {
			t.Errorf("plaintext records from client port %d, whose connection's packets show no handshake (handshakes %v)", p, handshakes)
		}
	}
	if t.Failed() {
		t.Fatalf("records: %v\ntap:\n%s", multiset(recs), stderr)
	}

	// --tls=false: the same traffic makes only the encrypted streams'
	// records.
	data2 := t.TempDir()
	tap = startTap(t, data2, "--filter", "host "+n.nsIP, "--tls=false")
	if strings.Contains(tap.out.String(), "TLS plaintext") {
		t.Errorf("the capturing line names TLS hooks with --tls=false:\n%s", tap.out)
	}
	run(t, "curl", "-skf", "--http1.1", "-o", "/dev/null", base+"/s/hello")
	tap.waitCalls(t, data2, `dst.port == 443`, 1)
	time.Sleep(time.Second) // would a plaintext record follow?
	if code := tap.stop(t, syscall.SIGINT); code != 0 {
		t.Fatalf("tap --tls=false exit code %d:\n%s", code, tap.out)
	}
	for _, r := range calls(t, data2) {
		if r.TLS || r.Protocol == "http" {
			t.Errorf("--tls=false stored %s %s %s tls %v", r.Protocol, r.Method, r.Path, r.TLS)
		}
	}
}

// TestTapTLSKeepAlive: h2load (OpenSSL) makes many HTTP/1.1 requests on a
// few keep-alive connections to nginx (OpenSSL), both processes traced;
// every request is one plaintext record, with no filter and with a port
// filter, which the plaintext chunks must pass as their packets would.
func TestTapTLSKeepAlive(t *testing.T) {
	requireTap(t)
	if _, err := exec.LookPath("h2load"); err != nil {
		t.Skip("h2load is not installed (make deps installs nghttp2-client)")
	}
	n := newTestNet(t)
	n.tlsServer(t)
	const requests, conns = 400, 4
	for _, filter := range []string{"host " + n.nsIP, "tcp port 443"} {
		t.Run(filter, func(t *testing.T) {
			data := t.TempDir()
			tap := startTap(t, data, "--filter", filter)
			out := run(t, "h2load", "--h1", "-n", fmt.Sprint(requests), "-c", fmt.Sprint(conns), "https://"+n.nsIP+"/s/hello")
			if !strings.Contains(out, fmt.Sprintf("%d succeeded", requests)) {
				t.Fatalf("h2load did not complete every request:\n%s", out)
			}
			time.Sleep(2 * time.Second) // the reorder window and the batches
			if code := tap.stop(t, syscall.SIGINT); code != 0 {
				t.Fatalf("tap exit code %d after SIGINT:\n%s", code, tap.out)
			}
			got := map[string]int{}
			ports := map[uint16]int{}
			for _, r := range calls(t, data) {
				// Other tests on the machine may use port 443 too.
				if r.Protocol == "http" && r.Dst.IP == n.nsIP {
					got[fmt.Sprintf("%s %s %d tls=%v", r.Method, r.Path, r.Status, r.TLS)]++
					ports[r.Src.Port]++
				}
			}
			want := map[string]int{"GET /s/hello 200 tls=true": requests}
			if fmt.Sprint(got) != fmt.Sprint(want) || len(ports) != conns {
				t.Errorf("HTTP records %v over %d connections %v, want %v over %d\ntap:\n%s", got, len(ports), ports, want, conns, tap.out)
			}
			// The summary counts them on the TLS source's line; the
			// packet source's holds the handshakes (one a connection).
			sum := tap.out.String()
			if strings.HasPrefix(filter, "host") && (!regexp.MustCompile(fmt.Sprintf(`(?m)^  captured: \d+ calls, .*; %d connections, %d records \(http %d\)$`, conns, requests, requests)).MatchString(sum) ||
				!regexp.MustCompile(fmt.Sprintf(`(?m)^  records:  %d \(tls %d\)`, conns, conns)).MatchString(sum)) {
				t.Errorf("tap's summary does not count %d plaintext records and %d handshakes:\n%s", requests, conns, sum)
			}
		})
	}
}

// TestTapTLSCannotStart: as a user with the packet hooks' capabilities
// only, tracefs (root's only) cannot be read or mounted, so TLS cannot
// start: tap warns, naming the fix, and captures packets.
func TestTapTLSCannotStart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop to a user with chosen capabilities")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	// Directories nobody may write: t.TempDir's parent is root's only.
	data, err := os.MkdirTemp("", "tlstap-data")
	if err != nil {
		t.Fatal(err)
	}
	home, err := os.MkdirTemp("", "tlstap-home") // the compiled dissectors' cache
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(data); os.RemoveAll(home) })
	// Root's compiled dissectors, when there are, save compiling them again.
	if c, err := os.UserCacheDir(); err == nil {
		if _, err := os.Stat(filepath.Join(c, "kubeshark")); err == nil {
			os.Mkdir(filepath.Join(home, "cache"), 0o777)
			exec.Command("cp", "-r", filepath.Join(c, "kubeshark"), filepath.Join(home, "cache")).Run()
		}
	}
	run(t, "chmod", "-R", "a+rwX", data, home)
	caps := "+bpf,+perfmon,+net_admin"
	cmd := exec.Command("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--inh-caps", caps, "--ambient-caps", caps,
		binary_, "--data", data, "tap", "--no-hub", "--duration", "1s")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, "cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tap without TLS's capabilities: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "warning: TLS plaintext is not captured: tls: tracefs") || !strings.Contains(s, "--tls=false") {
		t.Errorf("no warning naming tracefs and --tls=false:\n%s", s)
	}
	if !strings.Contains(s, "capturing on cgroup ") || strings.Contains(s, "TLS plaintext:") || strings.Contains(s, "tap: TLS plaintext of") {
		t.Errorf("tap did not capture packets only:\n%s", s)
	}
}

// TestTapAppliesSavedRetention: limits an import saved for the data
// directory apply when capture stops, as they do after an import, and tap
// says what they dropped.
func TestTapAppliesSavedRetention(t *testing.T) {
	requireTap(t)
	data := t.TempDir()
	old := filepath.Join(t.TempDir(), "old.pcap")
	if r := ks(t, data, "sample", "--scenario", "cascade", "-n", "20", "--start", "2017-03-01T10:00:00Z", old); r.code != 0 {
		t.Fatalf("sample: %+v", r)
	}
	records := importJ(t, data, old)[0].Stored.Records.New
	// Saved as an import given --retention-age 1h would save it, without
	// that import applying it.
	st, err := storage.Open(context.Background(), storage.Options{Dir: filepath.Join(data, "store")})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveRetention(context.Background(), storage.RetentionLimits{Age: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	// The filter keeps the machine's own traffic (other jobs' tests) out
	// of the store: only the old records are counted.
	cmd := exec.Command(binary_, "--data", data, "tap", "--no-hub", "--tls=false", "--l4=false", "--filter", "tcp port 9", "--duration", "1s")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tap: %v\n%s", err, &stderr)
	}
	want := "retention (age 1h, counted from now): dropped " + strconv.FormatInt(records, 10) + " records"
	if !strings.Contains(stderr.String(), want) {
		t.Fatalf("tap stderr lacks %q:\n%s", want, &stderr)
	}
	if n := len(calls(t, data)); n != 0 {
		t.Fatalf("%d calls left after tap applied the limit", n)
	}
}

// TestTapDiskFull: tap on a file system that fills up stops before the
// store's memory-mapped writes would fault (SIGBUS), stores what it held,
// says what is wrong and exits 1; every record it says it stored is there.
// On a file system already below the reserve it does not start.
func TestTapDiskFull(t *testing.T) {
	requireTap(t)
	n := newTestNet(t)
	n.servers(t)
	fs := diskguardtest.SmallFS(t, "160m")
	data := filepath.Join(fs, "data")
	const reserve = 48 << 20
	tap := startTap(t, data, "--filter", "host "+n.nsIP+" and tcp port 80", "--tls=false",
		"--disk-reserve", strconv.Itoa(reserve))
	// 1 MiB answers, each logged in the packet log and stored as a body,
	// until tap stops.
	timeout := time.After(2 * time.Minute)
	fetched := 0
fill:
	for {
		select {
		case <-tap.done:
			break fill
		case <-timeout:
			t.Fatalf("tap still running after %d answers of 1 MiB on a 160 MiB file system:\n%s", fetched, tap.out)
		default:
		}
		if exec.Command("curl", "-sf", "-o", "/dev/null", "http://"+n.nsIP+"/t/big").Run() == nil {
			fetched++
		}
	}
	out := tap.out.String()
	ee, ok := tap.err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || strings.Contains(out, "SIGBUS") || strings.Contains(out, "fatal error") {
		t.Fatalf("tap on a full disk: %v, want exit code 1 without a fault:\n%s", tap.err, out)
	}
	m := regexp.MustCompile(`kubeshark: tap stopped: the file system of ` + regexp.QuoteMeta(data) + ` has [0-9.]+ MiB left of 160.0 MiB, less than the 48.0 MiB kept to store what is in flight\. The (\d+) records it stored \(and any stored before\) are kept\.`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("tap's error does not say the disk is full and what was kept:\n%s", out)
	}
	stored, _ := strconv.Atoi(m[1])
	recs := calls(t, data, "--filter", `path == "/t/big"`)
	if stored == 0 || len(recs) != stored || len(recs) > fetched {
		t.Fatalf("after the disk filled: %d records stored, tap said %d, curl fetched %d", len(recs), stored, fetched)
	}
	for _, r := range recs {
		if r.Status != 200 || r.Method != "GET" {
			t.Fatalf("stored record %s %s %d, want GET /t/big 200", r.Method, r.Path, r.Status)
		}
	}

	// The file system is now below a 128 MiB reserve (the default):
	// tap refuses to start, and says why.
	r := ks(t, data, "tap", "--no-hub", "--tls=false", "--filter", "tcp port 9")
	if r.code == 0 || !strings.Contains(r.stderr, "tap: not starting: the file system of "+data+" has ") || !strings.Contains(r.stderr, "--disk-reserve") {
		t.Fatalf("tap on a file system below its reserve: %+v", r)
	}
}
