package tls

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needRoot skips a test that loads BPF programs unless it runs as root
// (CI does).
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs and make network namespaces (CI runs as root)")
	}
}

func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s is not installed (make deps installs it)", n)
		}
	}
}

// testNet is a network namespace joined to the host by a veth pair: the
// namespace is the server's host, Host the client's address.
type testNet struct {
	NS         string
	Host, Peer string // addresses without port
}

// newNet makes a namespace named with the test's unique prefix.
func newNet(t *testing.T) *testNet {
	t.Helper()
	needTool(t, "ip")
	var b [3]byte
	rand.Read(b[:])
	tag := fmt.Sprintf("%x", b)
	n := &testNet{
		NS:   "tls" + tag,
		Host: fmt.Sprintf("10.%d.%d.1", 200+int(b[0])%50, b[1]),
		Peer: fmt.Sprintf("10.%d.%d.2", 200+int(b[0])%50, b[1]),
	}
	hostIf, nsIf := "tlsh"+tag, "tlsn"+tag
	run(t, "ip", "netns", "add", n.NS)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", hostIf).Run()
		exec.Command("ip", "netns", "del", n.NS).Run()
	})
	run(t, "ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	run(t, "ip", "link", "set", nsIf, "netns", n.NS)
	run(t, "ip", "addr", "add", n.Host+"/24", "dev", hostIf)
	run(t, "ip", "link", "set", hostIf, "up")
	run(t, "ip", "netns", "exec", n.NS, "ip", "addr", "add", n.Peer+"/24", "dev", nsIf)
	run(t, "ip", "netns", "exec", n.NS, "ip", "link", "set", nsIf, "up")
	run(t, "ip", "netns", "exec", n.NS, "ip", "link", "set", "lo", "up")
	return n
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// writeCert makes a self-signed certificate for the address and returns
// the PEM files' paths.
func writeCert(t *testing.T, dir, ip string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kubeshark-tls-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP(ip)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// startNginx runs nginx with TLS on PEER:8443 and [::1]:8443 inside the
// namespace; every request is answered 200 with a small body.
func startNginx(t *testing.T, n *testNet) string {
	t.Helper()
	needTool(t, "nginx")
	dir := t.TempDir()
	cert, key := writeCert(t, dir, n.Peer)
	conf := fmt.Sprintf(`daemon off;
master_process off;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen %[2]s:8443 ssl;
    listen [::1]:8443 ssl;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    location / { default_type text/plain; return 200 "hello from nginx\n"; }
  }
}
`, dir, n.Peer, cert, key)
	cf := filepath.Join(dir, "nginx.conf")
	os.WriteFile(cf, []byte(conf), 0o600)
	cmd := exec.Command("ip", "netns", "exec", n.NS, "nginx", "-c", cf, "-p", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := n.Peer + ":8443"
	waitListen(t, addr)
	return addr
}

func waitListen(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

// startTracer starts a Tracer for the test and collects its events.
func startTracer(t *testing.T, cfg Config) (*Tracer, *collector) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr, err := Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &collector{ch: make(chan Event, 1<<14)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range tr.Events() {
			c.ch <- e
		}
	}()
	t.Cleanup(func() {
		t0 := time.Now()
		cancel()
		tr.Close()
		<-done
		t.Logf("tracer closed in %v; stats %+v", time.Since(t0), tr.Stats())
		if t.Failed() {
			t.Logf("tracer stats: %+v", tr.Stats())
		}
	})
	return tr, c
}

// collector holds events for the test to wait on.
type collector struct {
	ch   chan Event
	seen []Event
}

// wait returns the first event (past or future) that ok accepts, failing
// the test after the timeout.
func (c *collector) wait(t *testing.T, what string, timeout time.Duration, ok func(Event) bool) Event {
	t.Helper()
	for _, e := range c.seen {
		if ok(e) {
			return e
		}
	}
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	for {
		select {
		case e := <-c.ch:
			c.seen = append(c.seen, e)
			if ok(e) {
				return e
			}
		case <-tm.C:
			for _, e := range c.seen {
				t.Logf("seen: %s pid %d %s fd %d %s %s→%s %q", e.Library, e.PID, e.Comm, e.FD, e.Direction, e.Local, e.Remote, clip(e.Data))
			}
			t.Fatalf("no event: %s", what)
		}
	}
}

func clip(b []byte) string {
	if len(b) > 60 {
		b = b[:60]
	}
	return string(b)
}
