package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/kubeshark-wasm/kubeshark/bpf/packets"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

// Options says what to capture. The zero value captures every local
// socket's traffic through the cgroup v2 root.
type Options struct {
	// Interfaces, when set, are captured with TCX instead of the cgroup
	// hooks: every packet crossing them, including forwarded ones.
	Interfaces []string
	// Cgroup is the cgroup v2 directory whose sockets are captured
	// (default: the root of the cgroup v2 mount).
	Cgroup string
	// Probe tunes the kernel side (snap length, ring buffer size, wake-ups).
	Probe packets.Config
	// PollInterval bounds how long a chunk the kernel wrote without waking
	// the reader can wait (default 50ms).
	PollInterval time.Duration
	// FlushInterval is how often Next returns capture.ErrIdle even while
	// packets flow, so records are stored continuously (default 250ms).
	FlushInterval time.Duration
	// DedupeWindow is how long an egress copy waits for its ingress twin
	// (default 2s).
	DedupeWindow time.Duration
	// QueueBytes bounds the chunks read from the ring buffer and not yet
	// turned into packets (default 256 MiB). From the first Next on, a
	// goroutine drains the ring into this queue as fast as the kernel
	// fills it, so a slow moment downstream uses memory while it lasts
	// instead of overrunning the fixed ring.
	QueueBytes int
	// Keep, when set, is asked about every packet before Next returns
	// it (tap's --filter); packets it refuses are counted in Filtered.
	Keep func(capture.Packet) bool
	// OnSocket, when set, is told the cgroup v2 id the cgroup hooks gave
	// each TCP or UDP packet's local socket (its source on egress, its
	// destination on ingress), local-to-local copies included, so that
	// flows can carry it (runtime/l4's Table.SeenPacket).
	OnSocket func(local, remote netip.AddrPort, cgroup uint64, at time.Time)
	Logger   *slog.Logger
}

// Stats counts what the source did. Kernel-side loss is in
// packets.Counters, from Source.Kernel.
type Stats struct {
	// Packets and Bytes are what Next delivered.
	Packets, Bytes uint64
	// Duplicates are ingress copies of local-to-local packets dropped
	// here; the kernel leaves out most of them before (packets.Counters'
	// Twins), and these are the rest: those whose addresses NAT changed.
	Duplicates uint64
	// Incomplete are packets some of whose chunks never came (the ring
	// buffer filled in the middle of them).
	Incomplete uint64
	// Split are BIG TCP super-packets cut to fit an IP length field.
	Split uint64
	// Filtered are packets Options.Keep refused.
	Filtered uint64
	// QueuePeak is the most bytes the queue between the ring buffer and
	// Next has held.
	QueuePeak uint64
}

// Source captures live packets. Next must be called from one goroutine;
// Stop, Stats and Kernel may be called from any.
type Source struct {
	opts     Options
	probe    *packets.Probe
	attached []string
	linkType map[uint32]layers.LinkType // for L2 chunks, by ifindex

	bootWall int64 // wall-clock ns at CLOCK_MONOTONIC 0

	chunk packets.Chunk // the packet Next is turning into capture.Packets
	// held is the arena block of the packet Next last handled, released
	// once nothing refers to its buffer (at the following Next).
	held      *block
	arena     *arena
	queue     [][]byte // pieces of a split super-packet still to return
	queueMeta capture.Packet
	dedupe    *Dedupe
	lastIdle  time.Time

	q          *chunkQueue
	readerOnce sync.Once
	idle       *time.Timer

	stopping atomic.Bool
	stopOnce sync.Once
	stopErr  error

	mu    sync.Mutex
	stats Stats
}

type partial struct {
	buf      []byte
	blk      *block // buf's arena block
	got      int
	first    packets.Chunk
	lastSeen time.Time
}

// assembler joins each packet's chunks in the reader goroutine, copying
// them from the ring buffer's record straight into the packet's own
// buffer, carved from the arena: one copy from the ring to a whole packet,
// where queueing the chunks and joining them later took two (and an
// allocation per chunk).
type assembler struct {
	room      int // most bytes a packet keeps: the snap length
	partial   map[uint64]*partial
	lastSweep time.Time
	arena     *arena
}

