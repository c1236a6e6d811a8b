package packets

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Limits of the C program: a chunk holds at most ChunkMax bytes and a
// packet is split into at most maxChunks chunks.
const (
	ChunkMax  = 16384
	maxChunks = 32
	// MaxSnapLen is the largest snap length the program can honour.
	MaxSnapLen = ChunkMax * maxChunks
	// HeaderSize is the size of struct chunk_hdr.
	HeaderSize = 40
)

// ErrPermission means the process may not load or attach BPF programs.
var ErrPermission = errors.New("not permitted to load and attach BPF programs")

// Config tunes the programs and the ring buffer. Zero fields take defaults.
type Config struct {
	// SnapLen is how many bytes of each packet are kept (default 262144,
	// at most MaxSnapLen). GSO super-packets reach 64 KiB, and 512 KiB
	// with BIG TCP.
	SnapLen int
	// RingBytes is the ring buffer's size, a power of two (default 16 MiB).
	RingBytes int
	// WakeupEvery is how many records the kernel writes between forced
	// wake-ups of the reader (default 64); in between it writes without
	// waking it, and Read's poll interval picks the records up.
	WakeupEvery int
	// WakeupBytes forces a wake-up when this many bytes are waiting
	// (default a quarter of RingBytes), so a burst never waits for the
	// poll interval while the ring fills.
	WakeupBytes int
	// Ports, when set, makes the cgroup hooks skip packets whose source
	// and destination ports are both outside these inclusive ranges,
	// before they take ring space. Packets the hook cannot classify
	// (IPv6 extension headers, later IP fragments) are kept. The TC hooks
	// (AttachInterface) ignore it.
	Ports [][2]uint16
	// ForceTC makes AttachInterface use a clsact qdisc and cls_bpf
	// filters, its fallback for kernels without TCX, even where TCX
	// exists (tests; a kernel whose TCX misbehaves).
	ForceTC bool
}

func (c *Config) defaults() error {
	if c.SnapLen <= 0 {
		c.SnapLen = 262144
	}
	if c.SnapLen > MaxSnapLen {
		return fmt.Errorf("snap length %d: at most %d", c.SnapLen, MaxSnapLen)
	}
	if c.RingBytes <= 0 {
		c.RingBytes = 16 << 20
	}
	if c.RingBytes&(c.RingBytes-1) != 0 || c.RingBytes < os.Getpagesize() {
		return fmt.Errorf("ring buffer size %d: want a power of two of at least a page", c.RingBytes)
	}
	if c.WakeupEvery <= 0 {
		c.WakeupEvery = 64
	}
	if c.WakeupBytes <= 0 {
		c.WakeupBytes = c.RingBytes / 4
	}
	return nil
}

// Direction says whether the hook saw the packet leave or arrive.
type Direction uint8

// Directions, as the C program numbers them.
const (
	Ingress Direction = 0
	Egress  Direction = 1
)

func (d Direction) String() string {
	if d == Egress {
		return "egress"
	}
	return "ingress"
}

// Chunk is one ring-buffer record: part of a packet.
type Chunk struct {
	// Mono is when the hook ran, CLOCK_MONOTONIC nanoseconds.
	Mono uint64
	// Seq identifies the packet; all its chunks share it.
	Seq uint64
	// Cgroup is the cgroup v2 id of the socket (cgroup hooks only).
	Cgroup uint64
	// Len is the packet's full length; Off is where Data starts in it.
	Len, Off uint32
	// Ifindex is the interface the kernel associated with the packet.
	Ifindex uint32
	Dir     Direction
	// L2 is true when the packet starts at a link-layer header (TC hooks);
	// cgroup hooks see packets from the IP header on.
	L2 bool
	// Last is true for the packet's final chunk.
	Last bool
	// Twin marks the headers of an ingress packet whose egress copy the
	// cgroup hooks already delivered (both ends are local sockets). Data
	// holds only its first bytes; it is sent at most once a second per
	// flow so that the receiving socket's Cgroup is known, and is not a
	// packet to deliver.
	Twin bool
	// Data aliases the reader's buffer until the next ReadChunk.
	Data []byte
}

// Counters are the kernel's counts since Load.
type Counters struct {
	// Packets is every packet a hook saw.
	Packets uint64
	// Lost is packets not delivered because the ring buffer was full;
	// LostBytes is their length.
	Lost, LostBytes uint64
	// Snapped is packets longer than the snap length.
	Snapped uint64
	// Filtered is packets Config.Ports left out.
	Filtered uint64
	// Twins is ingress packets not copied because the egress hook had
	// copied them (local-to-local traffic whose addresses no NAT changed).
	Twins uint64
}

