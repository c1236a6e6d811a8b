package tls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// Config tunes a Tracer. The zero value traces OpenSSL and Go.
type Config struct {
	// NoOpenSSL and NoGo turn off one kind of hook.
	NoOpenSSL bool
	NoGo      bool
	// RingBytes is the ring buffer's size, a power of two multiple of the
	// page size (default 8 MiB).
	RingBytes int
	// Buffer is how many events Events holds before the reader waits (and
	// the ring buffer, then the kernel, starts dropping and counting).
	// Default 4096.
	Buffer int
	// ProgramStats turns on the kernel's run-time accounting of BPF
	// programs while the tracer runs, for ProgramCosts.
	ProgramStats bool
	Logger       *slog.Logger
}

// Stats says what a Tracer has hooked and what it lost.
type Stats struct {
	// Libraries and Binaries are the libssl files and Go executables
	// hooked, by path.
	Libraries []string
	Binaries  []string
	// Processes is how many running processes map a hooked library or run
	// a hooked binary, as last seen.
	Processes int
	// Events and Bytes count plaintext delivered.
	Events, Bytes uint64
	// Lost counts ring-buffer records the kernel could not queue (buffer
	// full); Truncated the bytes beyond the per-call cap (64 KiB).
	Lost, Truncated uint64
	// NoSocket counts calls whose socket was not found (no syscall inside
	// the call yet on that connection, or not an inet socket).
	NoSocket uint64
	// Errors are the files that could not be hooked, each "cannot hook
	// PATH: why"; the tracer keeps going without them.
	Errors []string
}

// ErrNotPermitted is returned by Start when the process may not load BPF
// programs (it needs root, or CAP_BPF with CAP_PERFMON and CAP_SYS_ADMIN).
var ErrNotPermitted = errors.New("loading BPF programs is not permitted: run as root (or with CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN)")

// Tracer captures TLS plaintext until Close.
type Tracer struct {
	cfg     Config
	log     *slog.Logger
	noMulti bool // the kernel has no uprobe_multi links
	objs    tlsProbeObjects
	links   []link.Link
	rd      *ringbuf.Reader
	events  chan Event
	// monoToWall converts the kernel's CLOCK_MONOTONIC stamps.
	monoToWall int64

	mu        sync.Mutex
	hooked    map[fileID]string // libssl and Go files hooked, by inode
	libs      []string
	bins      []string
	errs      []string
	procs     map[uint32]bool
	closed    bool
	final     [3]uint64 // kernel counters at Close
	failed    map[fileID]bool
	rescans   chan uint32
	nevents   atomic.Uint64
	nbytes    atomic.Uint64
	nnosocket atomic.Uint64

	stop chan struct{} // closed by Close
	// draining tells the reader, once the hooks are gone, to stop at
	// the first empty read; readDone is closed when it has stopped.
	draining atomic.Bool
	readDone chan struct{}
	statsOn  interface{ Close() error } // holds BPF run-time statistics on
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once
}