// add takes the chunk just read, whose Data aliases the reader's record,
// and returns a whole packet (Off 0, Last, Data its own, from blk) when
// the chunk completes one; incomplete reports a packet dropped for missing
// chunks.
func (a *assembler) add(c *packets.Chunk, now time.Time) (pkt packets.Chunk, blk *block, ok, incomplete bool) {
	if c.Off == 0 && c.Last {
		pkt = *c
		pkt.Data, blk = a.arena.alloc(len(c.Data))
		copy(pkt.Data, c.Data)
		return pkt, blk, true, false
	}
	pt := a.partial[c.Seq]
	if pt == nil {
		if c.Off != 0 {
			return pkt, nil, false, false // its start was lost; counted by the kernel
		}
		pt = &partial{first: *c}
		pt.first.Data = nil
		// The whole packet's room at once: grown chunk by chunk, a 64
		// KiB GSO packet was copied several times over.
		pt.buf, pt.blk = a.arena.alloc(min(int(c.Len), a.room))
		pt.buf = pt.buf[:0]
		a.partial[c.Seq] = pt
	}
	pt.lastSeen = now
	end := int(c.Off) + len(c.Data)
	if end > len(pt.buf) {
		if end <= cap(pt.buf) {
			pt.buf = pt.buf[:end]
		} else {
			// More than the first chunk announced: out of the arena.
			pt.buf = append(append(make([]byte, 0, end), pt.buf...), make([]byte, end-len(pt.buf))...)
			a.arena.release(pt.blk)
			pt.blk = nil
		}
	}
	copy(pt.buf[c.Off:], c.Data)
	pt.got += len(c.Data)
	if !c.Last {
		return pkt, nil, false, false
	}
	delete(a.partial, c.Seq)
	if pt.got != len(pt.buf) {
		a.arena.release(pt.blk)
		return pkt, nil, false, true
	}
	pkt = pt.first
	pkt.Off, pkt.Last, pkt.Data = 0, true, pt.buf
	return pkt, pt.blk, true, false
}

// sweep forgets packets whose remaining chunks will not come, at most
// once a second, and says how many.
func (a *assembler) sweep(now time.Time) int {
	if now.Sub(a.lastSweep) < time.Second {
		return 0
	}
	a.lastSweep = now
	n := 0
	for seq, pt := range a.partial {
		if now.Sub(pt.lastSeen) > time.Second {
			delete(a.partial, seq)
			a.arena.release(pt.blk)
			n++
		}
	}
	return n
}

var _ capture.Source = (*Source)(nil)

// Open loads the capture programs and attaches them. Errors name what is
// missing: privileges (packets.ErrPermission), a cgroup v2 mount, an
// interface, or TCX support.
func Open(ctx context.Context, opts Options) (*Source, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 50 * time.Millisecond
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 250 * time.Millisecond
	}
	if opts.DedupeWindow <= 0 {
		opts.DedupeWindow = 2 * time.Second
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = 256 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := CheckPrivileges(); err != nil {
		return nil, err
	}
	probe, err := packets.Load(opts.Probe)
	if err != nil {
		return nil, err
	}
	s := &Source{opts: opts, probe: probe, linkType: map[uint32]layers.LinkType{},
		dedupe: NewDedupe(opts.DedupeWindow), q: newChunkQueue(opts.QueueBytes), arena: &arena{}}
	if len(opts.Interfaces) > 0 {
		for _, name := range opts.Interfaces {
			ifc, err := net.InterfaceByName(name)
			if err != nil {
				probe.Close()
				return nil, fmt.Errorf("interface %q: %w", name, err)
			}
			if err := probe.AttachInterface(name); err != nil {
				probe.Close()
				return nil, err
			}
			// Loopback and Ethernet-like devices hand TC an Ethernet
			// header; tunnels (WireGuard, tun) start at IP.
			lt := layers.LinkTypeEthernet
			if len(ifc.HardwareAddr) == 0 && ifc.Flags&net.FlagLoopback == 0 {
				lt = layers.LinkTypeRaw
			}
			s.linkType[uint32(ifc.Index)] = lt
		}
	} else {
		root := opts.Cgroup
		if root == "" {
			if root, err = packets.CgroupRoot(); err != nil {
				probe.Close()
				return nil, err
			}
		}
		if err := probe.AttachCgroup(root); err != nil {
			probe.Close()
			return nil, err
		}
	}
	s.attached = probe.Attached()
	s.bootWall = bootWall()
	s.lastIdle = time.Now()
	return s, nil
}

