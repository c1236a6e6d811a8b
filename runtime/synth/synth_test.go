package synth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/decode"
	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// flowKey is one direction of a conversation.
type flowKey struct {
	t        packet.Transport
	src, dst netip.AddrPort
}

// flow is what a read-back capture holds for one direction.
type flow struct {
	data     []byte
	segments []packet.Segment // with copies of their payloads
}

// readBack decodes a capture file with the project's own reader and
// decoder, grouping payload bytes by direction.
func readBack(t *testing.T, path string) (map[flowKey]*flow, decode.Stats) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	d := decode.New(decode.Options{})
	flows := map[flowKey]*flow{}
	var last time.Time
	for {
		p, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Timestamp.Before(last) {
			t.Fatalf("timestamps go backwards at byte %d", p.Offset)
		}
		last = p.Timestamp
		var seg packet.Segment
		ok, err := d.Decode(p, &seg)
		if err != nil || !ok {
			t.Fatalf("decode at byte %d: %v, %v", p.Offset, ok, err)
		}
		k := flowKey{seg.Transport, seg.Src, seg.Dst}
		f := flows[k]
		if f == nil {
			f = &flow{}
			flows[k] = f
		}
		f.data = append(f.data, seg.Payload...)
		seg.Payload = append([]byte(nil), seg.Payload...)
		f.segments = append(f.segments, seg)
	}
	return flows, d.Stats()
}

func TestWriterRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 1000) // 10000 bytes: 7 segments
	tests := []struct {
		name           string
		client, server netip.AddrPort
		micro          bool
	}{
		{"ipv4 nanoseconds", netip.MustParseAddrPort("10.0.0.1:50000"), netip.MustParseAddrPort("10.0.1.1:80"), false},
		{"ipv6 microseconds", netip.MustParseAddrPort("[fd00::1]:50000"), netip.MustParseAddrPort("[fd00::2]:8080"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "conv.pcap")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			var opts []WriterOption
			if tt.micro {
				opts = append(opts, Microseconds())
			}
			w, err := NewWriter(f, opts...)
			if err != nil {
				t.Fatal(err)
			}
			c := w.Conn(tt.client, tt.server, t0)
			req := []byte("POST /upload HTTP/1.1\r\nContent-Length: 10000\r\n\r\n")
			steps := []error{
				c.Client(req, t0.Add(time.Millisecond)),
				c.Client(big, t0.Add(2*time.Millisecond)),
				c.Server([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), t0.Add(3*time.Millisecond)),
				c.Server(nil, t0.Add(3*time.Millisecond)),
				c.Server(big[:1460], t0.Add(4*time.Millisecond)),
				c.Close(t0.Add(5 * time.Millisecond)),
				w.UDP(tt.client, tt.server, []byte("datagram"), t0.Add(6*time.Millisecond)),
				w.Flush(),
				f.Close(),
			}
			for i, err := range steps {
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			if err := c.Client([]byte("late"), t0); err == nil {
				t.Fatal("write after Close succeeded")
			}

			flows, _ := readBack(t, path)
			up := flows[flowKey{packet.TCP, tt.client, tt.server}]
			down := flows[flowKey{packet.TCP, tt.server, tt.client}]
			udp := flows[flowKey{packet.UDP, tt.client, tt.server}]
			if up == nil || down == nil || udp == nil {
				t.Fatalf("flows %v", flows)
			}
			if want := append(append([]byte{}, req...), big...); !bytes.Equal(up.data, want) {
				t.Fatalf("client bytes differ: %d vs %d", len(up.data), len(want))
			}
			if want := append([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), big[:1460]...); !bytes.Equal(down.data, want) {
				t.Fatalf("server bytes differ")
			}
			if string(udp.data) != "datagram" {
				t.Fatalf("udp %q", udp.data)
			}
			checkSequence(t, up.segments, down.segments)
		})
	}
}

// checkSequence checks the handshake, that data is contiguous in sequence
// space, that segments are at most one MSS, and that every ACK matches
// what the peer has sent so far.
func checkSequence(t *testing.T, up, down []packet.Segment) {
	t.Helper()
	if !up[0].Has(packet.FlagSYN) || up[0].Has(packet.FlagACK) || !down[0].Has(packet.FlagSYN|packet.FlagACK) {
		t.Fatalf("no handshake: %+v %+v", up[0], down[0])
	}
	if down[0].Ack != up[0].Seq+1 {
		t.Fatalf("SYN-ACK acks %d, want %d", down[0].Ack, up[0].Seq+1)
	}
	if !up[len(up)-2].Has(packet.FlagFIN) || !down[len(down)-1].Has(packet.FlagFIN) {
		t.Fatal("no FIN exchange")
	}
	for _, dir := range [][]packet.Segment{up, down} {
		next := dir[0].Seq + 1
		for i, s := range dir[1:] {
			if len(s.Payload) > mss {
				t.Fatalf("segment %d: %d bytes", i+1, len(s.Payload))
			}
			if s.Seq != next {
				t.Fatalf("segment %d: seq %d, want %d", i+1, s.Seq, next)
			}
			next += uint32(len(s.Payload))
			if s.Has(packet.FlagFIN) {
				next++
			}
		}
	}
	// The final ACK acknowledges the server's FIN.
	if last, fin := up[len(up)-1], down[len(down)-1]; last.Ack != fin.Seq+1 {
		t.Fatalf("final ACK %d, want %d", last.Ack, fin.Seq+1)
	}
}

func TestConnSegmentation(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	cli, srv := netip.MustParseAddrPort("10.0.0.9:40000"), netip.MustParseAddrPort("10.0.1.1:80")
	c := w.Conn(cli, srv, t0)
	tests := []struct {
		size, frames int // frames = data segments + peer ACKs
	}{
		{1, 2}, {1460, 2}, {1461, 3}, {2920, 3}, {4381, 6},
	}
	for _, tt := range tests {
		before := w.Packets()
		if err := c.Client(make([]byte, tt.size), t0); err != nil {
			t.Fatal(err)
		}
		if got := w.Packets() - before; got != tt.frames {
			t.Errorf("%d bytes: %d frames, want %d", tt.size, got, tt.frames)
		}
	}
}

func TestUDPTooLarge(t *testing.T) {
	w, err := NewWriter(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddrPort("10.0.0.1:53")
	if err := w.UDP(a, a, make([]byte, 70000), t0); err == nil {
		t.Fatal("oversized UDP payload accepted")
	}
	if err := w.UDP(a, netip.MustParseAddrPort("[::1]:53"), nil, t0); err == nil {
		t.Fatal("mixed address families accepted")
	}
}
