package conns

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/kubeshark-wasm/kubeshark/bpf/droptest"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs and make network namespaces (CI runs as root)")
	}
	for _, n := range []string{"ip", "nginx", "curl"} {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s is not installed (make deps installs it)", n)
		}
	}
	_ = rlimit.RemoveMemlock()
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// netns is a namespace behind a veth pair: nginx runs inside on Peer, the
// test's clients run on the host side (Host).
type netns struct {
	ns, nsIf, hostIf string
	host, peer       string
}

func newNetns(t *testing.T) *netns {
	var b [3]byte
	rand.Read(b[:])
	tag := fmt.Sprintf("%x", b)
	n := &netns{ns: "l4ev" + tag, nsIf: "l4n" + tag,
		host: fmt.Sprintf("10.%d.%d.1", 150+int(b[0])%40, b[1]), peer: fmt.Sprintf("10.%d.%d.2", 150+int(b[0])%40, b[1])}
	hostIf := "l4h" + tag
	n.hostIf = hostIf
	run(t, "ip", "netns", "add", n.ns)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", hostIf).Run()
		exec.Command("ip", "netns", "del", n.ns).Run()
	})
	run(t, "ip", "link", "add", hostIf, "type", "veth", "peer", "name", n.nsIf)
	run(t, "ip", "link", "set", n.nsIf, "netns", n.ns)
	run(t, "ip", "addr", "add", n.host+"/24", "dev", hostIf)
	run(t, "ip", "link", "set", hostIf, "up")
	run(t, "ip", "netns", "exec", n.ns, "ip", "addr", "add", n.peer+"/24", "dev", n.nsIf)
	run(t, "ip", "netns", "exec", n.ns, "ip", "link", "set", n.nsIf, "up")
	run(t, "ip", "netns", "exec", n.ns, "ip", "link", "set", "lo", "up")
	return n
}