// CheckPrivileges names the capabilities live capture lacks, before the
// kernel answers EPERM without saying why; the error wraps
// packets.ErrPermission.
func CheckPrivileges() error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil // let the kernel decide
	}
	var eff uint64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%x", &eff)
		}
	}
	has := func(c uint) bool { return eff&(1<<c) != 0 }
	var missing []string
	if !has(unix.CAP_SYS_ADMIN) {
		if !has(unix.CAP_BPF) {
			missing = append(missing, "CAP_BPF")
		}
		if !has(unix.CAP_PERFMON) {
			missing = append(missing, "CAP_PERFMON")
		}
	}
	if !has(unix.CAP_NET_ADMIN) {
		missing = append(missing, "CAP_NET_ADMIN")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s (run as root, or setcap cap_bpf,cap_perfmon,cap_net_admin+ep on the binary)", packets.ErrPermission, strings.Join(missing, ", "))
	}
	return nil
}

// bootWall is the wall-clock time, in ns, at which CLOCK_MONOTONIC was 0,
// to turn the kernel's bpf_ktime_get_ns stamps into wall-clock time.
func bootWall() int64 {
	var ts unix.Timespec
	before := time.Now()
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return before.UnixNano() - ts.Nano()
}

// Attached names what the hooks are attached to ("cgroup /sys/fs/cgroup",
// "interface eth0").
func (s *Source) Attached() []string { return s.attached }

// Next returns the next packet, capture.ErrIdle (with the time in
// Timestamp) at least every FlushInterval, and io.EOF once Stop has been
// called and the ring buffer is drained.
func (s *Source) Next(ctx context.Context) (capture.Packet, error) {
	for {
		if len(s.queue) > 0 {
			p := s.queueMeta
			p.Data = s.queue[0]
			p.CaptureLength, p.Length = len(p.Data), len(p.Data)
			s.queue = s.queue[1:]
			if s.keep(p) {
				return p, nil
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return capture.Packet{}, err
		}
		s.readerOnce.Do(func() { go s.read() })
		now := time.Now()
		if now.Sub(s.lastIdle) >= s.opts.FlushInterval {
			s.lastIdle = now
			return capture.Packet{Timestamp: now.UTC()}, capture.ErrIdle
		}
		if s.held != nil {
			// The packet it held was returned by an earlier Next (whose
			// data is valid only until this one) or dropped, and all its
			// pieces are out: its buffer may be reused.
			s.arena.release(s.held)
			s.held = nil
		}
		blk, ok, done, err := s.q.pop(&s.chunk)
		if err != nil {
			return capture.Packet{}, err
		}
		if !ok {
			if done {
				return capture.Packet{}, io.EOF
			}
			wait := s.opts.FlushInterval - now.Sub(s.lastIdle)
			if s.idle == nil {
				s.idle = time.NewTimer(wait)
			} else {
				s.idle.Reset(wait)
			}
			select {
			case <-s.q.ready:
			case <-s.idle.C:
			case <-ctx.Done():
			}
			s.idle.Stop()
			continue
		}
		s.held = blk
		if p, ok := s.packet(); ok {
			return p, nil
		}
	}
}

// read drains the ring buffer, joining each packet's chunks, into the
// queue until Stop has detached the hooks and the ring is empty, or Close.
func (s *Source) read() {
	var c packets.Chunk
	room := packets.MaxSnapLen
	if n := s.opts.Probe.SnapLen; n > 0 {
		room = n
	}
	asm := assembler{room: room, partial: map[uint64]*partial{}, arena: s.arena}
	defer s.arena.retire()
	incomplete := func(n int) {
		if n > 0 {
			s.count(func(st *Stats) { st.Incomplete += uint64(n) })
		}
	}
	for {
		stopping := s.stopping.Load()
		now := time.Now()
		deadline := now.Add(s.opts.PollInterval)
		if stopping {
			// Detached: read what is left without waiting for more.
			deadline = now
		}
		incomplete(asm.sweep(now))
		err := s.probe.ReadChunk(deadline, &c)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			if stopping {
				s.q.finish(nil)
				return
			}
			continue
		case errors.Is(err, ringbuf.ErrClosed):
			s.q.finish(nil)
			return
		case err != nil:
			s.q.finish(fmt.Errorf("live capture: reading the ring buffer: %w", err))
			return
		}
		pkt, blk, ok, inc := asm.add(&c, now)
		if inc {
			incomplete(1)
		}
		if ok && !s.q.push(&pkt, blk) {
			s.arena.release(blk)
			return
		}
	}
}

