package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	bpftls "github.com/kubeshark-wasm/kubeshark/bpf/tls"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
)

// tlsSource is the TLS plaintext hooks (OpenSSL and Go crypto/tls
// uprobes) feeding the packet source's pipeline, so that the encrypted
// packets of a connection whose plaintext is captured make no second
// record.
type tlsSource struct {
	tr *bpftls.Tracer
	p  *pipeline.Pipeline
	// keep is tap's --filter, applied to each chunk as to a packet of
	// its connection; nil keeps everything.
	keep func(capture.Packet) bool

	mu    sync.Mutex
	stats pipeline.Stats
}

// startTLS hooks TLS libraries and binaries for p. ctx must outlive the
// first signal: the tracer closes itself when ctx ends, before the drain.
func startTLS(ctx context.Context, g *globals, p *pipeline.Pipeline, keep func(capture.Packet) bool) (*tlsSource, error) {
	tr, err := bpftls.Start(ctx, bpftls.Config{Logger: g.logger()})
	if err != nil {
		return nil, err
	}
	return &tlsSource{tr: tr, p: p, keep: keep}, nil
}

// Attached names what is hooked by kind, e.g. "TLS plaintext: 2 libssl,
// 1 Go binary"; the paths are in the summary.
func (s *tlsSource) Attached() []string {
	st := s.tr.Stats()
	return []string{"TLS plaintext: " + hookedCounts(st)}
}

func hookedCounts(st bpftls.Stats) string {
	plural := func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	return plural(len(st.Libraries), "libssl", "libssl") + ", " + plural(len(st.Binaries), "Go binary", "Go binaries")
}

// Stop detaches the hooks and closes the tracer's events, which ends Run
// once the pipeline has stored what it holds.
func (s *tlsSource) Stop() { s.tr.Close() }

func (s *tlsSource) Close() error { return s.tr.Close() }

func (s *tlsSource) Run(ctx context.Context) error {
	in := bpftls.Plaintext(ctx, s.tr.Events())
	if s.keep != nil {
		in = filterPlaintext(in, s.keep)
	}
	st, err := s.p.RunPlaintext(ctx, in)
	s.mu.Lock()
	s.stats = st
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("TLS plaintext: %w", err)
	}
	return nil
}

func (s *tlsSource) pipelineStats() pipeline.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *tlsSource) Status() string {
	st := s.tr.Stats()
	return fmt.Sprintf("TLS: %d processes hooked, %d lost", st.Processes, st.Lost)
}

func (s *tlsSource) Summary(w io.Writer) {
	st := s.tr.Stats()
	ps := s.pipelineStats()
	fmt.Fprintf(w, "tap: TLS plaintext of %s (%d processes at the end)\n", hookedCounts(st), st.Processes)
	for _, l := range st.Libraries {
		fmt.Fprintf(w, "  hooked:   %s\n", l)
	}
	for _, b := range st.Binaries {
		fmt.Fprintf(w, "  hooked:   %s\n", b)
	}
	fmt.Fprintf(w, "  captured: %d calls, %s of plaintext; %d connections, %d records",
		st.Events, humanBytes(int64(st.Bytes)), ps.TCPStreams, ps.Records)
	if len(ps.ByProtocol) > 0 {
		var parts []string
		for _, p := range slices.Sorted(maps.Keys(ps.ByProtocol)) {
			parts = append(parts, fmt.Sprintf("%s %d", p, ps.ByProtocol[p]))
		}
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  loss:     %d plaintext events lost in the kernel (ring buffer full), %s beyond the 64 KiB a call keeps, %d calls with no socket found\n",
		st.Lost, humanBytes(int64(st.Truncated)), st.NoSocket)
	if ps.DissectorErrors > 0 {
		fmt.Fprintf(w, "  dissector errors: %d\n", ps.DissectorErrors)
		printDissectorErrors(w, "    ", ps.ErrorsByDissector)
	}
	for _, e := range st.Errors {
		fmt.Fprintf(w, "  %s\n", e)
	}
}

// tlsStatus is the TLS part of the MCP capture status.
func (s *tlsSource) tlsStatus() *mcp.TLSCaptureStatus {
	st := s.tr.Stats()
	return &mcp.TLSCaptureStatus{Libraries: st.Libraries, Binaries: st.Binaries, Processes: st.Processes,
		Events: st.Events, Bytes: st.Bytes, Lost: st.Lost, Truncated: st.Truncated, NoSocket: st.NoSocket, Errors: st.Errors}
}

// tapCapture is tap's mcp.LiveCapture: the packet source's status with
// the TLS source's beside it.
type tapCapture struct {
	pkt *packetSource
	tls *tlsSource // nil with --tls=false or when TLS could not start
}

func (c *tapCapture) CaptureStatus() mcp.CaptureStatus {
	st := c.pkt.CaptureStatus()
	if c.tls != nil {
		st.TLS = c.tls.tlsStatus()
	}
	return st
}

// filterPlaintext passes the chunks whose connection and direction match
// keep, a packet filter: each is shown to it as an IP packet from its
// sender to its receiver with the chunk as TCP payload, so that
// `host`, `port`, `src`/`dst` and `tcp` mean what they mean for packets.
// Closes always pass; a close of a connection never opened is ignored.
func filterPlaintext(in <-chan pipeline.Plaintext, keep func(capture.Packet) bool) <-chan pipeline.Plaintext {
	out := make(chan pipeline.Plaintext, cap(in))
	go func() {
		defer close(out)
		buf := gopacket.NewSerializeBuffer()
		for pt := range in {
			if pt.Closed || keep(plaintextPacket(buf, pt)) {
				out <- pt
			}
		}
	}()
	return out
}

// plaintextPacket is a header-only IP packet standing for pt.
func plaintextPacket(buf gopacket.SerializeBuffer, pt pipeline.Plaintext) capture.Packet {
	src, dst := pt.Local, pt.Remote
	if !pt.Sent {
		src, dst = dst, src
	}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), PSH: true, ACK: true, Window: 1}
	var ip gopacket.SerializableLayer
	lt, hdr := layers.LinkTypeIPv4, 40
	if s, d := src.Addr().Unmap(), dst.Addr().Unmap(); s.Is4() && d.Is4() {
		v4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: s.AsSlice(), DstIP: d.AsSlice()}
		tcp.SetNetworkLayerForChecksum(v4)
		ip = v4
	} else {
		v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		tcp.SetNetworkLayerForChecksum(v6)
		ip, lt, hdr = v6, layers.LinkTypeIPv6, 60
	}
	buf.Clear()
	gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ip, tcp)
	data := buf.Bytes()
	return capture.Packet{Timestamp: pt.Time, Data: data, LinkType: lt, CaptureLength: len(data), Length: hdr + len(pt.Data)}
}