// Start loads the BPF program, hooks every libssl and Go binary in use (and
// the system's libssl files, so that processes started later are covered),
// and starts delivering Events. Files that cannot be hooked are listed in
// Stats.Errors; Start fails only when nothing can be traced at all.
func Start(ctx context.Context, cfg Config) (*Tracer, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 4096
	}
	if err := EnsureTracefs(); err != nil {
		return nil, err
	}
	spec, err := loadTlsProbe()
	if err != nil {
		return nil, fmt.Errorf("tls: loading the BPF object: %w", err)
	}
	if cfg.RingBytes > 0 {
		spec.Maps["events"].MaxEntries = uint32(cfg.RingBytes)
	}
	if err := spec.Variables["wakeup_bytes"].Set(uint64(spec.Maps["events"].MaxEntries / 4)); err != nil {
		return nil, fmt.Errorf("tls: setting wakeup_bytes: %w", err)
	}
	t := &Tracer{
		cfg:      cfg,
		log:      cfg.Logger,
		events:   make(chan Event, cfg.Buffer),
		hooked:   map[fileID]string{},
		failed:   map[fileID]bool{},
		procs:    map[uint32]bool{},
		rescans:  make(chan uint32, 1024),
		stop:     make(chan struct{}),
		readDone: make(chan struct{}),
	}
	err = spec.LoadAndAssign(&t.objs, nil)
	if err != nil && !errors.Is(err, unix.EPERM) {
		// A kernel without uprobe_multi (before 6.6) refuses those
		// programs: load the single-uprobe ones in their place and attach
		// each RET on its own.
		spec.Programs["go_tls_enter_multi"] = spec.Programs["go_tls_enter"].Copy()
		spec.Programs["go_tls_ret_multi"] = spec.Programs["go_tls_ret"].Copy()
		t.noMulti = true
		err = spec.LoadAndAssign(&t.objs, nil)
	}
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("tls: %w (%v)", ErrNotPermitted, err)
		}
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("tls: the kernel rejected the BPF program: %+v", ve)
		}
		return nil, fmt.Errorf("tls: loading the BPF programs: %w", err)
	}
	if cfg.ProgramStats {
		if t.statsOn, err = enableStats(); err != nil {
			t.objs.Close()
			return nil, err
		}
	}
	var mono unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	t.monoToWall = time.Now().UnixNano() - mono.Nano()

	fail := func(err error) (*Tracer, error) {
		t.closeLinks()
		if t.statsOn != nil {
			t.statsOn.Close()
		}
		t.objs.Close()
		return nil, err
	}
	// The ring buffer's reader first, so no event is lost to a full buffer
	// while the hooks go in.
	if t.rd, err = ringbuf.NewReader(t.objs.Events); err != nil {
		return fail(fmt.Errorf("tls: opening the ring buffer: %w", err))
	}
	tps := []struct {
		group, name string
		prog        *ebpf.Program
	}{
		{"sched", "sched_process_exec", t.objs.SchedExec},
		{"sched", "sched_process_exit", t.objs.SchedExit},
		{"syscalls", "sys_enter_close", t.objs.SysEnterClose},
	}
	if !cfg.NoOpenSSL {
		// The socket syscalls an SSL call makes: the first names its fd.
		for _, sc := range []string{"read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg"} {
			tps = append(tps, struct {
				group, name string
				prog        *ebpf.Program
			}{"syscalls", "sys_enter_" + sc, t.objs.SysEnterFd})
		}
	}
	for _, tp := range tps {
		l, err := link.Tracepoint(tp.group, tp.name, tp.prog, nil)
		if err != nil {
			t.rd.Close()
			return fail(fmt.Errorf("tls: attaching to tracepoint %s:%s: %w", tp.group, tp.name, err))
		}
		t.links = append(t.links, l)
	}

	ctx, t.cancel = context.WithCancel(ctx)
	t.wg.Add(2)
	go func() {
		defer t.wg.Done()
		t.read()
	}()
	go func() {
		defer t.wg.Done()
		t.rescan(ctx)
	}()
	t.scanAll()
	if !cfg.NoOpenSSL {
		for _, p := range systemLibssl() {
			t.hookLibssl(p)
		}
	}
	go func() {
		<-ctx.Done()
		t.Close()
	}()
	return t, nil
}

// Events delivers plaintext in the order the kernel saw it, per thread.
// It is closed after Close.
func (t *Tracer) Events() <-chan Event { return t.events }

// Stats returns what the tracer hooked and counted so far.
func (t *Tracer) Stats() Stats {
	t.mu.Lock()
	s := Stats{
		Libraries: append([]string(nil), t.libs...),
		Binaries:  append([]string(nil), t.bins...),
		Errors:    append([]string(nil), t.errs...),
		Processes: len(t.procs),
	}
	t.mu.Unlock()
	sort.Strings(s.Libraries)
	sort.Strings(s.Binaries)
	s.Events = t.nevents.Load()
	s.Bytes = t.nbytes.Load()
	s.NoSocket = t.nnosocket.Load()
	k := t.kernelStats()
	s.Lost, s.Truncated, s.NoSocket = k[0], k[1], s.NoSocket+k[2]
	return s
}

// kernelStats sums the BPF program's per-CPU counters: lost, truncated,
// no fd. After Close it returns their last values.
func (t *Tracer) kernelStats() [3]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return t.final
	}
	var out [3]uint64
	var per []uint64
	for i := range out {
		if t.objs.Stats.Lookup(uint32(i), &per) == nil {
			for _, v := range per {
				out[i] += v
			}
		}
	}
	return out
}

// Close detaches every hook and closes Events. It is safe to call more
// than once.
func (t *Tracer) Close() error {
	t.once.Do(func() {
		t.cancel()
		t.closeLinks()
		// Records the kernel wrote without waking the reader may still
		// be in the ring: the reader takes them, then stops, unless
		// nobody reads Events any more and it is stuck handing one over.
		t.draining.Store(true)
		select {
		case <-t.readDone:
		case <-time.After(drainWait):
		}
		close(t.stop)
		t.rd.Close()
		t.wg.Wait()
		final := t.kernelStats()
		t.mu.Lock()
		t.final, t.closed = final, true
		t.mu.Unlock()
		if t.statsOn != nil {
			t.statsOn.Close()
		}
		t.objs.Close()
		close(t.events)
	})
	return nil
}