// Probe is the loaded programs, their attachments and the ring's reader.
type Probe struct {
	cfg      Config
	objs     packetsObjects
	links    []io.Closer
	rd       *ringbuf.Reader
	rec      ringbuf.Record
	attached []string
}

// Load loads the programs and creates the ring buffer; nothing is captured
// until an Attach method is called.
func Load(cfg Config) (*Probe, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
	if err := rlimit.RemoveMemlock(); err != nil && !errors.Is(err, unix.EPERM) {
		return nil, fmt.Errorf("raising the memlock limit: %w", err)
	}
	spec, err := loadPackets()
	if err != nil {
		return nil, fmt.Errorf("reading the packet programs: %w", err)
	}
	for name, v := range map[string]any{
		"snaplen":      uint32(cfg.SnapLen),
		"wakeup_every": uint32(cfg.WakeupEvery),
		"wakeup_bytes": uint64(cfg.WakeupBytes),
		"port_filter":  boolByte(len(cfg.Ports) > 0),
	} {
		if err := spec.Variables[name].Set(v); err != nil {
			return nil, fmt.Errorf("setting %s: %w", name, err)
		}
	}
	spec.Maps["events"].MaxEntries = uint32(cfg.RingBytes)
	p := &Probe{cfg: cfg}
	if err := spec.LoadAndAssign(&p.objs, nil); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, permission(err)
		}
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("the kernel's verifier refused the packet programs: %+v", ve)
		}
		return nil, fmt.Errorf("loading the packet programs: %w", err)
	}
	for _, r := range cfg.Ports {
		for port := uint32(r[0]); port <= uint32(r[1]); port++ {
			if err := p.objs.Ports.Put(port, uint8(1)); err != nil {
				p.objs.Close()
				return nil, fmt.Errorf("setting the port filter: %w", err)
			}
		}
	}
	p.rd, err = ringbuf.NewReader(p.objs.Events)
	if err != nil {
		p.objs.Close()
		return nil, fmt.Errorf("opening the ring buffer: %w", err)
	}
	return p, nil
}

// AttachCgroup captures every packet sent or received by a socket in the
// cgroup v2 directory path or below it: all local sockets when path is the
// root (CgroupRoot).
func (p *Probe) AttachCgroup(path string) error {
	for _, a := range []struct {
		prog *ebpf.Program
		typ  ebpf.AttachType
	}{
		{p.objs.CgroupIngress, ebpf.AttachCGroupInetIngress},
		{p.objs.CgroupEgress, ebpf.AttachCGroupInetEgress},
	} {
		l, err := link.AttachCgroup(link.CgroupOptions{Path: path, Attach: a.typ, Program: a.prog})
		if err != nil {
			return fmt.Errorf("attaching to cgroup %s: %w", path, permission(err))
		}
		p.links = append(p.links, l)
	}
	p.attached = append(p.attached, "cgroup "+path)
	return nil
}

// AttachInterface captures every packet crossing the named interface in
// either direction, with TCX (Linux 6.6+), or where the kernel has no TCX
// (or Config.ForceTC says so) with cls_bpf filters on a clsact qdisc, which
// it adds when the interface has none and removes on Detach.
func (p *Probe) AttachInterface(name string) error {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("interface %q: %w", name, err)
	}
	progs := []struct {
		prog   *ebpf.Program
		typ    ebpf.AttachType
		egress bool
	}{
		{p.objs.TcIngress, ebpf.AttachTCXIngress, false},
		{p.objs.TcEgress, ebpf.AttachTCXEgress, true},
	}
	var links []io.Closer
	undo := func() {
		for _, l := range links {
			l.Close()
		}
	}
	tc := p.cfg.ForceTC
	var qdisc io.Closer
	qdiscDone := false
	for _, a := range progs {
		if !tc {
			l, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: a.prog, Attach: a.typ})
			if err == nil {
				links = append(links, l)
				continue
			}
			if !errors.Is(err, ebpf.ErrNotSupported) {
				undo()
				return fmt.Errorf("attaching to interface %s: %w", name, permission(err))
			}
			tc = true
		}
		if !qdiscDone {
			qdiscDone = true
			q, err := addClsact(ifc.Index)
			if err != nil {
				undo()
				return fmt.Errorf("attaching to interface %s with TC (this kernel has no TCX, or ForceTC): %w", name, permission(err))
			}
			qdisc = q
		}
		l, err := attachClsact(ifc.Index, a.prog, a.egress)
		if err != nil {
			undo()
			if qdisc != nil {
				qdisc.Close()
			}
			return fmt.Errorf("attaching to interface %s with TC (this kernel has no TCX, or ForceTC): %w", name, permission(err))
		}
		links = append(links, l)
	}
	if qdisc != nil {
		links = append(links, qdisc) // closed after its filters
	}
	how := ""
	if tc {
		how = " (tc clsact)"
	}
	p.links = append(p.links, links...)
	p.attached = append(p.attached, "interface "+name+how)
	return nil
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func permission(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w: run as root, or grant CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (%v)", ErrPermission, err)
	}
	return err
}

