package decode

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

var fuzzLinkTypes = []layers.LinkType{
	layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
	layers.LinkTypeRaw, capture.LinkTypeRawDLT12, capture.LinkTypeRawDLT14,
	layers.LinkTypeIPv4, layers.LinkTypeIPv6, layers.LinkTypeNull, layers.LinkTypeLoop,
}

// FuzzDecode feeds arbitrary bytes through every link type. Each input is
// up to three frames decoded in order by a fresh decoder, so fragment
// reassembly state is exercised while every input stays reproducible on its
// own (a decoder shared across inputs makes coverage depend on history,
// which stalls the fuzzer's minimizer).
func FuzzDecode(f *testing.F) {
	body := []byte("GET / HTTP/1.1\r\n\r\n")
	v4 := ipTCP(f, cli4, srv4, tcpSpec{flags: packet.FlagACK}, body)
	v6 := ipv6WithExt(f, cli6, srv6, tcpSpec{flags: packet.FlagACK}, body)
	singles := [][]byte{
		ethernet(f, v4, nil, false), ethernet(f, v6, []uint16{1, 2}, true),
		sll(v4), sll2(v6), v4, v6, null(v6, 30, binary.LittleEndian),
		pppoeSession(v4, 10, 20), pppoeSession(v6),
		ethernetType(pppoeHeader(0x09, 0, []byte{1, 1, 0, 0}), layers.EthernetTypePPPoEDiscovery),
	}
	for _, s := range singles {
		for i := range fuzzLinkTypes {
			f.Add(uint8(i), uint16(0), s, []byte(nil), []byte(nil))
		}
	}
	f4 := fragments4(f, ipUDP(f, cli4, srv4, make([]byte, 2500)), 1000)
	f6 := fragments6(f, ipTCP(f, cli6, srv6, tcpSpec{}, make([]byte, 2500)), 1000, 5)
	raw := uint8(3) // index of LinkTypeRaw
	f.Add(raw, uint16(0), f4[0], f4[1], f4[2])
	f.Add(raw, uint16(0), f4[2], f4[0], f4[1])
	f.Add(raw, uint16(1), f6[1], f6[2], f6[0])
	f.Add(raw, uint16(40), f6[0], f6[1], f6[2])
	f.Fuzz(func(t *testing.T, lt uint8, gap uint16, a, b, c []byte) {
		d := New(Options{MaxFragmentMemory: 8 << 10})
		var seg packet.Segment
		for i, data := range [][]byte{a, b, c} {
			p := capture.Packet{
				// gap spreads the frames in capture time to reach timeouts.
				Timestamp: ts0.Add(time.Duration(i) * time.Duration(gap) * time.Second),
				Data:      data, LinkType: fuzzLinkTypes[int(lt)%len(fuzzLinkTypes)],
				CaptureLength: len(data), Length: len(data),
			}
			ok, err := d.Decode(p, &seg)
			if ok && err != nil {
				t.Fatalf("ok with error %v", err)
			}
			if ok && len(seg.Payload) > 65535 {
				t.Fatalf("payload of %d bytes", len(seg.Payload))
			}
			if d.v4.mem > 8<<10 || d.v6.mem > 8<<10 {
				t.Fatalf("fragment memory %d/%d over the bound", d.v4.mem, d.v6.mem)
			}
		}
	})
}
