package decode

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

// BenchmarkDecode measures the fast path on a mix of typical frames and
// reports packets/s; it must not allocate.
func BenchmarkDecode(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1400)
	frames := []capture.Packet{
		pkt(layers.LinkTypeEthernet, ethernet(b, ipTCP(b, cli4, srv4, tcpSpec{flags: packet.FlagACK | packet.FlagPSH}, body), nil, false)),
		pkt(layers.LinkTypeEthernet, pad(ethernet(b, ipTCP(b, srv4, cli4, tcpSpec{flags: packet.FlagACK}, nil), nil, false))),
		pkt(layers.LinkTypeEthernet, ethernet(b, ipTCP(b, cli6, srv6, tcpSpec{flags: packet.FlagACK}, body[:200]), []uint16{7}, false)),
		pkt(layers.LinkTypeLinuxSLL, sll(ipUDP(b, cli4, srv4, body[:80]))),
	}
	d := New(Options{})
	var seg packet.Segment
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ok, err := d.Decode(frames[i%len(frames)], &seg); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// BenchmarkDecodeCorpus decodes the real captures of the shared corpus,
// read into memory first so that only decoding is measured.
func BenchmarkDecodeCorpus(b *testing.B) {
	var pkts []capture.Packet
	for _, f := range corpusFiles(b) {
		src, err := capture.OpenFile(f)
		if err != nil {
			b.Fatal(err)
		}
		for {
			p, err := src.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			p.Data = append([]byte(nil), p.Data...)
			pkts = append(pkts, p)
		}
		src.Close()
	}
	var seg packet.Segment
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		d := New(Options{})
		for _, p := range pkts {
			d.Decode(p, &seg)
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "packets/s")
}
