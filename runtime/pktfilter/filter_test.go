package pktfilter

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

// matching returns the indices of the packets f matches.
func matching(f *Filter, ps []capture.Packet) []int {
	out := []int{}
	for i, p := range ps {
		if f.Match(p) {
			out = append(out, i)
		}
	}
	return out
}

func TestMatch(t *testing.T) {
	ps := corpus(t)
	all := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	tests := []struct {
		expr string
		want []int
	}{
		{"", all},
		{"tcp", []int{0, 1, 4, 8, 10}},
		{"udp", []int{2, 5, 11}},
		{"sctp", []int{9}},
		{"icmp", []int{3}},
		{"icmp6", []int{6}},
		{"ip", []int{0, 1, 2, 3, 8, 9, 10, 11}},
		{"ip6", []int{4, 5, 6}},
		{"arp", []int{7}},

		{"host 10.0.0.1", []int{0, 1, 3, 7, 8, 11}},
		{"ip host 10.0.0.1", []int{0, 1, 3, 8, 11}},
		{"arp host 10.0.0.1", []int{7}},
		{"src host 10.0.0.1", []int{0, 3, 7, 8, 11}},
		{"dst host 10.0.0.1", []int{1}},
		{"src and dst host 10.0.0.1", []int{}},
		{"src or dst host 10.0.0.2", []int{0, 1, 8, 11}},
		{"host 2001:db8::2", []int{4, 6}},
		{"src host 2001:db8::1", []int{4, 6}},
		{"ip6 dst host ff02::1:2", []int{5}},
		{"10.0.0.3", []int{2}},

		{"net 10.0.0.0/24", []int{0, 1, 2, 3, 7, 8, 9, 11}},
		{"net 10", []int{0, 1, 2, 3, 7, 8, 9, 10, 11}},
		{"dst net 192.168.0.0 mask 255.255.0.0", []int{2}},
		{"net 2001:db8::/32", []int{4, 6}},
		{"src net 172.16.0.0/12", []int{10}},
		{"ip6 net fe80::/10", []int{5}},

		{"port 80", []int{0, 1, 9}},
		{"tcp port 80", []int{0, 1}},
		{"sctp port 80", []int{9}},
		{"src port 80", []int{1, 9}},
		{"dst port 80", []int{0}},
		{"port 53", []int{2, 11}}, // 11 is a first fragment: its header is there
		{"udp dst port 5353", []int{11}},
		{"portrange 440-450", []int{4}},
		{"portrange 8000-9000", []int{10}},
		{"tcp portrange 1-1024", []int{0, 1, 4}}, // 8 is a later fragment: no ports
		{"tcp port 80 or 443", []int{0, 1, 4}},
		{"host 10.0.0.1 or 10.0.0.3", []int{0, 1, 2, 3, 7, 8, 11}},

		{"less 100", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11}},
		{"greater 1000", []int{10}},

		{"not tcp", []int{2, 3, 5, 6, 7, 9, 11}},
		{"!tcp && !udp", []int{3, 6, 7, 9}},
		{"ip and not tcp and not udp", []int{3, 9}},
		// and/or have equal precedence, left to right: (tcp or udp) and host.
		{"tcp or udp and host 10.0.0.1", []int{0, 1, 8, 11}},
		{"tcp or (udp and host 10.0.0.1)", []int{0, 1, 4, 8, 10, 11}},
		{"host 10.0.0.1 and tcp or udp", []int{0, 1, 2, 5, 8, 11}},
		// not binds tighter than and.
		{"not host 10.0.0.1 and tcp", []int{4, 10}},
		{"not (host 10.0.0.1 and tcp)", []int{2, 3, 4, 5, 6, 7, 9, 10, 11}},
		// The repeated value is not negated (pcap-filter's own example).
		{"not host 10.0.0.1 and 10.0.0.6", []int{9}},
		{"not not arp", []int{7}},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			f, err := Compile(tc.expr)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if got := matching(f, ps); !slices.Equal(got, tc.want) {
				t.Errorf("Compile(%q) (%s) matches %v, want %v", tc.expr, f, got, tc.want)
			}
		})
	}
}

