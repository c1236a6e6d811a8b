package reassembly

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

// fuzzRecord is the size of one encoded segment in FuzzAssembler input:
//
//	[0]    TCP flags, as on the wire
//	[1]    bit 0 direction, bit 1 UDP, bits 2-3 client port, bits 4-7 clock step
//	[2:4]  signed seq offset from the direction's base
//	[4]    payload length
//	[5:7]  signed ack offset from the other direction's base
//	[7]    bit 0 set: add [7]<<24 to seq (hostile jumps); bit 1: to ack
const fuzzRecord = 8

// FuzzAssembler feeds arbitrary segment sequences through tight limits and
// checks that nothing panics, the Handler protocol holds, delivered bytes sit
// at their right sequence positions, and everything is closed at the end.
func FuzzAssembler(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0,
		0x02, 0x00, 0, 0, 0, 0, 0, 0, 0,
		0x12, 0x01, 0, 0, 0, 0, 1, 0,
		0x18, 0x00, 0, 1, 10, 0, 1, 0,
		0x18, 0x00, 0, 21, 10, 0, 1, 0,
		0x18, 0x00, 0, 11, 10, 0, 1, 0,
		0x11, 0x00, 0, 31, 0, 0, 1, 0,
		0x11, 0x01, 0, 1, 0, 0, 32, 0,
	})
	f.Add([]byte{0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 1,
		0x18, 0x00, 0x80, 0, 200, 0, 0, 0x41,
		0x18, 0x01, 0x7f, 0xff, 200, 0x80, 0, 0x42,
		0x10, 0xf0, 0, 0, 0, 0, 0, 0,
		0x04, 0x02, 0, 0, 0, 0, 0, 0,
	})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8,
		0x00, 0x06, 0, 0, 50, 0, 0, 0,
		0x00, 0x07, 0, 0, 0, 0, 0, 0,
		0x00, 0xfa, 0, 0, 9, 0, 0, 0,
	})
	f.Fuzz(fuzzOne)
}

func fuzzOne(t *testing.T, in []byte) {
	if len(in) < 8 {
		return
	}
	base := [2]uint32{binary.BigEndian.Uint32(in), binary.BigEndian.Uint32(in[4:])}
	in = in[8:]
	cfg := Config{MaxBufferedPerConn: 300, MaxBufferedTotal: 500, MaxConns: 3}
	k := newChecker(true, false)
	a := New(cfg, k)
	server := netip.MustParseAddrPort("192.0.2.1:443")
	now := t0
	var fed uint64
	payload := make([]byte, 256)
	for ; len(in) >= fuzzRecord; in = in[fuzzRecord:] {
		r := in[:fuzzRecord]
		d := int(r[1] & 1)
		client := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.7"), 50000+uint16(r[1]>>2&3))
		src, dst := client, server
		if d == 1 {
			src, dst = server, client
		}
		step := time.Duration(r[1]>>4) * time.Duration(r[1]>>4) * time.Second
		now = now.Add(step)
		seq := base[d] + uint32(int32(int16(binary.BigEndian.Uint16(r[2:]))))
		ack := base[1-d] + uint32(int32(int16(binary.BigEndian.Uint16(r[5:]))))
		if r[7]&1 != 0 {
			seq += uint32(r[7]) << 24
		}
		if r[7]&2 != 0 {
			ack += uint32(r[7]) << 24
		}
		p := payload[:r[4]]
		first := seq
		if r[0]&packet.FlagSYN != 0 {
			first++ // SYN takes the first sequence number
		}
		for i := range p {
			p[i] = byte(first + uint32(i))
		}
		s := &packet.Segment{Timestamp: now, Transport: packet.TCP, Src: src, Dst: dst,
			Flags: r[0], Seq: seq, Ack: ack, Payload: p}
		if r[1]&2 != 0 {
			s.Transport = packet.UDP
		}
		fed += uint64(len(p))
		a.Add(s)
		if step >= 64*time.Second {
			a.FlushIdle(now)
		}
		if err := a.checkInvariants(); err != nil {
			t.Fatal(err)
		}
		if st := a.Stats(); st.BytesDelivered > fed {
			t.Fatalf("delivered %d bytes of %d fed", st.BytesDelivered, fed)
		}
		for _, c := range k.conns {
			// Each segment can move a direction at most maxAhead past
			// its own payload, so the stream positions stay bounded by
			// the sequence space the segments could have claimed.
			limit := int64(c.Dirs[0].Packets+c.Dirs[1].Packets)*(maxAhead+2) + int64(fed)
			if pos := k.pos[c]; pos[0] > limit || pos[1] > limit {
				t.Fatalf("conn %d: stream positions %v beyond %d", c.ID, *pos, limit)
			}
		}
	}
	a.FlushAll(now)
	if len(k.errs) > 0 {
		t.Fatal(k.errs)
	}
	if len(k.open) != 0 {
		t.Fatalf("%d conns never closed", len(k.open))
	}
	st := a.Stats()
	if st.ConnsOpened != st.ConnsClosed || st.ConnsOpened != uint64(len(k.conns)) || st.BufferedBytes != 0 || len(a.conns) != 0 {
		t.Fatalf("after FlushAll: %+v, %d conns tracked", st, len(a.conns))
	}
	if err := a.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}
