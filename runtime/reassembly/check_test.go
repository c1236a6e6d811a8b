package reassembly

import (
	"fmt"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// stream is what a checker saw of one direction of one connection: the
// bytes, with lost bytes marked.
type stream struct {
	data []byte
	lost []bool
	gaps int
	// base is the TCP sequence number of data[0] modulo 256, learned from
	// the first byte when payload bytes are generated as byte(seq).
	base    byte
	hasBase bool
}

// checker is a Handler that enforces the call protocol and records the
// streams. Violations are collected rather than failed at once so the
// fuzzer and property test can report them with context.
type checker struct {
	// seqBytes says TCP payload byte i of a segment is byte(seq+i), so each
	// delivered byte can be checked against its stream position.
	seqBytes bool
	// keep records stream contents; the fuzzer turns it off to stay fast.
	keep bool

	open    map[*Conn]bool
	closed  map[*Conn]CloseReason
	conns   []*Conn
	streams map[*Conn]*[2]stream
	pos     map[*Conn]*[2]int64
	lastID  uint64
	errs    []string
}

func newChecker(seqBytes, keep bool) *checker {
	return &checker{
		seqBytes: seqBytes, keep: keep,
		open:    map[*Conn]bool{},
		closed:  map[*Conn]CloseReason{},
		streams: map[*Conn]*[2]stream{},
		pos:     map[*Conn]*[2]int64{},
	}
}

func (k *checker) fail(format string, args ...any) {
	if len(k.errs) < 20 {
		k.errs = append(k.errs, fmt.Sprintf(format, args...))
	}
}

func (k *checker) live(c *Conn, call string) bool {
	if !k.open[c] {
		k.fail("%s on conn %d that is not open", call, c.ID)
		return false
	}
	return true
}

func (k *checker) Open(c *Conn, _ time.Time) {
	if _, seen := k.pos[c]; seen {
		k.fail("conn %d opened twice", c.ID)
	}
	if c.ID != k.lastID+1 {
		k.fail("conn ID %d after %d", c.ID, k.lastID)
	}
	k.lastID = c.ID
	k.open[c] = true
	k.conns = append(k.conns, c)
	k.streams[c] = &[2]stream{}
	k.pos[c] = &[2]int64{}
}

func (k *checker) Data(c *Conn, d sdk.Direction, data []byte, _ time.Time) {
	if !k.live(c, "Data") {
		return
	}
	if len(data) == 0 {
		k.fail("empty Data on conn %d", c.ID)
	}
	st := &k.streams[c][d]
	pos := k.pos[c][d]
	if k.seqBytes && c.Transport == packet.TCP {
		if !st.hasBase {
			st.base, st.hasBase = data[0]-byte(pos), true
		}
		for i, b := range data {
			if want := st.base + byte(pos) + byte(i); b != want {
				k.fail("conn %d dir %d pos %d: byte %d, want %d", c.ID, d, pos+int64(i), b, want)
				break
			}
		}
	}
	k.pos[c][d] += int64(len(data))
	if k.keep {
		st.data = append(st.data, data...)
		st.lost = append(st.lost, make([]bool, len(data))...)
	}
}

func (k *checker) Gap(c *Conn, d sdk.Direction, n int, _ time.Time) {
	if !k.live(c, "Gap") {
		return
	}
	if c.Transport != packet.TCP {
		k.fail("Gap on a UDP flow")
	}
	if n <= 0 || n > maxAhead {
		k.fail("conn %d: Gap(%d)", c.ID, n)
	}
	k.pos[c][d] += int64(n)
	st := &k.streams[c][d]
	st.gaps += n
	if k.keep && n <= 1<<24 {
		st.data = append(st.data, make([]byte, n)...)
		for range n {
			st.lost = append(st.lost, true)
		}
	}
}

func (k *checker) Close(c *Conn, r CloseReason, _ time.Time) {
	if !k.live(c, "Close") {
		return
	}
	delete(k.open, c)
	k.closed[c] = r
}

// checkInvariants verifies the Assembler's internal bookkeeping.
func (a *Assembler) checkInvariants() error {
	total, live := 0, 0
	for key, c := range a.conns {
		if c.key != key {
			return fmt.Errorf("conn %d filed under the wrong key", c.ID)
		}
		if !c.closed {
			live++
		}
		sum := 0
		for d := range c.half {
			h := &c.half[d]
			hb := 0
			prevEnd := int64(0)
			for i, ch := range h.chunks {
				s := h.rel(ch.seq)
				if (i == 0 && s <= 0) || s < prevEnd {
					return fmt.Errorf("conn %d dir %d: chunk %d at %d overlaps or touches next (%d)", c.ID, d, i, s, prevEnd)
				}
				if len(ch.data) == 0 || s+int64(len(ch.data)) > maxAhead {
					return fmt.Errorf("conn %d dir %d: chunk %d bad extent", c.ID, d, i)
				}
				prevEnd = s + int64(len(ch.data))
				hb += len(ch.data)
			}
			if hb != h.buffered {
				return fmt.Errorf("conn %d dir %d: buffered %d, chunks hold %d", c.ID, d, h.buffered, hb)
			}
			sum += hb
		}
		if sum != c.buffered || c.inBuf != (sum > 0) {
			return fmt.Errorf("conn %d: buffered %d, halves %d, inBuf %v", c.ID, c.buffered, sum, c.inBuf)
		}
		if sum > a.cfg.MaxBufferedPerConn {
			return fmt.Errorf("conn %d: %d buffered > limit", c.ID, sum)
		}
		total += sum
	}
	if total != a.buffered || total > a.cfg.MaxBufferedTotal {
		return fmt.Errorf("buffered %d, conns hold %d, limit %d", a.buffered, total, a.cfg.MaxBufferedTotal)
	}
	if n := a.tcp.count() + a.udp.count(); n != len(a.conns) {
		return fmt.Errorf("%d conns listed, %d in map", n, len(a.conns))
	}
	if len(a.conns) > a.cfg.MaxConns {
		return fmt.Errorf("%d conns > MaxConns", len(a.conns))
	}
	if s := a.Stats(); s.ActiveConns != live {
		return fmt.Errorf("ActiveConns %d, live %d", s.ActiveConns, live)
	}
	return nil
}

func (l *connList) count() int {
	n := 0
	for c := l.head; c != nil; c = l.link(c).next {
		n++
	}
	return n
}