// closeLinks detaches every hook. Detaching a uprobe waits for an RCU
// grace period, and a Go binary has a probe per RET: closing them one after
// another took seconds, so they are closed side by side, and the waits
// overlap.
func (t *Tracer) closeLinks() {
	t.mu.Lock()
	links := t.links
	t.links = nil
	t.mu.Unlock()
	var wg sync.WaitGroup
	next := make(chan link.Link)
	for range min(len(links), 64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range next {
				l.Close()
			}
		}()
	}
	for _, l := range links {
		next <- l
	}
	close(next)
	wg.Wait()
}

func (t *Tracer) addError(path string, err error) {
	msg := fmt.Sprintf("cannot hook %s: %v", path, err)
	t.log.Warn("tls: " + msg)
	t.mu.Lock()
	t.errs = append(t.errs, msg)
	t.mu.Unlock()
}

// readPoll is the longest a plaintext record written without a wake-up
// waits for the reader: well inside the 100 ms the plaintext is reordered
// in.
const readPoll = 20 * time.Millisecond

// drainWait bounds how long Close waits for the reader to take the
// records left in the ring.
const drainWait = 500 * time.Millisecond

// read turns ring-buffer records into Events until the reader is closed.
func (t *Tracer) read() {
	defer close(t.readDone)
	var rec ringbuf.Record
	for {
		// The kernel wakes the reader only every few records (see
		// wakeup_flag in tls.c): the deadline bounds how long the others
		// wait. Draining, it reads what is there and stops.
		draining := t.draining.Load()
		deadline := time.Now().Add(readPoll)
		if draining {
			deadline = time.Now()
		}
		t.rd.SetDeadline(deadline)
		if err := t.rd.ReadInto(&rec); err != nil {
			if errors.Is(err, ringbuf.ErrClosed) || (draining && errors.Is(err, os.ErrDeadlineExceeded)) {
				return
			}
			continue
		}
		r, ok := parseRaw(rec.RawSample)
		if !ok {
			continue
		}
		switch r.kind {
		case kindExec:
			select {
			case t.rescans <- r.pid:
			default:
			}
			continue
		case kindExit:
			t.mu.Lock()
			delete(t.procs, r.pid)
			t.mu.Unlock()
			continue
		}
		if !r.remote.IsValid() {
			if r.kind == kindData && r.offset == 0 {
				t.nnosocket.Add(1)
			}
			continue
		}
		e := Event{
			Kind:      Data,
			Time:      time.Unix(0, int64(r.ts)+t.monoToWall),
			PID:       r.pid,
			TID:       r.tid,
			Comm:      r.comm,
			FD:        r.fd,
			Conn:      r.conn,
			Local:     r.local,
			Remote:    r.remote,
			Direction: Direction(r.dir),
			Library:   OpenSSL,
		}
		if r.lib == 1 {
			e.Library = Go
		}
		if r.kind == kindClose {
			e.Kind = Closed
		} else {
			e.Data = append([]byte(nil), r.data...)
			if end := r.offset + uint64(len(r.data)); end == callCapture && r.total > callCapture {
				e.Truncated = int(r.total - callCapture)
			}
			t.nevents.Add(1)
			t.nbytes.Add(uint64(len(e.Data)))
		}
		select {
		case t.events <- e:
		case <-t.stop:
			// Closing, and nobody reads Events any more.
			return
		}
	}
}

// rescan looks at processes that exec'd for new libssl files and Go
// binaries. A library is mapped by the dynamic loader after exec, so each
// process is looked at twice: soon, and once its start-up is over.
func (t *Tracer) rescan(ctx context.Context) {
	type later struct {
		pid uint32
		at  time.Time
	}
	var queue []later
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case pid := <-t.rescans:
			t.scanExe(pid)
			now := time.Now()
			queue = append(queue, later{pid, now.Add(30 * time.Millisecond)}, later{pid, now.Add(time.Second)})
		case now := <-tick.C:
			keep := queue[:0]
			for _, l := range queue {
				if now.Before(l.at) {
					keep = append(keep, l)
					continue
				}
				t.scanMaps(l.pid)
			}
			queue = keep
		}
	}
}

// scanAll hooks what every running process uses.
func (t *Tracer) scanAll() {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range ents {
		var pid uint32
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == 0 {
			continue
		}
		t.scanExe(pid)
		t.scanMaps(pid)
	}
}
