package flow

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.1.1:80")
	t0  = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
)

const ms1 = time.Millisecond

// Flag shorthands.
const (
	fS  = packet.FlagSYN
	fSA = packet.FlagSYN | packet.FlagACK
	fA  = packet.FlagACK
	fPA = packet.FlagPSH | packet.FlagACK
	fFA = packet.FlagFIN | packet.FlagACK
	fR  = packet.FlagRST
	fRA = packet.FlagRST | packet.FlagACK
)

// seg is one crafted segment. Zero values give a 65535 window, no window
// scale option and no payload.
type seg struct {
	at       time.Duration // capture time after t0
	b        bool          // sent by B (the server) instead of A
	flags    uint8
	seq, ack uint32
	n        int     // payload bytes
	win      *uint16 // nil: 65535
	ws       *uint8  // window scale option (SYNs)
}

func w(v uint16) *uint16 { return &v }
func ws(v uint8) *uint8  { return &v }

// headerLen is Ethernet + IPv4 + TCP without options, as the pcap writer
// below frames segments.
const headerLen = 14 + 20 + 20

func (s seg) segment(transport packet.Transport) (sdk.Direction, *packet.Segment) {
	d, src, dst := sdk.DirA, cli, srv
	if s.b {
		d, src, dst = sdk.DirB, srv, cli
	}
	p := &packet.Segment{
		Timestamp: t0.Add(s.at), Transport: transport, Src: src, Dst: dst,
		Flags: s.flags, Seq: s.seq, Ack: s.ack, Window: 65535,
		Payload: make([]byte, s.n), WireLen: headerLen + s.n,
	}
	if transport == packet.UDP {
		p.WireLen = 14 + 20 + 8 + s.n
	}
	if s.win != nil {
		p.Window = *s.win
	}
	if s.ws != nil {
		p.WindowScale, p.HasWindowScale = *s.ws, true
		p.WireLen += 4 // NOP + the 3-byte option, as written below
	}
	// Ethernet pads short frames to its 60-byte minimum.
	p.WireLen = max(p.WireLen, 60)
	return d, p
}

// track feeds segs to a new Tracker.
func track(transport packet.Transport, segs []seg) *Tracker {
	t := New(transport)
	for _, s := range segs {
		t.Observe(s.segment(transport))
	}
	return t
}

// pcap writes conversations as one Ethernet capture that tshark reads as
// the same segments: conversation i comes from client port 40000+i and is
// shifted i minutes later, so that they stay apart.
func pcap(t *testing.T, convs [][]seg) []byte {
	t.Helper()
	var out bytes.Buffer
	pw := pcapgo.NewWriterNanos(&out)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	for i, segs := range convs {
		client := netip.AddrPortFrom(cli.Addr(), cli.Port()+uint16(i))
		for _, s := range segs {
			_, p := s.segment(packet.TCP)
			if p.Src == cli {
				p.Src = client
			} else {
				p.Dst = client
			}
			p.Timestamp = p.Timestamp.Add(time.Duration(i) * time.Minute)
			writeFrame(t, pw, buf, p)
		}
	}
	return out.Bytes()
}

func writeFrame(t *testing.T, pw *pcapgo.Writer, buf gopacket.SerializeBuffer, p *packet.Segment) {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: net.IP(p.Src.Addr().AsSlice()), DstIP: net.IP(p.Dst.Addr().AsSlice())}
	f := p.Flags
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(p.Src.Port()), DstPort: layers.TCPPort(p.Dst.Port()),
		Seq: p.Seq, Ack: p.Ack, Window: p.Window,
		FIN: f&packet.FlagFIN != 0, SYN: f&packet.FlagSYN != 0, RST: f&packet.FlagRST != 0,
		PSH: f&packet.FlagPSH != 0, ACK: f&packet.FlagACK != 0,
	}
	if p.HasWindowScale {
		tcp.Options = []layers.TCPOption{
			{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{p.WindowScale}},
		}
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, eth, ip, tcp, gopacket.Payload(p.Payload)); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if len(data) != p.WireLen {
		t.Fatalf("frame of %d bytes, segment says %d", len(data), p.WireLen)
	}
	ci := gopacket.CaptureInfo{Timestamp: p.Timestamp, CaptureLength: len(data), Length: len(data)}
	if err := pw.WritePacket(ci, data); err != nil {
		t.Fatal(err)
	}
}
