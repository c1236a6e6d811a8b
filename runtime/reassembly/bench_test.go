package reassembly

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

const benchMSS = 1460

func benchConn(b *testing.B) (*Assembler, *packet.Segment) {
	a := New(Config{}, nopHandler{})
	f := &feeder{a: a, now: t0}
	f.handshake()
	return a, &packet.Segment{
		Timestamp: f.now, Transport: packet.TCP, Src: cli, Dst: srv,
		Flags: fPA, Ack: 5001, Payload: make([]byte, benchMSS),
	}
}

// BenchmarkInOrder measures the common path: every segment is the next one.
func BenchmarkInOrder(b *testing.B) {
	a, s := benchConn(b)
	b.SetBytes(benchMSS)
	b.ReportAllocs()
	seq := uint32(1001)
	for b.Loop() {
		s.Seq = seq
		a.Add(s)
		seq += benchMSS
	}
	if a.Stats().Gaps != 0 {
		b.Fatal("gaps on the in-order path")
	}
}

// BenchmarkOutOfOrder swaps every pair of segments, so half of them are
// buffered and delivered when their predecessor arrives.
func BenchmarkOutOfOrder(b *testing.B) {
	a, s := benchConn(b)
	b.SetBytes(benchMSS)
	b.ReportAllocs()
	base := uint32(1001)
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			s.Seq = base + benchMSS
		} else {
			s.Seq = base
			base += 2 * benchMSS
		}
		a.Add(s)
		i++
	}
	if a.Stats().Gaps != 0 {
		b.Fatal("gaps")
	}
}