// Attached names what the probe is attached to, e.g. "cgroup
// /sys/fs/cgroup" or "interface eth0".
func (p *Probe) Attached() []string { return p.attached }

// ReadChunk waits until deadline for the next chunk. It returns
// os.ErrDeadlineExceeded when none came, and ringbuf.ErrClosed after Close.
// Records the kernel wrote without a wake-up are read once the deadline
// passes, so the deadline bounds how long a chunk can wait.
func (p *Probe) ReadChunk(deadline time.Time, c *Chunk) error {
	p.rd.SetDeadline(deadline)
	if err := p.rd.ReadInto(&p.rec); err != nil {
		return err
	}
	return parseChunk(p.rec.RawSample, c)
}

// ErrShortRecord means a ring-buffer record is too short for its header or
// for the data length it claims; it indicates a loader and program mismatch.
var ErrShortRecord = errors.New("short ring-buffer record")

func parseChunk(b []byte, c *Chunk) error {
	if len(b) < HeaderSize {
		return fmt.Errorf("%w: %d bytes", ErrShortRecord, len(b))
	}
	le := binary.LittleEndian
	*c = Chunk{
		Mono:    le.Uint64(b[0:]),
		Seq:     le.Uint64(b[8:]),
		Cgroup:  le.Uint64(b[16:]),
		Len:     le.Uint32(b[24:]),
		Off:     le.Uint32(b[28:]),
		Ifindex: le.Uint32(b[32:]),
		Dir:     Direction(b[38]),
		L2:      b[39]&1 != 0,
		Last:    b[39]&2 != 0,
		Twin:    b[39]&4 != 0,
	}
	n := int(le.Uint16(b[36:]))
	if HeaderSize+n > len(b) {
		return fmt.Errorf("%w: %d bytes of data claimed, %d present", ErrShortRecord, n, len(b)-HeaderSize)
	}
	c.Data = b[HeaderSize : HeaderSize+n]
	return nil
}

// Counters sums the kernel's per-CPU counters.
func (p *Probe) Counters() (Counters, error) {
	var out Counters
	dst := []*uint64{&out.Packets, &out.Lost, &out.LostBytes, &out.Snapped, &out.Filtered, &out.Twins}
	for i, d := range dst {
		var per []uint64
		if err := p.objs.Counters.Lookup(uint32(i), &per); err != nil {
			return out, fmt.Errorf("reading counter %d: %w", i, err)
		}
		for _, v := range per {
			*d += v
		}
	}
	return out, nil
}

// Detach removes the programs from everything they are attached to; chunks
// already in the ring can still be read.
func (p *Probe) Detach() error {
	var errs []error
	for _, l := range p.links {
		errs = append(errs, l.Close())
	}
	p.links = nil
	return errors.Join(errs...)
}

// Close detaches the programs and frees the ring buffer; a ReadChunk
// in progress returns ringbuf.ErrClosed.
func (p *Probe) Close() error {
	err := p.Detach()
	return errors.Join(err, p.rd.Close(), p.objs.Close())
}

// CgroupRoot finds where the cgroup v2 hierarchy is mounted, from
// /proc/mounts: /sys/fs/cgroup on most systems, /sys/fs/cgroup/unified in
// hybrid set-ups.
func CgroupRoot() (string, error) {
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return "", fmt.Errorf("finding the cgroup v2 mount: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 3 && fields[2] == "cgroup2" {
			return fields[1], nil
		}
	}
	return "", errors.New("no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup): the cgroup hooks need one; -i IFACE captures interfaces without it")
}
