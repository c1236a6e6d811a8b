package tls

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// curl (libssl 3) against nginx with TLS in a namespace: both ends'
// plaintext, on the connection's real 5-tuple, in the right direction.
func TestOpenSSLCurlNginx(t *testing.T) {
	needRoot(t)
	needTool(t, "curl", "nginx")
	n := newNet(t)
	addr := startNginx(t, n)
	tr, c := startTracer(t, Config{NoGo: true, ProgramStats: true})
	server := netip.MustParseAddrPort(addr)

	out, err := exec.Command("curl", "-sSk", "--http1.1", "https://"+addr+"/hello-openssl").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if string(out) != "hello from nginx\n" {
		t.Fatalf("curl got %q", out)
	}

	req := c.wait(t, "curl sending the request", 5*time.Second, func(e Event) bool {
		return e.Comm == "curl" && e.Kind == Data && e.Direction == Sent && bytes.HasPrefix(e.Data, []byte("GET /hello-openssl HTTP/1.1\r\n"))
	})
	if req.Remote != server || req.Local.Addr() != netip.MustParseAddr(n.Host) || req.Library != OpenSSL {
		t.Fatalf("curl's request: library %s %s → %s, want openssl %s:* → %s", req.Library, req.Local, req.Remote, n.Host, server)
	}
	resp := c.wait(t, "curl receiving the response", 5*time.Second, func(e Event) bool {
		return e.Comm == "curl" && e.Kind == Data && e.Direction == Received && bytes.Contains(e.Data, []byte("hello from nginx"))
	})
	if resp.Local != req.Local || resp.Remote != server {
		t.Fatalf("curl's response on %s → %s, its request on %s → %s", resp.Local, resp.Remote, req.Local, req.Remote)
	}
	// nginx's side of the same connection, mirrored.
	srv := c.wait(t, "nginx receiving the request", 5*time.Second, func(e Event) bool {
		return e.Comm == "nginx" && e.Kind == Data && e.Direction == Received && bytes.HasPrefix(e.Data, []byte("GET /hello-openssl "))
	})
	if srv.Local != server || srv.Remote != req.Local {
		t.Fatalf("nginx's request on %s ← %s, want %s ← %s", srv.Local, srv.Remote, server, req.Local)
	}
	c.wait(t, "nginx sending the response", 5*time.Second, func(e Event) bool {
		return e.Comm == "nginx" && e.Kind == Data && e.Direction == Sent && bytes.HasPrefix(e.Data, []byte("HTTP/1.1 200 OK\r\n")) && e.Local == server
	})
	c.wait(t, "curl closing the connection", 5*time.Second, func(e Event) bool {
		return e.Comm == "curl" && e.Kind == Closed && e.Local == req.Local && e.Remote == server
	})
	// Every piece of plaintext on the connection is HTTP: a failed
	// SSL_read (-1, which RAX holds as 4294967295) must deliver nothing.
	for _, e := range c.seen {
		if e.Kind == Data && (e.Local == req.Local || e.Remote == req.Local) &&
			!bytes.HasPrefix(e.Data, []byte("GET ")) && !bytes.HasPrefix(e.Data, []byte("HTTP/1.1 ")) {
			t.Errorf("%s %s %d bytes that are no HTTP: %q", e.Comm, e.Direction, len(e.Data), clip(e.Data))
		}
	}
	st := tr.Stats()
	if len(st.Libraries) == 0 {
		t.Fatalf("no library hooked: %+v", st)
	}
	costs, err := tr.ProgramCosts()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"ssl_write_enter", "ssl_write_exit", "ssl_read_exit", "sys_enter_fd"} {
		if c := costs[p]; c.Runs == 0 || c.PerRun() <= 0 {
			t.Errorf("%s: %d runs, %v each", p, c.Runs, c.PerRun())
		}
	}
	t.Logf("cost per run: SSL_write entry %v, return %v, syscall tracepoint %v", costs["ssl_write_enter"].PerRun(), costs["ssl_write_exit"].PerRun(), costs["sys_enter_fd"].PerRun())
}

