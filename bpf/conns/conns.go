package conns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Kind says what an Event reports.
type Kind uint8

// Kinds, as the C program numbers them.
const (
	// State is a TCP state change of the socket.
	State Kind = iota
	// Retransmit is a segment the socket sent again.
	Retransmit
	// ResetReceived is a RST the socket received.
	ResetReceived
	// ResetSent is a RST the kernel sent for the socket (or, with Sock 0,
	// for a packet no socket owned).
	ResetSent
	// Accept is accept(2) returning the socket to a process: PID is the
	// server's.
	Accept
)

var kindNames = [...]string{"state", "retransmit", "reset_received", "reset_sent", "accept"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// TCP states, as the kernel numbers them.
const (
	Established = 1
	SynSent     = 2
	SynRecv     = 3
	FinWait1    = 4
	FinWait2    = 5
	TimeWait    = 6
	Close       = 7
	CloseWait   = 8
	LastAck     = 9
	Listen      = 10
	Closing     = 11
	NewSynRecv  = 12
)

var stateNames = [...]string{"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
	"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"}

// StateName names a TCP state ("ESTABLISHED").
func StateName(s uint8) string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("STATE_%d", s)
}

// Event is one kernel event about a TCP socket.
type Event struct {
	Kind Kind
	// Time is when the hook ran (wall clock, from CLOCK_MONOTONIC).
	Time time.Time
	// Sock is the kernel's socket address: it identifies the socket while
	// it lives and may be reused after.
	Sock uint64
	// Local is the socket's own address and port, Remote its peer's.
	Local, Remote netip.AddrPort
	// Old and New are the states of a State event; New is the socket's
	// state for Retransmit and ResetSent.
	Old, New uint8
	// Cgroup is the socket's cgroup v2 id, 0 when unknown.
	Cgroup uint64
	// PID, TID and Comm are the process whose system call made the event
	// (connect, close or shutdown, accept), or zero for events driven by a
	// packet's arrival or a timer, where the current task has nothing to do
	// with the socket.
	PID, TID uint32
	Comm     string
}

// eventSize is sizeof(struct event) in conns.c.
const eventSize = 96

// ErrNotPermitted is returned by Open when the process may not load BPF
// programs.
var ErrNotPermitted = errors.New("loading BPF programs is not permitted: run as root (or with CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN)")

// Probe is the loaded programs and their ring buffer.
type Probe struct {
	objs       connsProbeObjects
	links      []link.Link
	rd         *ringbuf.Reader
	monoToWall int64
	closeOnce  sync.Once

	mu   sync.Mutex // guards links
	gone atomic.Bool
}

// Open loads the programs and attaches them to their tracepoints.
func Open() (*Probe, error) {
	if err := rlimit.RemoveMemlock(); err != nil && !errors.Is(err, unix.EPERM) {
		return nil, fmt.Errorf("conns: raising the memlock limit: %w", err)
	}
	spec, err := loadConnsProbe()
	if err != nil {
		return nil, fmt.Errorf("conns: reading the BPF object: %w", err)
	}
	p := &Probe{monoToWall: monoToWall()}
	if err := spec.LoadAndAssign(&p.objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) && os.Geteuid() == 0 {
			return nil, fmt.Errorf("conns: the kernel's verifier refused the programs: %+v", ve)
		}
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("conns: %w (%v)", ErrNotPermitted, err)
		}
		return nil, fmt.Errorf("conns: loading the programs: %w", err)
	}
	for _, tp := range []struct {
		group, name string
		prog        *ebpf.Program
	}{
		{"sock", "inet_sock_set_state", p.objs.SetState},
		{"tcp", "tcp_retransmit_skb", p.objs.Retransmit},
		{"tcp", "tcp_receive_reset", p.objs.ReceiveReset},
		{"tcp", "tcp_send_reset", p.objs.SendReset},
		{"syscalls", "sys_exit_accept4", p.objs.ExitAccept4},
		{"syscalls", "sys_exit_accept", p.objs.ExitAccept},
	} {
		l, err := link.Tracepoint(tp.group, tp.name, tp.prog, nil)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("conns: attaching to tracepoint %s:%s: %w", tp.group, tp.name, err)
		}
		p.links = append(p.links, l)
	}
	p.rd, err = ringbuf.NewReader(p.objs.Events)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("conns: opening the ring buffer: %w", err)
	}
	return p, nil
}

