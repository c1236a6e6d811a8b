package decode

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

func TestWindowScaleOption(t *testing.T) {
	mss := layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}}
	nop := layers.TCPOption{OptionType: layers.TCPOptionKindNop, OptionLength: 1}
	ws := func(shift byte) layers.TCPOption {
		return layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{shift}}
	}
	tests := []struct {
		name      string
		flags     uint8
		opts      []layers.TCPOption
		wantShift uint8
		wantHas   bool
	}{
		{"syn with scale", packet.FlagSYN, []layers.TCPOption{mss, nop, ws(7)}, 7, true},
		{"syn-ack with scale 0", packet.FlagSYN | packet.FlagACK, []layers.TCPOption{ws(0), nop}, 0, true},
		{"shift capped at 14", packet.FlagSYN, []layers.TCPOption{ws(20), nop}, 14, true},
		{"syn without scale", packet.FlagSYN, []layers.TCPOption{mss}, 0, false},
		// The option means nothing outside a SYN (RFC 7323 section 2.2).
		{"ack carrying the option", packet.FlagACK, []layers.TCPOption{ws(7), nop}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := ipLayer(cli4.Addr(), srv4.Addr(), layers.IPProtocolTCP)
			tcp := tcpLayer(cli4, srv4, tcpSpec{flags: tt.flags, seq: 1, window: 1000})
			tcp.Options = tt.opts
			tcp.SetNetworkLayerForChecksum(ip)
			frame := ethernet(t, serialize(t, ip.(gopacket.SerializableLayer), tcp), nil, false)
			d := New(Options{})
			// A previous segment's option must not leak into the next one.
			seg := packet.Segment{WindowScale: 9, HasWindowScale: true}
			if ok, err := d.Decode(pkt(layers.LinkTypeEthernet, frame), &seg); !ok || err != nil {
				t.Fatalf("Decode = %v, %v", ok, err)
			}
			if seg.WindowScale != tt.wantShift || seg.HasWindowScale != tt.wantHas {
				t.Fatalf("window scale %d (%v), want %d (%v)", seg.WindowScale, seg.HasWindowScale, tt.wantShift, tt.wantHas)
			}
		})
	}
}
