package synth

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// snapLen is written in the file header; frames are never cut.
const snapLen = 262144

// maxUDPPayload is the largest payload a single UDP datagram can carry.
const maxUDPPayload = 65507

// WriterOption configures NewWriter.
type WriterOption func(*writerConfig)

type writerConfig struct {
	micro bool
}

// Microseconds makes the Writer use the classic microsecond pcap format,
// for tools that predate nanosecond captures. The default is nanoseconds.
func Microseconds() WriterOption { return func(c *writerConfig) { c.micro = true } }

// Writer writes a classic pcap with LINKTYPE_ETHERNET frames. It is safe for
// concurrent use, so several conversations can be recorded at once; frames
// are written in call order and timestamps never go backwards (an earlier
// time than the previous frame's is raised to it), as in a real capture.
type Writer struct {
	mu      sync.Mutex
	bw      *bufio.Writer
	pw      *pcapgo.Writer
	buf     gopacket.SerializeBuffer
	last    time.Time
	packets int
	ipID    uint16
	err     error // sticky: a failed write leaves the file unusable

	eth layers.Ethernet
	ip4 layers.IPv4
	ip6 layers.IPv6
	tcp layers.TCP
	udp layers.UDP
}

// NewWriter writes the pcap file header to w and returns a Writer. Call
// Flush when done: frames are buffered.
func NewWriter(w io.Writer, opts ...WriterOption) (*Writer, error) {
	var cfg writerConfig
	for _, o := range opts {
		o(&cfg)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	pw := pcapgo.NewWriterNanos(bw)
	if cfg.micro {
		pw = pcapgo.NewWriter(bw)
	}
	if err := pw.WriteFileHeader(snapLen, layers.LinkTypeEthernet); err != nil {
		return nil, fmt.Errorf("synth: writing pcap header: %w", err)
	}
	return &Writer{bw: bw, pw: pw, buf: gopacket.NewSerializeBuffer()}, nil
}

// Packets returns the number of frames written so far.
func (w *Writer) Packets() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.packets
}

// Flush writes buffered frames to the underlying writer.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("synth: %w", err)
	}
	return w.err
}

// UDP writes one UDP datagram as a single frame.
func (w *Writer) UDP(src, dst netip.AddrPort, p []byte, at time.Time) error {
	if len(p) > maxUDPPayload {
		return fmt.Errorf("synth: UDP payload of %d bytes exceeds %d", len(p), maxUDPPayload)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.udp = layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	return w.frame(src.Addr(), dst.Addr(), &w.udp, p, at)
}

// segment is one TCP segment to write; the caller holds w.mu.
type segment struct {
	src, dst netip.AddrPort
	flags    uint8
	seq, ack uint32
	mss      bool // add an MSS option (SYN and SYN-ACK)
}

const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagPSH = 0x08
	flagACK = 0x10
)

func (w *Writer) tcpSegment(s segment, payload []byte, at time.Time) error {
	w.tcp = layers.TCP{
		SrcPort: layers.TCPPort(s.src.Port()), DstPort: layers.TCPPort(s.dst.Port()),
		Seq: s.seq, Ack: s.ack, Window: 65535,
		FIN: s.flags&flagFIN != 0, SYN: s.flags&flagSYN != 0, PSH: s.flags&flagPSH != 0, ACK: s.flags&flagACK != 0,
	}
	if s.mss {
		w.tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{mss >> 8, mss & 0xff}}}
	}
	return w.frame(s.src.Addr(), s.dst.Addr(), &w.tcp, payload, at)
}

// transportLayer is what layers.TCP and layers.UDP share for serializing
// with a pseudo-header checksum.
type transportLayer interface {
	gopacket.SerializableLayer
	SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
}

// frame serializes Ethernet/IP/transport/payload and writes it; the caller
// holds w.mu.
func (w *Writer) frame(src, dst netip.Addr, tl transportLayer, payload []byte, at time.Time) error {
	if w.err != nil {
		return w.err
	}
	if src.Is4() != dst.Is4() {
		return fmt.Errorf("synth: %v and %v are of different IP versions", src, dst)
	}
	w.eth = layers.Ethernet{SrcMAC: mac(src), DstMAC: mac(dst)}
	var ip gopacket.NetworkLayer
	proto := layers.IPProtocolTCP
	if _, ok := tl.(*layers.UDP); ok {
		proto = layers.IPProtocolUDP
	}
	if src.Is4() {
		w.ipID++
		w.eth.EthernetType = layers.EthernetTypeIPv4
		w.ip4 = layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: w.ipID, Flags: layers.IPv4DontFragment,
			Protocol: proto, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
		ip = &w.ip4
	} else {
		w.eth.EthernetType = layers.EthernetTypeIPv6
		w.ip6 = layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto,
			SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
		ip = &w.ip6
	}
	if err := tl.SetNetworkLayerForChecksum(ip); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(w.buf, opts, &w.eth, ip.(gopacket.SerializableLayer), tl, gopacket.Payload(payload)); err != nil {
		return fmt.Errorf("synth: serializing frame: %w", err)
	}
	if at.Before(w.last) {
		at = w.last
	}
	w.last = at
	data := w.buf.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(data), Length: len(data)}
	if err := w.pw.WritePacket(ci, data); err != nil {
		w.err = fmt.Errorf("synth: writing frame: %w", err)
		return w.err
	}
	w.packets++
	return nil
}

// Frame writes a captured Ethernet frame as it is, at time at (raised to
// the previous frame's time if earlier, as for built frames).
func (w *Writer) Frame(data []byte, at time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if at.Before(w.last) {
		at = w.last
	}
	w.last = at
	ci := gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(data), Length: len(data)}
	if err := w.pw.WritePacket(ci, data); err != nil {
		w.err = fmt.Errorf("synth: writing frame: %w", err)
		return w.err
	}
	w.packets++
	return nil
}

// mac makes a locally administered MAC address from an IP address, so each
// host keeps one address throughout a capture.
func mac(a netip.Addr) net.HardwareAddr {
	b := a.As16()
	return net.HardwareAddr{0x02, 0x00, b[12], b[13], b[14], b[15]}
}

var errClosed = errors.New("synth: conversation already closed")
