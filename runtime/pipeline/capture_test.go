package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/decode"
	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

// filterPcap rewrites a capture keeping the packets keep accepts.
func filterPcap(t *testing.T, pcap []byte, keep func(i int, s *packet.Segment) bool) []byte {
	t.Helper()
	src, err := capture.NewSource("in.pcap", bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := pcapgo.NewWriterNanos(&out)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	dec := decode.New(decode.Options{})
	var seg packet.Segment
	for i := 0; ; i++ {
		p, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ok, _ := dec.Decode(p, &seg)
		if ok && !keep(i, &seg) {
			continue
		}
		ci := gopacket.CaptureInfo{Timestamp: p.Timestamp, CaptureLength: len(p.Data), Length: p.Length}
		if err := w.WritePacket(ci, p.Data); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

func dropHandshake(t *testing.T, pcap []byte) []byte {
	return filterPcap(t, pcap, func(_ int, s *packet.Segment) bool {
		return s.Flags&packet.FlagSYN == 0 && !(len(s.Payload) == 0 && s.Flags&packet.FlagFIN == 0 && s.Ack == 1)
	})
}

// dropFirstData removes the first segment that carries data (the first
// request), so that the capture starts with a response.
func dropFirstData(t *testing.T, pcap []byte) []byte {
	dropped := false
	return filterPcap(t, pcap, func(_ int, s *packet.Segment) bool {
		if !dropped && len(s.Payload) > 0 {
			dropped = true
			return false
		}
		return true
	})
}