func monoToWall() int64 {
	var ts unix.Timespec
	now := time.Now()
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return now.UnixNano() - ts.Nano()
}

// Run delivers events to fn until ctx is done or Close is called; then it
// reads what is left in the ring buffer and returns nil.
func (p *Probe) Run(ctx context.Context, fn func(*Event)) error {
	stop := context.AfterFunc(ctx, func() { p.Detach() })
	defer stop()
	var rec ringbuf.Record
	var ev Event
	draining := false
	for {
		if draining {
			p.rd.SetDeadline(time.Now())
		} else {
			p.rd.SetDeadline(time.Now().Add(100 * time.Millisecond))
		}
		err := p.rd.ReadInto(&rec)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			if draining {
				return nil
			}
			if ctx.Err() != nil || p.detached() {
				draining = true
			}
			continue
		case errors.Is(err, ringbuf.ErrClosed):
			return nil
		case err != nil:
			return fmt.Errorf("conns: reading the ring buffer: %w", err)
		}
		if err := parse(rec.RawSample, p.monoToWall, &ev); err != nil {
			return err
		}
		fn(&ev)
	}
}

func (p *Probe) detached() bool { return p.gone.Load() }

// ErrShortRecord means a ring-buffer record is shorter than an event: the
// loader and program do not match.
var ErrShortRecord = errors.New("conns: short ring-buffer record")

func parse(b []byte, monoToWall int64, e *Event) error {
	if len(b) < eventSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrShortRecord, len(b), eventSize)
	}
	le := binary.LittleEndian
	fam := le.Uint16(b[64:])
	var l, r netip.Addr
	if fam == unix.AF_INET6 {
		l = netip.AddrFrom16([16]byte(b[32:48])).Unmap()
		r = netip.AddrFrom16([16]byte(b[48:64])).Unmap()
	} else {
		l = netip.AddrFrom4([4]byte(b[32:36]))
		r = netip.AddrFrom4([4]byte(b[48:52]))
	}
	comm := b[80:96]
	n := 0
	for n < len(comm) && comm[n] != 0 {
		n++
	}
	*e = Event{
		Time:   time.Unix(0, monoToWall+int64(le.Uint64(b[0:]))).UTC(),
		Sock:   le.Uint64(b[8:]),
		Cgroup: le.Uint64(b[16:]),
		PID:    le.Uint32(b[24:]),
		TID:    le.Uint32(b[28:]),
		Local:  netip.AddrPortFrom(l, le.Uint16(b[66:])),
		Remote: netip.AddrPortFrom(r, le.Uint16(b[68:])),
		Kind:   Kind(b[70]),
		Old:    b[71],
		New:    b[72],
		Comm:   string(comm[:n]),
	}
	return nil
}

// Lost is how many events the kernel dropped because the ring buffer was
// full.
func (p *Probe) Lost() (uint64, error) {
	var per []uint64
	if err := p.objs.Stats.Lookup(uint32(0), &per); err != nil {
		return 0, fmt.Errorf("conns: reading the loss counter: %w", err)
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

// Detach removes the programs from their tracepoints; Run then drains the
// ring buffer and returns.
func (p *Probe) Detach() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gone.Store(true)
	var errs []error
	for _, l := range p.links {
		errs = append(errs, l.Close())
	}
	p.links = nil
	return errors.Join(errs...)
}

// Close detaches the programs and frees the kernel objects.
func (p *Probe) Close() error {
	var err error
	p.closeOnce.Do(func() {
		err = p.Detach()
		if p.rd != nil {
			err = errors.Join(err, p.rd.Close())
		}
		err = errors.Join(err, p.objs.Close())
	})
	return err
}