func TestMatchVLAN(t *testing.T) {
	ps := vlanCorpus(t)
	tests := []struct {
		expr string
		want []int
	}{
		{"vlan", []int{0, 1, 2}},
		{"vlan 100", []int{0, 2}},
		{"vlan 200", []int{1}},
		// The second vlan primitive looks at the second tag.
		{"vlan 100 and vlan 200", []int{2}},
		{"vlan and vlan", []int{2}},
		// As in libpcap, the second vlan tests the second tag even across
		// or: frame 1 (single tag 200) does not match.
		{"vlan 100 or vlan 200", []int{0, 2}},
		{"not vlan", []int{3}},
		// libpcap would miss 2 here: it reads IP right after the first tag.
		{"vlan and host 10.0.0.1", []int{0, 2}},
		{"vlan 100 and tcp port 80", []int{0}},
		// Tags are decoded through even without vlan (unlike libpcap).
		{"host 10.0.0.1", []int{0, 2, 3}},
		{"udp", []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			if got := matching(MustCompile(tc.expr), ps); !slices.Equal(got, tc.want) {
				t.Errorf("matches %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLinkTypes checks that every supported link type yields the same
// verdicts as Ethernet for the IP packets of the corpus.
func TestLinkTypes(t *testing.T) {
	ps := corpus(t)
	exprs := []string{"tcp", "udp", "icmp", "icmp6", "ip", "ip6", "host 10.0.0.1", "src net 2001:db8::/32", "port 80", "dst port 547", "portrange 8000-9000", "not ip"}
	lts := []layers.LinkType{layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2, layers.LinkTypeNull, layers.LinkTypeRaw}
	for _, lt := range lts {
		for _, expr := range exprs {
			f := MustCompile(expr)
			matched := 0
			for i, p := range ps {
				if p.Data[12] == 0x08 && p.Data[13] == 0x06 {
					continue // ARP has no place on these links here
				}
				want := f.Match(p)
				if want {
					matched++
				}
				if got := f.Match(relink(t, p, lt)); got != want {
					t.Errorf("%v: %q on packet %d = %v, Ethernet says %v", lt, expr, i, got, want)
				}
			}
			if matched == 0 && expr != "not ip" {
				t.Errorf("%q matches no packet: the comparison proves nothing", expr)
			}
		}
	}
}

func TestMatchOddFrames(t *testing.T) {
	full := corpus(t)[0] // tcp 10.0.0.1:1234 -> 10.0.0.2:80
	cut := func(n int) capture.Packet {
		p := full
		p.Data = p.Data[:n]
		p.CaptureLength = n
		return p
	}
	tests := []struct {
		name string
		p    capture.Packet
		expr string
		want bool
	}{
		{"snapped after ports", cut(14 + 20 + 4), "tcp dst port 80", true},
		{"snapped inside ports", cut(14 + 20 + 2), "port 80", false},
		{"snapped inside ports, proto still known", cut(14 + 20 + 2), "tcp and host 10.0.0.2", true},
		{"snapped inside IP header", cut(14 + 10), "ip", false},
		{"wire length beyond capture", func() capture.Packet { p := cut(40); p.Length = 1500; return p }(), "greater 1000", true},
		{"unknown link type", capture.Packet{LinkType: layers.LinkTypeIEEE802_11, Data: full.Data}, "tcp", false},
		{"unknown link type, length only", capture.Packet{LinkType: layers.LinkTypeIEEE802_11, Data: full.Data, Length: 54}, "less 60", true},
		{"empty raw packet", capture.Packet{LinkType: layers.LinkTypeRaw}, "ip or ip6", false},
		{"empty raw packet, not", capture.Packet{LinkType: layers.LinkTypeRaw}, "not ip", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MustCompile(tc.expr).Match(tc.p); got != tc.want {
				t.Errorf("%q = %v, want %v", tc.expr, got, tc.want)
			}
		})
	}
}

func TestIPv6ExtensionHeaders(t *testing.T) {
	// Destination options, then a first fragment, then UDP 53 -> 5353.
	ext := []byte{
		byte(layers.IPProtocolIPv6Fragment), 0, 1, 4, 0, 0, 0, 0, // dest opts: PadN
		byte(layers.IPProtocolUDP), 0, 0, 1, 0, 0, 0, 7, // fragment: offset 0, more
		0, 53, 0x14, 0xe9, 0, 8, 0, 0, // UDP header
	}
	later := []byte{byte(layers.IPProtocolUDP), 0, 0, 0x10, 0, 0, 0, 7, 1, 2, 3, 4} // offset 2: no UDP header
	mk := func(b []byte) capture.Packet {
		return ethPacket(t, ether(layers.EthernetTypeIPv6), ip6("2001:db8::1", "2001:db8::2", layers.IPProtocolIPv6Destination), payload(0), rawPayload(b))
	}
	first, rest := mk(ext), mk(later)
	tests := []struct {
		expr        string
		first, rest bool
	}{
		{"udp", true, true},
		{"udp port 53", true, false},
		{"dst port 5353", true, false},
		{"tcp", false, false},
	}
	for _, tc := range tests {
		f := MustCompile(tc.expr)
		if got := f.Match(first); got != tc.first {
			t.Errorf("%q on first fragment = %v, want %v", tc.expr, got, tc.first)
		}
		if got := f.Match(rest); got != tc.rest {
			t.Errorf("%q on later fragment = %v, want %v", tc.expr, got, tc.rest)
		}
	}
}

func TestConcurrentMatch(t *testing.T) {
	ps := corpus(t)
	f := MustCompile("tcp port 80 or udp")
	want := matching(f, ps)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if got := matching(f, ps); !slices.Equal(got, want) {
					t.Errorf("concurrent matches %v, want %v", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestString(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", ""},
		{"tcp port 80 or 443 and host 10.0.0.1", "(tcp port 80 or tcp port 443) and host 10.0.0.1"},
		{"tcp and udp and ip", "tcp and udp and ip"},
		{"tcp and (udp and ip)", "tcp and (udp and ip)"},
		{"tcp || udp && arp", "(tcp or udp) and arp"},
		{"!tcp", "not tcp"},
		{"not (tcp or udp)", "not (tcp or udp)"},
		{"src or dst port 80", "port 80"},
		{"src and dst net 10.0.0.0/8", "src and dst net 10.0.0.0/8"},
		{"net 10.1", "net 10.1.0.0/16"},
		{"net 10.0.0.0 mask 255.0.0.0", "net 10.0.0.0/8"},
		{"net 10.0.0.7", "net 10.0.0.7/32"},
		{"portrange 90-80", "portrange 80-90"},
		{"udp src portrange 1-1024", "udp src portrange 1-1024"},
		{"10.0.0.1", "host 10.0.0.1"},
		{"2001:db8::/32", "net 2001:db8::/32"},
		{"src 10.0.0.1", "src host 10.0.0.1"},
		{"host ::1 or ::2", "host ::1 or host ::2"},
		{"vlan 100 && vlan", "vlan 100 and vlan"},
		{"less 64 or greater 1500", "less 64 or greater 1500"},
		{"ip6 dst host 2001:DB8::1", "ip6 dst host 2001:db8::1"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			f, err := Compile(tc.expr)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if got := f.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			// The printed form means the same thing.
			g, err := Compile(f.String())
			if err != nil {
				t.Fatalf("Compile(String()): %v", err)
			}
			if g.String() != f.String() {
				t.Errorf("reparsed String() = %q, want %q", g.String(), f.String())
			}
			if f.Expr() != tc.expr {
				t.Errorf("Expr() = %q, want %q", f.Expr(), tc.expr)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"host 10.0.0.1 and port http", `pktfilter: at 24: expected a port number, got "http"`},
		{"port 99999", `pktfilter: at 6: port number 99999 out of range (0-65535)`},
		{"foo", `pktfilter: at 1: unknown primitive "foo" (supported: ` + primitiveList + `)`},
		{"tcp and ether host 10.0.0.1", `pktfilter: at 9: unknown primitive "ether" (supported: ` + primitiveList + `)`},
		{"HOST 10.0.0.1", `pktfilter: at 1: unknown primitive "HOST" (supported: ` + primitiveList + `)`},
		{"host", `pktfilter: at 5: expected an IP address, got end of expression`},
		{"host and tcp", `pktfilter: at 6: expected an IP address, got "and"`},
		{"host example.com", `pktfilter: at 6: expected an IP address, got "example.com" (host names are not resolved)`},
		{"host 10.0.0.0/8", `pktfilter: at 6: expected an IP address, got "10.0.0.0/8" (use net for a network)`},
		{"host fe80::1%eth0", `pktfilter: at 6: expected an IP address, got "fe80::1%eth0" (host names are not resolved)`},
		{"host 10.0.0.1 or foo", `pktfilter: at 18: expected an IP address, got "foo" (host names are not resolved) (a bare value repeats the previous "host")`},
		{"tcp host 1.2.3.4", `pktfilter: at 1: "tcp" cannot qualify host (only ip, ip6 or arp)`},
		{"ip port 80", `pktfilter: at 1: "ip" cannot qualify port (only tcp, udp or sctp)`},
		{"ip6 host 1.2.3.4", `pktfilter: at 10: IPv4 address "1.2.3.4" qualified by ip6`},
		{"arp net 2001:db8::/32", `pktfilter: at 9: IPv6 address "2001:db8::/32" qualified by arp`},
		{"net 10.0.0.1/8", `pktfilter: at 5: non-network bits set in "10.0.0.1/8"`},
		{"net 10.0.0.0 mask 255.0.255.0", `pktfilter: at 19: netmask "255.0.255.0" is not contiguous`},
		{"net 10.0.0.0/8 mask 255.0.0.0", `pktfilter: at 16: mask after a CIDR network`},
		{"net ten", `pktfilter: at 5: expected a network (CIDR, partial address such as 10.1, or address mask MASK), got "ten"`},
		{"tcp and", `pktfilter: at 8: expected a primitive, "not" or "(", got end of expression`},
		{"(tcp", `pktfilter: at 5: expected ")" to close "(" at 1, got end of expression`},
		{"tcp)", `pktfilter: at 4: expected and, or or end of expression, got ")"`},
		{"port 80 443", `pktfilter: at 9: expected and, or or end of expression, got "443"`},
		{"tcp & udp", `pktfilter: at 5: unexpected "&" (did you mean "&&"?)`},
		{"tcp | udp", `pktfilter: at 5: unexpected "|" (did you mean "||"?)`},
		{"portrange 80", `pktfilter: at 11: expected a port range (A-B), got "80"`},
		{"portrange 80-x", `pktfilter: at 14: expected a port range (A-B), got "x"`},
		{"src foo", `pktfilter: at 5: expected an IP address, got "foo" (host names are not resolved)`},
		{"tcp src 1.2.3.4", `pktfilter: at 1: "tcp" cannot qualify host (only ip, ip6 or arp)`},
		{"udp src tcp", `pktfilter: at 9: expected an IP address, got "tcp"`},
		{"tcp src", `pktfilter: at 8: expected an IP address, got end of expression`},
		{"vlan 5000", `pktfilter: at 6: VLAN ID 5000 out of range (0-4095)`},
		{"less", `pktfilter: at 5: expected a length after "less", got end of expression`},
		{"not", `pktfilter: at 4: expected a primitive, "not" or "(", got end of expression`},
		{")", `pktfilter: at 1: expected a primitive, "not" or "(", got ")"`},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			f, err := Compile(tc.expr)
			if err == nil {
				t.Fatalf("Compile(%q) = %s, want error %s", tc.expr, f, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %s\nwant %s", err, tc.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("error %T is not a *SyntaxError", err)
			}
		})
	}
}

func TestMustCompilePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCompile of a bad expression did not panic")
		}
	}()
	MustCompile("port http")
}