// nginx serves / and a 2 MiB /big on PEER:80 in the namespace; it returns
// nginx's pid (master_process off: one process).
func (n *netns) nginx(t *testing.T, prefix ...string) int {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "big"), make([]byte, 2<<20), 0o644)
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
    listen %[2]s:80;
    root %[1]s;
    location = / { default_type text/plain; return 200 "hello\n"; }
  }
}
`, dir, n.peer)
	cf := filepath.Join(dir, "nginx.conf")
	os.WriteFile(cf, []byte(conf), 0o600)
	argv := append(append([]string{}, prefix...), "ip", "netns", "exec", n.ns, "nginx", "-c", cf, "-p", dir)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", n.peer+":80", 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on %s:80", n.peer)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// sh and ip netns exec exec in place: the child's pid is nginx's.
	return cmd.Process.Pid
}

// newCgroup makes a cgroup v2 directory for the test and returns a command
// prefix that runs a program inside it, and the cgroup's id (the inode
// number of its directory, which is what the kernel calls its id).
func newCgroup(t *testing.T, name string) (prefix []string, id uint64) {
	t.Helper()
	mounts, _ := os.ReadFile("/proc/mounts")
	for _, l := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[2] != "cgroup2" {
			continue
		}
		var b [3]byte
		rand.Read(b[:])
		dir := filepath.Join(f[1], fmt.Sprintf("l4ev-%s-%x", name, b))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Skipf("cannot make a cgroup: %v", err)
		}
		t.Cleanup(func() {
			// Processes still inside keep it busy for a moment.
			for i := 0; i < 50 && os.Remove(dir) != nil; i++ {
				time.Sleep(20 * time.Millisecond)
			}
		})
		var st syscall.Stat_t
		if err := syscall.Stat(dir, &st); err != nil {
			t.Fatal(err)
		}
		return []string{"sh", "-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, dir}, st.Ino
	}
	t.Skip("no cgroup v2 hierarchy is mounted")
	return nil, 0
}

// recorder runs a Probe and keeps its events.
type recorder struct {
	mu  sync.Mutex
	evs []Event
}

func record(t *testing.T) *recorder {
	p, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, func(e *Event) { r.mu.Lock(); r.evs = append(r.evs, *e); r.mu.Unlock() }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		lost, _ := p.Lost()
		t.Logf("%d events, %d lost", len(r.evs), lost)
		p.Close()
	})
	return r
}

// wait returns the events that match once at least n do.
func (r *recorder) wait(t *testing.T, what string, n int, match func(*Event) bool) []Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got []Event
		r.mu.Lock()
		for i := range r.evs {
			if match(&r.evs[i]) {
				got = append(got, r.evs[i])
			}
		}
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			r.mu.Lock()
			for _, e := range r.evs {
				t.Logf("event %s %s→%s %v→%v pid %d %q cgroup %d", e.Kind, StateName(e.Old), StateName(e.New), e.Local, e.Remote, e.PID, e.Comm, e.Cgroup)
			}
			r.mu.Unlock()
			t.Fatalf("%s: %d events, want at least %d", what, len(got), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// curl fetches url from the host side and returns curl's local port and pid.
func curl(t *testing.T, prefix []string, args ...string) (port uint16, pid int) {
	t.Helper()
	argv := append(append(append([]string{}, prefix...), "curl", "-s", "-o", "/dev/null", "-w", "%{local_port}"), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("curl %v: %v", args, err)
	}
	p, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("curl %v printed %q as its local port", args, out)
	}
	return uint16(p), cmd.Process.Pid
}

func TestConnectionLifecycle(t *testing.T) {
	needRoot(t)
	n := newNetns(t)
	srvCg, srvCgID := newCgroup(t, "srv")
	cliCg, cliCgID := newCgroup(t, "cli")
	nginxPID := n.nginx(t, srvCg...)
	r := record(t)
	server := netip.MustParseAddrPort(n.peer + ":80")

	port, curlPID := curl(t, cliCg, "http://"+n.peer+"/")
	client := netip.AddrPortFrom(netip.MustParseAddr(n.host), port)
	mine := func(e *Event) bool {
		return (e.Local == client && e.Remote == server) || (e.Local == server && e.Remote == client)
	}

	// The client's connect runs in curl's task, before the kernel picks
	// its port: the socket's address ties it to the later events.
	est := r.wait(t, "curl's socket established", 1, func(e *Event) bool {
		return mine(e) && e.Kind == State && e.Local == client && e.New == Established
	})[0]
	syn := r.wait(t, "curl's SYN_SENT", 1, func(e *Event) bool {
		return e.Sock == est.Sock && e.Kind == State && e.New == SynSent
	})[0]
	if syn.PID != uint32(curlPID) || syn.Comm != "curl" || syn.Remote != server {
		t.Errorf("connect event: pid %d comm %q remote %v, want curl's pid %d to %v", syn.PID, syn.Comm, syn.Remote, curlPID, server)
	}
	if est.PID != 0 {
		t.Errorf("SYN_SENT→ESTABLISHED runs when the SYN-ACK arrives (softirq) but names pid %d", est.PID)
	}
	if syn.Cgroup != cliCgID || est.Cgroup != cliCgID {
		t.Errorf("client socket's cgroup id %d/%d, want curl's %d", syn.Cgroup, est.Cgroup, cliCgID)
	}
	// The passive open runs in softirq: no task may be named for it ...
	for _, e := range r.wait(t, "server's passive open", 1, func(e *Event) bool {
		return mine(e) && e.Kind == State && e.Local == server && (e.New == SynRecv || e.New == Established)
	}) {
		if e.PID != 0 {
			t.Errorf("%s→%s of the server socket ran in softirq but names pid %d (%q)", StateName(e.Old), StateName(e.New), e.PID, e.Comm)
		}
	}
	// ... and accept names nginx.
	acc := r.wait(t, "nginx's accept", 1, func(e *Event) bool { return mine(e) && e.Kind == Accept })[0]
	if acc.PID != uint32(nginxPID) || acc.Comm != "nginx" || acc.Local != server || acc.Remote != client {
		t.Errorf("accept event %+v, want nginx (pid %d) on %v from %v", acc, nginxPID, server, client)
	}
	if acc.Cgroup != srvCgID {
		t.Errorf("accepted socket's cgroup id %d, want nginx's %d", acc.Cgroup, srvCgID)
	}
	// Both sockets reach CLOSE.
	closed := r.wait(t, "both sockets closed", 2, func(e *Event) bool { return mine(e) && e.Kind == State && e.New == Close })
	if closed[0].Local == closed[1].Local {
		t.Errorf("two CLOSE events for %v, want one per end", closed[0].Local)
	}
}

func TestResetAndRetransmit(t *testing.T) {
	needRoot(t)
	n := newNetns(t)
	n.nginx(t)
	r := record(t)

	// Nothing listens on port 81: the namespace's kernel answers the SYN
	// with a RST that curl's socket receives.
	// (curl cannot say its port when the connection is refused.)
	curl(t, nil, "--max-time", "5", "http://"+n.peer+":81/")
	closedPort := netip.MustParseAddrPort(n.peer + ":81")
	got := r.wait(t, "RST received by curl", 1, func(e *Event) bool {
		return e.Kind == ResetReceived && e.Remote == closedPort && e.Local.Addr().String() == n.host
	})[0]
	r.wait(t, "RST sent by the namespace", 1, func(e *Event) bool {
		return e.Kind == ResetSent && e.Local == closedPort && e.Remote == got.Local
	})

	// Lose a fifth of the server's packets: a 2 MiB download retransmits.
	n.lose(t, 5)
	port, _ := curl(t, nil, "--max-time", "60", "http://"+n.peer+"/big")
	client := netip.AddrPortFrom(netip.MustParseAddr(n.host), port)
	server := netip.MustParseAddrPort(n.peer + ":80")
	rt := r.wait(t, "retransmissions by nginx", 1, func(e *Event) bool {
		return e.Kind == Retransmit && e.Local == server && e.Remote == client
	})
	t.Logf("%d retransmissions by the server", len(rt))
}

// lose drops one in every packets arriving from the namespace at the host's
// end of the veth (droptest stands in for netem, which this kernel lacks).
func (n *netns) lose(t *testing.T, every int32) {
	t.Helper()
	l, err := droptest.Attach(n.hostIf, ebpf.AttachTCXIngress, every)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
}
