package decode

import (
	"bytes"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

// fragStep is one frame fed to the decoder in a fragment test; at is the
// offset from ts0 of its capture time.
type fragStep struct {
	frame []byte
	at    time.Duration
}

func steps(frames [][]byte, order ...int) []fragStep {
	var out []fragStep
	for _, i := range order {
		out = append(out, fragStep{frame: frames[i]})
	}
	return out
}

func TestFragments(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 300) // 4800 bytes
	udpBody := bytes.Repeat([]byte("u"), 3000)
	tcp4 := ipTCP(t, cli4, srv4, tcpSpec{flags: packet.FlagACK | packet.FlagPSH, seq: 9}, body)
	udp4 := ipUDP(t, cli4, srv4, udpBody)
	tcp6 := ipTCP(t, cli6, srv6, tcpSpec{flags: packet.FlagACK, seq: 9}, body)
	f4 := fragments4(t, tcp4, 1480) // 4 fragments
	u4 := fragments4(t, udp4, 1000) // 4 fragments
	f6 := fragments6(t, tcp6, 1232, 77)

	// An overlapping fragment with different bytes: same offset as f4[1]
	// but its payload altered.
	evil := append([]byte(nil), f4[1]...)
	evil[len(evil)-1] ^= 0xff
	evil6 := append([]byte(nil), f6[1]...)
	evil6[len(evil6)-1] ^= 0xff

	// IPv6 with destination options after the fragment header: they are
	// part of the fragmentable payload and must be skipped after reassembly.
	withDest := ipv6DestThenTCP(t, body)
	d6 := fragments6(t, withDest, 1024, 78)

	tests := []struct {
		name      string
		steps     []fragStep
		want      []byte // expected payload from the last step; nil = not reassembled
		udp       bool
		reasm     uint64
		dropped   uint64
		fragments uint64
	}{
		{"ipv4 in order", steps(f4, 0, 1, 2, 3), body, false, 1, 0, 4},
		{"ipv4 reverse order", steps(f4, 3, 2, 1, 0), body, false, 1, 0, 4},
		{"ipv4 shuffled", steps(f4, 2, 0, 3, 1), body, false, 1, 0, 4},
		{"ipv4 udp", steps(u4, 1, 3, 0, 2), udpBody, true, 1, 0, 4},
		{"ipv4 duplicate", steps(f4, 0, 1, 1, 2, 3), body, false, 1, 1, 5},
		{"ipv4 missing", steps(f4, 0, 1, 3), nil, false, 0, 0, 3},
		{"ipv4 overlap drops datagram", append(steps(f4, 0, 1), fragStep{frame: evil}, fragStep{frame: f4[2]}, fragStep{frame: f4[3]}), nil, false, 0, 3, 5},
		{"ipv4 timeout", []fragStep{{f4[0], 0}, {f4[1], 0}, {f4[2], 0}, {f4[3], 31 * time.Second}}, nil, false, 0, 3, 4},
		{"ipv4 within timeout", []fragStep{{f4[0], 0}, {f4[1], 0}, {f4[2], 0}, {f4[3], 29 * time.Second}}, body, false, 1, 0, 4},
		{"ipv6 in order", steps(f6, 0, 1, 2, 3), body, false, 1, 0, 4},
		{"ipv6 out of order", steps(f6, 3, 1, 0, 2), body, false, 1, 0, 4},
		{"ipv6 overlap drops datagram", append(steps(f6, 0, 1), fragStep{frame: evil6}, fragStep{frame: f6[2]}, fragStep{frame: f6[3]}), nil, false, 0, 3, 5},
		{"ipv6 destination options after fragment header", steps(d6, 4, 3, 2, 1, 0), body, false, 1, 0, 5},
	}
	if len(f4) != 4 || len(u4) != 4 || len(f6) != 4 || len(d6) != 5 {
		t.Fatalf("fragment counts %d %d %d %d", len(f4), len(u4), len(f6), len(d6))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Options{})
			var seg packet.Segment
			var ok bool
			for i, s := range tt.steps {
				p := pkt(layers.LinkTypeEthernet, pad(ethernet(t, s.frame, nil, false)))
				p.Timestamp = ts0.Add(s.at)
				var err error
				ok, err = d.Decode(p, &seg)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if ok && i != len(tt.steps)-1 {
					t.Fatalf("step %d: reassembled early", i)
				}
			}
			st := d.Stats()
			if tt.want == nil {
				if ok {
					t.Fatal("reassembled, want not")
				}
			} else {
				if !ok {
					t.Fatalf("not reassembled; stats %+v", st)
				}
				if !bytes.Equal(seg.Payload, tt.want) {
					t.Fatalf("payload of %d bytes differs from the %d sent", len(seg.Payload), len(tt.want))
				}
				if tt.udp != (seg.Transport == packet.UDP) {
					t.Fatalf("transport %v", seg.Transport)
				}
				if seg.Transport == packet.TCP && (seg.Seq != 9 || !seg.Has(packet.FlagACK)) {
					t.Fatalf("tcp header %+v", seg)
				}
			}
			frags := st.IPv4Fragments + st.IPv6Fragments
			if st.Reassembled != tt.reasm || st.FragmentsDropped != tt.dropped || frags != tt.fragments {
				t.Fatalf("stats %+v; want reassembled %d dropped %d fragments %d", st, tt.reasm, tt.dropped, tt.fragments)
			}
		})
	}
}

