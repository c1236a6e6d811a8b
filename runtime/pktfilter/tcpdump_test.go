package pktfilter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

// TestAgainstTcpdump runs expressions through libpcap (tcpdump -r IN -w OUT
// EXPR) and through Compile, and compares which packets each keeps. The
// expressions avoid the documented differences: frames with VLAN tags are
// only filtered with expressions that start with as many vlan primitives as
// the headers they test are deep, since libpcap reads them at fixed offsets.
func TestAgainstTcpdump(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed: skipping the cross-check against libpcap (apt-get install tcpdump to run it)")
	}
	dir := t.TempDir()
	ether := withTimes(corpus(t))
	vlans := withTimes(vlanCorpus(t))

	common := []string{
		"tcp", "udp", "icmp", "icmp6", "ip", "ip6", "sctp",
		"host 10.0.0.1", "src host 10.0.0.1", "dst host 10.0.0.2", "src and dst host 10.0.0.1",
		"host 2001:db8::2", "net 10.0.0.0/24", "net 10", "dst net 192.168.0.0 mask 255.255.0.0",
		"net 2001:db8::/32", "src net 172.16.0.0/12", "ip6 net fe80::/10",
		"port 80", "tcp port 80", "src port 80", "dst port 80", "port 53", "udp dst port 5353",
		"portrange 440-450", "portrange 8000-9000", "tcp portrange 1-1024", "tcp port 80 or 443",
		"host 10.0.0.1 or 10.0.0.3", "less 100", "greater 1000",
		"not tcp", "!tcp && !udp", "tcp or udp and host 10.0.0.1", "tcp or (udp and host 10.0.0.1)",
		"host 10.0.0.1 and tcp or udp", "not host 10.0.0.1 and tcp", "not (host 10.0.0.1 and tcp)",
		"not host 10.0.0.1 and 10.0.0.6",
	}
	files := []struct {
		name  string
		lt    layers.LinkType
		ps    []capture.Packet
		exprs []string
	}{
		{"ethernet", layers.LinkTypeEthernet, ether, append(common, "arp", "arp host 10.0.0.1", "ip host 10.0.0.1")},
		{"vlan", layers.LinkTypeEthernet, vlans, []string{
			"vlan", "vlan 100", "vlan 200", "vlan 100 and vlan 200", "vlan and vlan", "not vlan",
			"vlan and vlan and host 10.0.0.1", "vlan 200 and host 10.0.0.3", "vlan 100 and tcp port 80", "vlan and udp",
			"vlan 100 or vlan 200", "vlan 200 or vlan 100", "not vlan 100 and vlan 200", "vlan 100 or udp",
		}},
	}
	for _, lt := range []layers.LinkType{layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2, layers.LinkTypeNull, layers.LinkTypeRaw} {
		var ps []capture.Packet
		for _, p := range ether {
			if p.Data[12] == 0x08 && p.Data[13] == 0x06 {
				continue // ARP
			}
			ps = append(ps, relink(t, p, lt))
		}
		files = append(files, struct {
			name  string
			lt    layers.LinkType
			ps    []capture.Packet
			exprs []string
		}{lt.String(), lt, ps, []string{"tcp", "ip6", "host 10.0.0.1", "port 80", "udp port 53", "net 2001:db8::/32", "icmp or icmp6", "less 60"}})
	}

	for _, file := range files {
		in := filepath.Join(dir, file.name+".pcap")
		writePcap(t, in, file.lt, file.ps)
		for _, expr := range file.exprs {
			t.Run(file.name+"/"+expr, func(t *testing.T) {
				want := libpcapMatches(t, tcpdump, in, expr, file.ps)
				got := matching(MustCompile(expr), file.ps)
				if !slices.Equal(got, want) {
					t.Errorf("pktfilter matches %v, tcpdump %v", got, want)
				}
			})
		}
	}
}

func writePcap(t *testing.T, path string, lt layers.LinkType, ps []capture.Packet) {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(65535, lt); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		ci := gopacket.CaptureInfo{Timestamp: p.Timestamp, CaptureLength: len(p.Data), Length: p.Length}
		if err := w.WritePacket(ci, p.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// libpcapMatches returns the indices of the packets tcpdump keeps,
// identified by their timestamps.
func libpcapMatches(t *testing.T, tcpdump, in, expr string, ps []capture.Packet) []int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := in + ".out"
	cmd := exec.CommandContext(ctx, tcpdump, "-r", in, "-w", out, expr)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tcpdump %q: %v\n%s", expr, err, msg)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("reading tcpdump output: %v", err)
	}
	idx := make(map[time.Time]int, len(ps))
	for i, p := range ps {
		idx[p.Timestamp] = i
	}
	kept := []int{}
	for {
		_, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading tcpdump output: %v", err)
		}
		i, ok := idx[ci.Timestamp.UTC()]
		if !ok {
			t.Fatalf("tcpdump wrote a packet with unknown timestamp %v", ci.Timestamp)
		}
		kept = append(kept, i)
	}
	return kept
}
