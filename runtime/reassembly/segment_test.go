package reassembly

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// segRecorder is a recorder that also sees segments, so the position of each
// Segment call among the other events is checked too.
type segRecorder struct{ recorder }

func (r *segRecorder) Segment(c *Conn, d sdk.Direction, s *packet.Segment) {
	kind := "seg"
	switch {
	case s.Has(packet.FlagSYN | packet.FlagACK):
		kind = "synack"
	case s.Has(packet.FlagSYN):
		kind = "syn"
	case s.Has(packet.FlagRST):
		kind = "rst"
	case s.Has(packet.FlagFIN):
		kind = "fin"
	}
	r.events = append(r.events, fmt.Sprintf("%d%s %s %d", c.ID, dirName(d), kind, len(s.Payload)))
}

func TestSegmentHandler(t *testing.T) {
	tests := []struct {
		name string
		run  func(f *feeder)
		want []string
	}{
		{
			name: "every segment of a connection, in order",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "hi")
				f.c(fPA, 1001, 5001, "hi") // retransmission: no Data, still a segment
				f.s(fA, 5001, 1003, "")
				f.c(fA, 1002, 5001, "") // keep-alive
				f.c(fFA, 1003, 5001, "")
				f.s(fFA, 5001, 1004, "")
				f.c(fA, 1004, 5002, "") // straggler on the closed 5-tuple: not passed on
			},
			want: []string{
				"open 1 A=10.0.0.1:40000 oriented",
				"1A syn 0", "1B synack 0", "1A seg 0",
				"1A seg 2", "1A:hi", "1A seg 2", "1B seg 0", "1A seg 0",
				"1A fin 0", "1B fin 0", "1 close fin",
			},
		},
		{
			name: "the RST that closes a connection",
			run: func(f *feeder) {
				f.handshake()
				f.s(fR, 5001, 0, "")
				f.s(fR, 5001, 0, "") // the connection is gone
			},
			want: []string{
				"open 1 A=10.0.0.1:40000 oriented",
				"1A syn 0", "1B synack 0", "1A seg 0", "1B rst 0", "1 close rst",
			},
		},
		{
			name: "port reuse: the new SYN goes to the new connection",
			run: func(f *feeder) {
				f.handshake()
				f.c(fS, 9000, 0, "")
			},
			want: []string{
				"open 1 A=10.0.0.1:40000 oriented",
				"1A syn 0", "1B synack 0", "1A seg 0",
				"1 close reused",
				"open 2 A=10.0.0.1:40000 oriented", "2A syn 0",
				"2 close flush",
			},
		},
		{
			name: "stray RST belongs to nothing",
			run:  func(f *feeder) { f.s(fR, 1, 0, "") },
		},
		{
			name: "udp datagrams, empty ones too",
			run: func(f *feeder) {
				f.udp(cli, srv, "q")
				f.udp(srv, cli, "")
			},
			want: []string{
				"open 1 A=10.0.0.1:40000 unoriented",
				"1A seg 1", "1A:q", "1B seg 0", "1 close flush",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &segRecorder{}
			f := &feeder{a: New(Config{}, r), now: t0}
			tt.run(f)
			f.a.FlushAll(f.now)
			if !slices.Equal(r.events, tt.want) {
				t.Errorf("events:\n  got  %s\n  want %s", strings.Join(r.events, " | "), strings.Join(tt.want, " | "))
			}
		})
	}
}

// Detection happens once, in New: a plain Handler gets no Segment calls
// and a SegmentHandler does.
func TestSegmentHandlerDetected(t *testing.T) {
	if New(Config{}, &recorder{}).seg != nil {
		t.Error("a Handler without Segment was taken for a SegmentHandler")
	}
	if New(Config{}, &segRecorder{}).seg == nil {
		t.Error("a SegmentHandler was not detected")
	}
}