// packet turns the packet just taken from the queue into a capture.Packet,
// unless it is a local duplicate or a twin note.
func (s *Source) packet() (capture.Packet, bool) {
	first := &s.chunk
	data := first.Data
	lt := layers.LinkTypeRaw
	if first.L2 {
		if t, ok := s.linkType[first.Ifindex]; ok {
			lt = t
		} else {
			lt = layers.LinkTypeEthernet
		}
	}
	ts := time.Unix(0, s.bootWall+int64(first.Mono)).UTC()
	if first.Twin {
		// Only the headers of a packet already delivered from its egress
		// copy: what it says is the receiving socket's cgroup.
		if first.Cgroup != 0 && s.opts.OnSocket != nil {
			if src, dst, ok := ports(data); ok {
				s.opts.OnSocket(dst, src, first.Cgroup, ts)
			}
		}
		return capture.Packet{}, false
	}
	split := false
	if !first.L2 && first.Cgroup != 0 && s.opts.OnSocket != nil {
		if src, dst, ok := ports(data); ok {
			if first.Dir == packets.Egress {
				s.opts.OnSocket(src, dst, first.Cgroup, ts)
			} else {
				s.opts.OnSocket(dst, src, first.Cgroup, ts)
			}
		}
	}
	if !first.L2 {
		// Only the cgroup hooks see both ends of a local exchange.
		if first.Dir == packets.Egress {
			s.dedupe.Egress(data, ts)
		} else if s.dedupe.Ingress(data, ts) {
			s.count(func(st *Stats) { st.Duplicates++ })
			return capture.Packet{}, false
		}
		if oversize(data) {
			if pieces := splitTCP(data); pieces != nil {
				s.count(func(st *Stats) { st.Split++ })
				s.queue = pieces[1:]
				s.queueMeta = capture.Packet{Timestamp: ts, LinkType: lt}
				data = pieces[0]
				split = true
			}
		}
	}
	p := capture.Packet{Timestamp: ts, Data: data, LinkType: lt, CaptureLength: len(data), Length: max(len(data), int(first.Len))}
	if split {
		p.Length = len(data)
	}
	return p, s.keep(p)
}

// keep applies Options.Keep and counts the packet.
func (s *Source) keep(p capture.Packet) bool {
	if s.opts.Keep != nil && !s.opts.Keep(p) {
		s.count(func(st *Stats) { st.Filtered++ })
		return false
	}
	s.count(func(st *Stats) {
		st.Packets++
		st.Bytes += uint64(p.Length)
	})
	return true
}

func (s *Source) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// Stats returns the source's counts so far.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	st := s.stats
	s.mu.Unlock()
	st.QueuePeak = uint64(s.q.peakBytes())
	return st
}

// Kernel returns the kernel's counts: packets seen, lost to a full ring
// buffer, cut at the snap length.
func (s *Source) Kernel() (packets.Counters, error) { return s.probe.Counters() }

// Stop detaches the hooks; Next returns what is still in the ring buffer,
// then io.EOF. It is how capture ends without losing what was captured.
func (s *Source) Stop() error {
	s.stopOnce.Do(func() {
		s.stopErr = s.probe.Detach()
		s.stopping.Store(true)
	})
	return s.stopErr
}

// Close detaches the hooks and frees the kernel objects.
func (s *Source) Close() error {
	s.q.close()
	err := s.probe.Close()
	s.arena.close()
	return err
}

// ports reads the addresses and ports of a TCP or UDP packet that starts at
// its IP header (the cgroup hooks' packets); IPv6 extension headers and
// later fragments are not followed.
func ports(ip []byte) (src, dst netip.AddrPort, ok bool) {
	if len(ip) < 1 {
		return src, dst, false
	}
	var sa, da netip.Addr
	var l4 []byte
	switch ip[0] >> 4 {
	case 4:
		ihl := int(ip[0]&0xf) * 4
		if len(ip) < 20 || ihl < 20 || len(ip) < ihl+4 || (ip[9] != 6 && ip[9] != 17) || ip[6]&0x1f|ip[7] != 0 {
			return src, dst, false
		}
		sa, da = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
		l4 = ip[ihl:]
	case 6:
		if len(ip) < 44 || (ip[6] != 6 && ip[6] != 17) {
			return src, dst, false
		}
		sa, da = netip.AddrFrom16([16]byte(ip[8:24])).Unmap(), netip.AddrFrom16([16]byte(ip[24:40])).Unmap()
		l4 = ip[40:]
	default:
		return src, dst, false
	}
	return netip.AddrPortFrom(sa, uint16(l4[0])<<8|uint16(l4[1])), netip.AddrPortFrom(da, uint16(l4[2])<<8|uint16(l4[3])), true
}