// ipv6DestThenTCP builds IPv6 → destination options → TCP.
func ipv6DestThenTCP(t *testing.T, body []byte) []byte {
	full := ipv6WithExt(t, cli6, srv6, tcpSpec{flags: packet.FlagACK, seq: 9}, body)
	// Drop hop-by-hop and routing (8 + 24 bytes after the fixed header) and
	// point the fixed header at destination options.
	out := append(append([]byte(nil), full[:40]...), full[40+32:]...)
	out[6] = byte(layers.IPProtocolIPv6Destination)
	out[4], out[5] = byte((len(out)-40)>>8), byte(len(out)-40)
	return out
}

func TestFragmentMemoryBound(t *testing.T) {
	body := bytes.Repeat([]byte("m"), 4000)
	d := New(Options{MaxFragmentMemory: 16 << 10})
	var seg packet.Segment
	// Many datagrams with only their first fragment: they never complete,
	// and must be evicted oldest first to stay within 16 KiB.
	for id := 0; id < 200; id++ {
		ip := ipTCP(t, cli4, srv4, tcpSpec{flags: packet.FlagACK}, body)
		ip[4], ip[5] = byte(id>>8), byte(id)
		fr := fragments4(t, ip, 1480)
		if ok, err := d.Decode(pkt(layers.LinkTypeRaw, fr[0]), &seg); ok || err != nil {
			t.Fatalf("Decode = %v, %v", ok, err)
		}
	}
	if d.v4.mem > 16<<10 {
		t.Fatalf("holding %d bytes, bound 16 KiB", d.v4.mem)
	}
	if n := d.v4.pendingCount(); n == 0 || n > 16 {
		t.Fatalf("%d datagrams pending", n)
	}
	st := d.Stats()
	if st.FragmentsDropped != 200-uint64(d.v4.pendingCount()) {
		t.Fatalf("stats %+v with %d pending", st, d.v4.pendingCount())
	}
	// A complete datagram still gets through under pressure.
	ip := ipTCP(t, cli4, srv4, tcpSpec{flags: packet.FlagACK}, body)
	ip[4], ip[5] = 0xff, 0xff
	var ok bool
	for _, f := range fragments4(t, ip, 1480) {
		var err error
		if ok, err = d.Decode(pkt(layers.LinkTypeRaw, f), &seg); err != nil {
			t.Fatal(err)
		}
	}
	if !ok || !bytes.Equal(seg.Payload, body) {
		t.Fatal("datagram not reassembled under memory pressure")
	}
	if n := d.Flush(); n == 0 || d.v4.pendingCount() != 0 || d.v4.mem != 0 {
		t.Fatalf("Flush dropped %d, %d pending, %d bytes", n, d.v4.pendingCount(), d.v4.mem)
	}
}

func TestFragmentInvalid(t *testing.T) {
	r := newReassembler(1<<20, time.Second)
	k := fragKey{src: cli4.Addr(), dst: srv4.Addr(), id: 1, proto: 6}
	tests := []struct {
		name      string
		off       int
		more      bool
		payload   []byte
		wantDrops int
	}{
		{"not a multiple of 8", 0, true, make([]byte, 10), 1},
		{"empty with more", 8, true, nil, 1},
		{"beyond 64 KiB", 65528, false, make([]byte, 16), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, _, dropped := r.add(k, ts0, tt.off, tt.more, 6, tt.payload, 100)
			if out != nil || dropped != tt.wantDrops {
				t.Fatalf("add = %v, %d", out, dropped)
			}
		})
	}
	// Two different last fragments disagree about the length.
	r.add(k, ts0, 16, false, 6, make([]byte, 8), 100)
	if _, _, _, dropped := r.add(k, ts0, 32, false, 6, make([]byte, 8), 100); dropped != 2 || r.pendingCount() != 0 || r.mem != 0 {
		t.Fatalf("inconsistent ends: dropped %d, pending %d, mem %d", dropped, r.pendingCount(), r.mem)
	}
}
