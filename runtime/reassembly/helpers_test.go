package reassembly

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.0.2:80")
	t0  = time.Unix(1_700_000_000, 0)
)

// Flag shorthands for building segments by hand.
const (
	fS  = packet.FlagSYN
	fSA = packet.FlagSYN | packet.FlagACK
	fA  = packet.FlagACK
	fPA = packet.FlagPSH | packet.FlagACK
	fFA = packet.FlagFIN | packet.FlagACK
	fR  = packet.FlagRST
)

func dirName(d sdk.Direction) string {
	if d == sdk.DirA {
		return "A"
	}
	return "B"
}

// recorder turns Handler calls into short strings so tests can compare the
// exact sequence of events.
type recorder struct{ events []string }

func (r *recorder) Open(c *Conn, _ time.Time) {
	o := "unoriented"
	if c.Oriented {
		o = "oriented"
	}
	r.events = append(r.events, fmt.Sprintf("open %d A=%s %s", c.ID, c.A, o))
}

func (r *recorder) Data(c *Conn, d sdk.Direction, data []byte, _ time.Time) {
	r.events = append(r.events, fmt.Sprintf("%d%s:%s", c.ID, dirName(d), data))
}

func (r *recorder) Gap(c *Conn, d sdk.Direction, n int, _ time.Time) {
	r.events = append(r.events, fmt.Sprintf("%d%s gap %d", c.ID, dirName(d), n))
}

func (r *recorder) Close(c *Conn, reason CloseReason, _ time.Time) {
	r.events = append(r.events, fmt.Sprintf("%d close %s", c.ID, reason))
}

// feeder builds segments with a capture clock that ticks 1ms per segment.
type feeder struct {
	a   *Assembler
	now time.Time
}

func (f *feeder) seg(src, dst netip.AddrPort, flags uint8, seq, ack uint32, data string) {
	f.now = f.now.Add(time.Millisecond)
	s := &packet.Segment{
		Timestamp: f.now, Transport: packet.TCP, Src: src, Dst: dst,
		Flags: flags, Seq: seq, Ack: ack, Payload: []byte(data),
	}
	f.a.Add(s)
	// The payload is only valid during Add; scribble on it to catch an
	// assembler that keeps a reference.
	for i := range s.Payload {
		s.Payload[i] = '#'
	}
}

// c sends from client to server, s from server to client.
func (f *feeder) c(flags uint8, seq, ack uint32, data string) { f.seg(cli, srv, flags, seq, ack, data) }
func (f *feeder) s(flags uint8, seq, ack uint32, data string) { f.seg(srv, cli, flags, seq, ack, data) }

// handshake opens cli→srv with client ISN 1000 and server ISN 5000, so
// client data starts at 1001 and server data at 5001.
func (f *feeder) handshake() {
	f.c(fS, 1000, 0, "")
	f.s(fSA, 5000, 1001, "")
	f.c(fA, 1001, 5001, "")
}

func (f *feeder) udp(src, dst netip.AddrPort, data string) {
	f.now = f.now.Add(time.Millisecond)
	f.a.Add(&packet.Segment{Timestamp: f.now, Transport: packet.UDP, Src: src, Dst: dst, Payload: []byte(data)})
}

func (f *feeder) wait(d time.Duration) { f.now = f.now.Add(d) }
func (f *feeder) flushIdle()           { f.a.FlushIdle(f.now) }

// funcHandler lets a test hook just the calls it cares about.
type funcHandler struct {
	open func(*Conn)
}

func (h *funcHandler) Open(c *Conn, _ time.Time) {
	if h.open != nil {
		h.open(c)
	}
}
func (h *funcHandler) Data(*Conn, sdk.Direction, []byte, time.Time) {}
func (h *funcHandler) Gap(*Conn, sdk.Direction, int, time.Time)     {}
func (h *funcHandler) Close(*Conn, CloseReason, time.Time)          {}
