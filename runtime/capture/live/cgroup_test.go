package live

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/bpf/packets"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

// TestOnSocketGivesEachEndsCgroup checks that the cgroup id the hooks
// capture reaches OnSocket for both local ends of a loopback exchange
// (egress names the sender, ingress the receiver), as the cgroup v2 id of
// the test's own cgroup.
func TestOnSocketGivesEachEndsCgroup(t *testing.T) {
	requireRoot(t)
	root, err := packets.CgroupRoot()
	if err != nil {
		t.Skip(err)
	}
	b, _ := os.ReadFile("/proc/self/cgroup")
	var rel string
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			rel = p
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(root, rel), &st); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[[2]netip.AddrPort]uint64{}
	src, err := Open(context.Background(), Options{OnSocket: func(local, remote netip.AddrPort, cg uint64, _ time.Time) {
		mu.Lock()
		seen[[2]netip.AddrPort{local, remote}] = cg
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	server, _ := exchange(t, []byte("ping"), []byte("pong"))
	src.Stop()
	collect(t, src, 5*time.Second, func(capture.Packet) bool { return false })

	mu.Lock()
	defer mu.Unlock()
	var toServer, fromServer int
	for k, cg := range seen {
		switch {
		case k[1].Port() == uint16(server.Port) && k[1].Addr().IsLoopback():
			toServer++
		case k[0].Port() == uint16(server.Port) && k[0].Addr().IsLoopback():
			fromServer++
		default:
			continue
		}
		if cg != st.Ino {
			t.Errorf("%v → %v: cgroup id %d, want the test's %d", k[0], k[1], cg, st.Ino)
		}
	}
	if toServer == 0 || fromServer == 0 {
		t.Errorf("OnSocket named the client end %d times and the server end %d times; want both", toServer, fromServer)
	}
}

func TestPorts(t *testing.T) {
	v4 := []byte{0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x9c, 0x40, 0, 80}
	frag := append([]byte{}, v4...)
	frag[7] = 8 // a later fragment: no ports
	icmp := append([]byte{}, v4...)
	icmp[9] = 1
	v6 := make([]byte, 48)
	v6[0], v6[6] = 0x60, 17
	v6[23], v6[39] = 1, 2
	v6[40], v6[41], v6[42], v6[43] = 0, 53, 0x14, 0xe9
	for _, tc := range []struct {
		name     string
		ip       []byte
		ok       bool
		src, dst string
	}{
		{"tcp4", v4, true, "10.0.0.1:40000", "10.0.0.2:80"},
		{"fragment", frag, false, "", ""},
		{"icmp", icmp, false, "", ""},
		{"udp6", v6, true, "[::1]:53", "[::2]:5353"},
		{"short", v4[:10], false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, d, ok := ports(tc.ip)
			if ok != tc.ok || (ok && (s.String() != tc.src || d.String() != tc.dst)) {
				t.Errorf("ports = %v %v %v, want %v %s %s", s, d, ok, tc.ok, tc.src, tc.dst)
			}
		})
	}
}
