package packets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root (CI runs as root)")
	}
}

// TestLoopbackChunks attaches at the cgroup root and checks that a TCP
// exchange over loopback arrives as chunks carrying its bytes, copied once:
// by the egress hook of the sender. The receiver's ingress hook sees the
// same packet after it and sends only a twin note (its headers, with the
// receiving socket's cgroup id), once for the flow.
func TestLoopbackChunks(t *testing.T) {
	requireRoot(t)
	root, err := CgroupRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := loadAttached(t, Config{}, root)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	marker := []byte("kubeshark-bpf-packets-marker-0123456789")
	got := sendMarker(t, p, ln, ln.Addr().String(), marker)
	if got.full[Egress] != 1 || got.full[Ingress] != 0 {
		t.Fatalf("marker copied %v times by direction, want once at egress and never at ingress", got.full)
	}
	if got.twinNotes == 0 {
		t.Errorf("no twin note for the flow to the server: the receiving socket's cgroup would be unknown")
	}
	cnt, err := p.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if cnt.Packets == 0 || cnt.Twins == 0 {
		t.Errorf("counters: %+v, want packets and twins counted", cnt)
	}
}

// TestTwinsAcrossVeth is the same exchange between a client on the host
// and a server in another network namespace behind a veth pair (a pod's
// case): both sockets are local, so the packet is copied once, at egress.
func TestTwinsAcrossVeth(t *testing.T) {
	requireRoot(t)
	root, err := CgroupRoot()
	if err != nil {
		t.Fatal(err)
	}
	ns, _, peer := vethNamespace(t, "tp", 236)
	ln := listenIn(t, ns, peer+":0")
	defer ln.Close()
	p := loadAttached(t, Config{}, root)
	marker := []byte("kubeshark-bpf-packets-veth-marker-0123456789")
	got := sendMarker(t, p, ln, ln.Addr().String(), marker)
	if got.full[Egress] != 1 || got.full[Ingress] != 0 {
		t.Fatalf("marker copied %v times by direction, want once at egress and never at ingress", got.full)
	}
	if got.twinNotes == 0 {
		t.Errorf("no twin note for the flow to the server in the namespace")
	}
}

// TestIngressOnlyCopyOutsideCgroup attaches to a cgroup that holds the
// server's socket and not the client's: the client's egress is not
// hooked, so the server's ingress hook is the only one to see the packet
// and must copy it whole, not take it for a twin.
func TestIngressOnlyCopyOutsideCgroup(t *testing.T) {
	requireRoot(t)
	root, err := CgroupRoot()
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, fmt.Sprintf("tp%05x", rand.IntN(1<<20)))
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Skipf("cannot make a cgroup: %v", err)
	}
	home := ownCgroup(t, root)
	// Sockets belong to the cgroup of the task that made them: the
	// listener (and the connections it accepts) to sub, the client to
	// the test's own cgroup.
	enter(t, sub)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	enter(t, home)
	t.Cleanup(func() { os.Remove(sub) }) // after the probe detaches (cleanups run last-first)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := loadAttached(t, Config{}, sub)
	marker := []byte("kubeshark-bpf-packets-subcgroup-marker-0123456789")
	got := sendMarker(t, p, ln, ln.Addr().String(), marker)
	if got.full[Egress] != 0 || got.full[Ingress] != 1 {
		t.Fatalf("marker copied %v times by direction, want once at ingress (the client is outside the cgroup)", got.full)
	}
}

// markerSeen counts the chunks that carried a marker whole, by direction,
// and the twin notes of the marker's flow.
type markerSeen struct {
	full      map[Direction]int
	twinNotes int
}

