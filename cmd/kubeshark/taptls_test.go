package main

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"

	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/pktfilter"
)

// tap's --filter means for a plaintext chunk what it means for the packets
// of its connection, in the chunk's direction.
func TestPlaintextPacketFilter(t *testing.T) {
	client := netip.MustParseAddrPort("10.0.0.1:40000")
	server := netip.MustParseAddrPort("10.0.0.2:443")
	v6c := netip.MustParseAddrPort("[fd00::1]:40000")
	v6s := netip.MustParseAddrPort("[fd00::2]:443")
	// Traced in the client: it sends the request, reads the response.
	req := pipeline.Plaintext{Local: client, Remote: server, Sent: true, Data: []byte("GET / HTTP/1.1\r\n\r\n")}
	resp := pipeline.Plaintext{Local: client, Remote: server, Sent: false, Data: make([]byte, 500)}
	// Traced in the server: it reads the request.
	srvReq := pipeline.Plaintext{Local: server, Remote: client, Sent: false, Data: []byte("GET /")}
	mapped := pipeline.Plaintext{Local: netip.MustParseAddrPort("[::ffff:10.0.0.1]:40000"), Remote: netip.MustParseAddrPort("[::ffff:10.0.0.2]:443"), Sent: true}
	v6 := pipeline.Plaintext{Local: v6c, Remote: v6s, Sent: true}
	for _, tc := range []struct {
		filter string
		pt     pipeline.Plaintext
		want   bool
	}{
		{"host 10.0.0.2", req, true},
		{"host 10.0.0.3", req, false},
		{"tcp port 443", resp, true},
		{"tcp port 80", resp, false},
		{"udp", req, false},
		{"src host 10.0.0.1 and dst port 443", req, true},
		{"src host 10.0.0.1", resp, false},
		{"src host 10.0.0.1 and dst port 443", srvReq, true},
		{"src port 443", srvReq, false},
		{"greater 400", resp, true},
		{"greater 400", req, false},
		{"ip and host 10.0.0.1", mapped, true},
		{"ip6 and host fd00::2 and port 443", v6, true},
		{"ip", v6, false},
	} {
		f := pktfilter.MustCompile(tc.filter)
		if got := f.Match(plaintextPacket(gopacket.NewSerializeBuffer(), tc.pt)); got != tc.want {
			t.Errorf("%q on %v > %v sent %v: %v, want %v", tc.filter, tc.pt.Local, tc.pt.Remote, tc.pt.Sent, got, tc.want)
		}
	}
}
