package packets

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// vethPair makes a namespace joined to the host by a veth pair and returns
// the host's interface and the namespace's address.
func vethPair(t *testing.T) (hostIf, peer string) {
	t.Helper()
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("tc is not installed (make deps installs iproute2)")
	}
	_, hostIf, peer = vethNamespace(t, "pkc", 232)
	return hostIf, peer
}

// TestInterfaceClsactFallback forces the TC fallback of AttachInterface
// (what kernels without TCX get): the filters sit on a clsact qdisc the
// probe adds, packets both ways arrive with their Ethernet header, and
// Close removes filters and qdisc; a clsact qdisc that was there before
// (another tool's) stays.
func TestInterfaceClsactFallback(t *testing.T) {
	requireRoot(t)
	for _, preexisting := range []bool{false, true} {
		t.Run(fmt.Sprintf("preexisting=%v", preexisting), func(t *testing.T) {
			hostIf, peer := vethPair(t)
			if preexisting {
				sh(t, "tc", "qdisc", "add", "dev", hostIf, "clsact")
			}
			p, err := Load(Config{ForceTC: true})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.AttachInterface(hostIf); err != nil {
				t.Fatal(err)
			}
			if got := p.Attached(); len(got) != 1 || got[0] != "interface "+hostIf+" (tc clsact)" {
				t.Errorf("Attached() = %q, want the interface named with tc clsact", got)
			}
			for _, dir := range []string{"ingress", "egress"} {
				out := sh(t, "tc", "filter", "show", "dev", hostIf, dir)
				if !strings.Contains(out, "kubeshark-"+dir) || !strings.Contains(out, "direct-action") {
					t.Errorf("tc filter show dev %s %s:\n%s\nwant the kubeshark direct-action filter", hostIf, dir, out)
				}
			}
			// Nothing listens in the namespace: the datagram goes out and
			// an ICMP port unreachable comes back in.
			marker := []byte("kubeshark-clsact-marker")
			c, err := net.Dial("udp", peer+":9")
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				c.Write(marker)
				time.Sleep(20 * time.Millisecond)
			}
			c.Close()
			seen := map[Direction]int{}
			var ch Chunk
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) && (seen[Egress] == 0 || seen[Ingress] == 0) {
				if err := p.ReadChunk(time.Now().Add(100*time.Millisecond), &ch); err != nil {
					continue
				}
				if !ch.L2 || !bytes.Contains(ch.Data, marker) {
					continue // other packets; ICMP quotes the datagram
				}
				seen[ch.Dir]++
			}
			if seen[Egress] == 0 || seen[Ingress] == 0 {
				t.Fatalf("packets carrying the marker through clsact: %d egress, %d ingress; want both", seen[Egress], seen[Ingress])
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			qd := sh(t, "tc", "qdisc", "show", "dev", hostIf)
			if strings.Contains(qd, "clsact") != preexisting {
				t.Errorf("after Close, tc qdisc show dev %s:\n%s\nclsact present should be %v", hostIf, qd, preexisting)
			}
			if f := sh(t, "tc", "filter", "show", "dev", hostIf, "ingress"); preexisting && strings.Contains(f, "kubeshark") {
				t.Errorf("the kubeshark filter outlived Close:\n%s", f)
			}
		})
	}
}