// sendMarker connects to addr, whose listener is ln, sends marker and
// reads the probe's chunks for a while.
func sendMarker(t *testing.T, p *Probe, ln net.Listener, addr string, marker []byte) markerSeen {
	t.Helper()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 100)
		c.Read(buf)
	}()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(c.RemoteAddr().(*net.TCPAddr).Port)
	c.Write(marker)
	c.Close()

	got := markerSeen{full: map[Direction]int{}}
	deadline := time.Now().Add(2 * time.Second)
	var ch Chunk
	for time.Now().Before(deadline) {
		err := p.ReadChunk(time.Now().Add(100*time.Millisecond), &ch)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.L2 || ch.Off != 0 || !ch.Last || len(ch.Data) < 24 || ch.Data[0]>>4 != 4 {
			continue
		}
		if ch.Twin {
			ihl := int(ch.Data[0]&0x0f) * 4
			if len(ch.Data) >= ihl+4 && binary.BigEndian.Uint16(ch.Data[ihl+2:]) == port {
				if ch.Dir != Ingress || ch.Cgroup == 0 {
					t.Errorf("twin note %s, cgroup %d: want ingress with a cgroup id", ch.Dir, ch.Cgroup)
				}
				got.twinNotes++
			}
			continue
		}
		if int(ch.Len) == len(ch.Data) && containsBytes(ch.Data, marker) {
			got.full[ch.Dir]++
			if ch.Cgroup == 0 {
				t.Errorf("%s chunk without a cgroup id", ch.Dir)
			}
		}
	}
	return got
}

// ownCgroup is the test process's cgroup v2 directory.
func ownCgroup(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rel, ok := strings.CutPrefix(l, "0::"); ok {
			return filepath.Join(root, rel)
		}
	}
	t.Skip("no cgroup v2 entry in /proc/self/cgroup")
	return ""
}

// enter moves the whole test process into the cgroup directory.
func enter(t *testing.T, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatalf("moving the test into %s: %v", dir, err)
	}
}

// vethNamespace makes a namespace joined to the host by a veth pair, named
// with prefix and addressed in 10.octet.x.0/30, and returns the namespace,
// the host's interface and the namespace's address. Everything it makes is
// removed when the test ends.
func vethNamespace(t *testing.T, prefix string, octet int) (ns, hostIf, peer string) {
	t.Helper()
	id := rand.IntN(1 << 20)
	ns, nsIf := fmt.Sprintf("%s%05x", prefix, id), fmt.Sprintf("%s%05xn", prefix, id)
	hostIf = fmt.Sprintf("%s%05xh", prefix, id)
	sub := 1 + id%250
	host, peer := fmt.Sprintf("10.%d.%d.1", octet, sub), fmt.Sprintf("10.%d.%d.2", octet, sub)
	sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	sh(t, "ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	t.Cleanup(func() { exec.Command("ip", "link", "del", hostIf).Run() })
	sh(t, "ip", "link", "set", nsIf, "netns", ns)
	sh(t, "ip", "addr", "add", host+"/30", "dev", hostIf)
	sh(t, "ip", "link", "set", hostIf, "up")
	sh(t, "ip", "netns", "exec", ns, "ip", "addr", "add", peer+"/30", "dev", nsIf)
	sh(t, "ip", "netns", "exec", ns, "ip", "link", "set", nsIf, "up")
	return ns, hostIf, peer
}

// loadAttached loads the probe with cfg, attaches it to the cgroup, and
// closes it when the test ends.
func loadAttached(t *testing.T, cfg Config, cgroup string) *Probe {
	t.Helper()
	p, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.AttachCgroup(cgroup); err != nil {
		t.Fatal(err)
	}
	return p
}

// listenIn opens a TCP listener inside the named network namespace: a
// socket belongs to the namespace of the thread that made it.
func listenIn(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	target, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatal(err)
	}
	ln, lerr := net.Listen("tcp", addr)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		panic(fmt.Sprintf("returning to the test's network namespace: %v", err)) // the thread is unusable
	}
	if lerr != nil {
		t.Fatal(lerr)
	}
	return ln
}

func containsBytes(b, sub []byte) bool {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return true
		}
	}
	return false
}

func TestParseChunkShort(t *testing.T) {
	var c Chunk
	for _, b := range [][]byte{make([]byte, 10), append(make([]byte, 36), 0xff, 0, 0, 0)} {
		if err := parseChunk(b, &c); !errors.Is(err, ErrShortRecord) {
			t.Errorf("parseChunk(%d bytes) = %v, want ErrShortRecord", len(b), err)
		}
	}
}

func TestConfigLimits(t *testing.T) {
	for _, c := range []Config{{SnapLen: MaxSnapLen + 1}, {RingBytes: 3 << 20}} {
		if err := c.defaults(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