// A TLS connection made before tracing started (openssl s_client kept
// open) still yields its plaintext and 5-tuple once the tracer runs.
func TestOpenSSLConnectionBeforeTracing(t *testing.T) {
	needRoot(t)
	needTool(t, "openssl", "nginx")
	n := newNet(t)
	addr := startNginx(t, n)
	server := netip.MustParseAddrPort(addr)

	cmd := exec.Command("openssl", "s_client", "-quiet", "-connect", addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	got := make(chan []byte, 16)
	go func() {
		b := make([]byte, 4096)
		for {
			k, err := stdout.Read(b)
			if k > 0 {
				got <- append([]byte(nil), b[:k]...)
			}
			if err != nil {
				close(got)
				return
			}
		}
	}()
	// One exchange before tracing, so the handshake is surely done.
	io.WriteString(stdin, "GET /before HTTP/1.1\r\nHost: test\r\n\r\n")
	waitFor(t, got, "hello from nginx")

	_, c := startTracer(t, Config{NoGo: true})
	io.WriteString(stdin, "GET /after-start HTTP/1.1\r\nHost: test\r\n\r\n")
	waitFor(t, got, "hello from nginx")

	req := c.wait(t, "s_client's request", 5*time.Second, func(e Event) bool {
		return e.Comm == "openssl" && e.Direction == Sent && bytes.HasPrefix(e.Data, []byte("GET /after-start "))
	})
	if req.Remote != server || req.Local.Addr() != netip.MustParseAddr(n.Host) {
		t.Fatalf("s_client's request on %s → %s, want %s:* → %s", req.Local, req.Remote, n.Host, server)
	}
	c.wait(t, "s_client's response", 5*time.Second, func(e Event) bool {
		return e.Comm == "openssl" && e.Direction == Received && bytes.Contains(e.Data, []byte("hello from nginx")) && e.Remote == server
	})
}

// A process started after the tracer with a libssl the tracer has not
// seen (a private copy, via LD_LIBRARY_PATH) is found from its exec event
// and hooked.
func TestOpenSSLNewLibraryAfterStart(t *testing.T) {
	needRoot(t)
	needTool(t, "openssl", "nginx")
	var sys string
	for _, p := range systemLibssl() {
		if strings.HasSuffix(p, ".so.3") {
			sys = p
		}
	}
	if sys == "" {
		t.Skip("no libssl.so.3 in the system library directories")
	}
	n := newNet(t)
	addr := startNginx(t, n)
	server := netip.MustParseAddrPort(addr)
	tr, c := startTracer(t, Config{NoGo: true})

	libdir := t.TempDir()
	b, err := os.ReadFile(sys)
	if err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(libdir, "libssl.so.3")
	if err := os.WriteFile(private, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("openssl", "s_client", "-quiet", "-connect", addr)
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+libdir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	got := make(chan []byte, 16)
	go func() {
		b := make([]byte, 4096)
		for {
			k, err := stdout.Read(b)
			if k > 0 {
				got <- append([]byte(nil), b[:k]...)
			}
			if err != nil {
				close(got)
				return
			}
		}
	}()
	// The tracer looks at a new process 30 ms after its exec, when its
	// libraries are mapped.
	deadline := time.Now().Add(5 * time.Second)
	for !slices.ContainsFunc(tr.Stats().Libraries, func(l string) bool { return strings.HasSuffix(l, private) }) {
		if time.Now().After(deadline) {
			t.Fatalf("%s not hooked: %+v", private, tr.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	io.WriteString(stdin, "GET /private-lib HTTP/1.1\r\nHost: test\r\n\r\n")
	waitFor(t, got, "hello from nginx")
	c.wait(t, "s_client's request through the private libssl", 5*time.Second, func(e Event) bool {
		return e.Comm == "openssl" && e.Direction == Sent && e.Remote == server && bytes.HasPrefix(e.Data, []byte("GET /private-lib "))
	})
}

func waitFor(t *testing.T, ch <-chan []byte, want string) {
	t.Helper()
	var all []byte
	tm := time.After(5 * time.Second)
	for !bytes.Contains(all, []byte(want)) {
		select {
		case b, ok := <-ch:
			if !ok {
				t.Fatalf("output ended before %q: %q", want, all)
			}
			all = append(all, b...)
		case <-tm:
			t.Fatalf("no %q in %q", want, all)
		}
	}
}

// A consumer that stops reading makes the ring buffer overflow: the kernel
// counts what it drops, the traced program is unaffected, and the tracer
// still closes.
func TestRingBufferLossCounted(t *testing.T) {
	needRoot(t)
	needTool(t, "curl", "nginx")
	n := newNet(t)
	addr := startNginx(t, n)
	ctx := context.Background()
	tr, err := Start(ctx, Config{NoGo: true, RingBytes: 1 << 16, Buffer: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads tr.Events(): 300 calls of both curl and nginx, four
	// records each, cannot fit in 64 KiB.
	out, err := exec.Command("curl", "-sSk", "--http1.1", "-o", "/dev/null", "https://"+addr+"/[1-300]").CombinedOutput()
	if err != nil {
		t.Fatalf("curl under an overflowing tracer: %v\n%s", err, out)
	}
	closed := make(chan struct{})
	go func() { tr.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs while Events is not read")
	}
	if st := tr.Stats(); st.Lost == 0 {
		t.Fatalf("nothing counted lost: %+v", st)
	}
}

// IPv6: the socket walk reads the v6 addresses.
func TestOpenSSLIPv6(t *testing.T) {
	needRoot(t)
	needTool(t, "curl", "nginx")
	n := newNet(t)
	startNginx(t, n)
	_, c := startTracer(t, Config{NoGo: true})
	out, err := exec.Command("ip", "netns", "exec", n.NS, "curl", "-sSk", "--http1.1", "https://[::1]:8443/v6").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	server := netip.MustParseAddrPort("[::1]:8443")
	e := c.wait(t, "curl's request over IPv6", 5*time.Second, func(e Event) bool {
		return e.Comm == "curl" && e.Direction == Sent && bytes.HasPrefix(e.Data, []byte("GET /v6 "))
	})
	if e.Remote != server || e.Local.Addr() != server.Addr() || e.Local.Port() == 0 {
		t.Fatalf("curl's request on %s → %s, want [::1]:* → %s", e.Local, e.Remote, server)
	}
}
