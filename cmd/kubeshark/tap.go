package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kubeshark-wasm/kubeshark/bpf/packets"
	bpftls "github.com/kubeshark-wasm/kubeshark/bpf/tls"
	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture/live"
	"github.com/kubeshark-wasm/kubeshark/runtime/diskguard"
	"github.com/kubeshark-wasm/kubeshark/runtime/l4"
	"github.com/kubeshark-wasm/kubeshark/runtime/packetlog"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/pktfilter"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

type tapOpts struct {
	kube        kubeOpts
	ifaces      []string
	filter      string
	duration    time.Duration
	hubAddr     string
	noHub       bool
	dissectors  []string
	workers     int
	packetsSize int64
	snapLen     int
	ringSize    int
	noStatus    bool
	tls         bool
	l4          bool
	tcClsact    bool
	// allowDestructive lets the hub's destructive routes through (plugin
	// install, enable, disable, remove; enable/disable_dissection).
	allowDestructive bool
	decodeAs         []string
	// diskReserve is the space tap keeps free on the data directory's
	// file system (runtime/diskguard).
	diskReserve int64
}

func newTapCmd(g *globals) *cobra.Command {
	o := &tapOpts{}
	var co *clusterOpts
	cmd := &cobra.Command{
		Use:   "tap",
		Short: "Capture live traffic from the kernel (eBPF), dissect it and store it as it happens",
		Long: `Captures the traffic of every local socket (cgroup_skb hooks at the cgroup
v2 root; with -i, the named interfaces through TCX), dissects it like
kubeshark import and stores the records as they happen, until Ctrl-C, SIGTERM
or --duration; then it stores what is still in flight and exits.

While it runs it serves the hub (JSON API and MCP, token from
kubeshark hub token) on 127.0.0.1:8898, and kubeshark calls, call and mcp
pointed at the same --data go through it. Needs root (or CAP_BPF,
CAP_PERFMON and CAP_NET_ADMIN).

It also captures the plaintext of TLS connections made through OpenSSL's
libssl (1.1, 3) or Go's crypto/tls, with uprobes, unless --tls=false: their
records carry tls: true (KFL: http && tls), and the connection's encrypted
packets make no second record. TLS needs tracefs (mounted when missing) and
root; when it cannot start, tap warns and captures packets.

  sudo kubeshark tap
  sudo kubeshark tap --filter 'tcp port 80 or tcp port 6379' --duration 5m
  sudo kubeshark tap -i eth0 --no-hub

With --cluster it installs (or upgrades) kubeshark in the cluster of your
kubeconfig instead: the hub and a worker running tap on every node (see
kubeshark proxy, kubeshark mcp --proxy, kubeshark clean).

  kubeshark tap --cluster [--namespace NS] [--context C] [--set worker.privileged=true]

--kubernetes (in a pod: the in-cluster config; else --kubeconfig/--context)
names the records' ends with pods, services, nodes and workloads, from a
history of the cluster kept with the store, and maps the pods' cgroups
found under /sys/fs/cgroup to containers and pods.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if co.cluster {
				return runTapCluster(cmd.Context(), g, co, cmd)
			}
			for _, name := range clusterOnly {
				if cmd.Flags().Changed(name) {
					return fmt.Errorf("--%s applies to --cluster", name)
				}
			}
			return runTap(cmd.Context(), g, o, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.ifaces, "interface", "i", nil, "capture this interface (TCX) instead of every local socket; repeatable")
	f.StringVar(&o.filter, "filter", "", `tcpdump-style packet filter, e.g. 'tcp port 80 or host 10.0.0.5'`)
	f.DurationVar(&o.duration, "duration", 0, "stop after this long (0: until Ctrl-C or SIGTERM)")
	f.StringVar(&o.hubAddr, "hub-addr", hub.DefaultAddr, "serve the hub (JSON API and MCP) on this address while capturing")
	f.BoolVar(&o.noHub, "no-hub", false, "do not serve the hub")
	f.StringArrayVar(&o.dissectors, "dissector", nil, "also load this dissector module (.wasm); repeatable")
	f.IntVar(&o.workers, "workers", 0, "dissection workers (default: one per CPU)")
	f.Int64Var(&o.packetsSize, "packets-size", packetlog.DefaultMaxBytes, "keep the raw packets for snapshots and pcap export in a FIFO of at most this many bytes (0: keep none)")
	f.IntVar(&o.snapLen, "snaplen", 262144, fmt.Sprintf("bytes kept of each packet (at most %d)", packets.MaxSnapLen))
	f.IntVar(&o.ringSize, "ring-size", 16<<20, "kernel ring buffer size in bytes (a power of two)")
	f.BoolVar(&o.noStatus, "no-status", false, "no live status line, even on a terminal")
	f.BoolVar(&o.allowDestructive, "allow-destructive", false, "let the hub change state: plugin install/enable/disable/remove through it (kubeshark plugin install --url), enable_dissection, disable_dissection")
	f.StringArrayVar(&o.decodeAs, "decode-as", nil, "dissect connections on PORT with the dissector (or protocol) NAME, without probing, as tshark's decode-as: PORT=NAME; repeatable")
	o.kube.addFlags(f, true)
	f.Int64Var(&o.diskReserve, "disk-reserve", defaultDiskReserve, "stop capturing, store what is in flight and exit with an error when less than this many bytes are left on the --data file system")
	f.BoolVar(&o.tls, "tls", true, "also capture TLS plaintext (uprobes on OpenSSL's libssl and Go crypto/tls); --tls=false captures packets only")
	f.BoolVar(&o.tcClsact, "tc-clsact", false, "with -i, attach with a TC clsact qdisc and filters (the fallback for kernels without TCX) even where TCX exists")
	f.MarkHidden("tc-clsact")
	f.BoolVar(&o.l4, "l4", true, "also trace TCP connection events (tracepoints: connect, accept, state changes, retransmits, resets), so flows carry their processes, cgroup ids and kernel counts")
	co = addClusterTapFlags(cmd)
	return cmd
}

// defaultDiskReserve is the room tap keeps on the data directory's file
// system: what it may still write once the guard stops it (the records in
// flight, the store's memtables flushed to tables, the value log's and the
// packet log's buffers) with a wide margin.
const defaultDiskReserve = 128 << 20

// diskGuardEvery is how often tap measures the room left: tap's own writes
// at 64 KiB bodies and 2,000 requests/s (~250 MB/s with the packet log)
// take a fraction of the reserve between two looks.
const diskGuardEvery = 100 * time.Millisecond

// tapSource is one kind of live capture that tap runs into the store: the
// packet hooks and the TLS plaintext hooks. Each feeds its own run of the
// one pipeline and stops on Stop,
// storing what it still holds before Run returns.
type tapSource interface {
	// Attached says what it captures, for the `capturing` line.
	Attached() []string
	// Run captures and stores until Stop, then drains and returns.
	Run(ctx context.Context) error
	Stop()
	// Status is its part of the status line.
	Status() string
	// Summary is printed when tap ends.
	Summary(w io.Writer)
	Close() error
}

func runTap(ctx context.Context, g *globals, o *tapOpts, stderr io.Writer) error {
	if o.duration < 0 {
		return fmt.Errorf("--duration %s: must be positive", o.duration)
	}
	if o.diskReserve < 0 {
		return fmt.Errorf("--disk-reserve %d: must not be negative", o.diskReserve)
	}
	reserve := uint64(o.diskReserve)
	var keep func(capture.Packet) bool
	probe := packets.Config{SnapLen: o.snapLen, RingBytes: o.ringSize, ForceTC: o.tcClsact}
	if o.filter != "" {
		f, err := pktfilter.Compile(o.filter)
		if err != nil {
			return fmt.Errorf("--filter: %w", err)
		}
		keep = f.Match
		// A filter that names ports is applied in the kernel too, so
		// other traffic takes no ring space.
		if r, ok := f.PortRanges(); ok {
			probe.Ports = r
		}
	}
	// Fail before compiling the dissectors, which takes a while.
	if err := live.CheckPrivileges(); err != nil {
		return fmt.Errorf("tap: %w", err)
	}
	if n := sudoNote(os.Getenv("SUDO_USER"), os.Getenv("KUBESHARK_DATA") != "", g.dataDir, defaultDataDir()); n != "" {
		fmt.Fprintln(stderr, n)
	}
	l, err := loadDissectors(ctx, g, o.dissectors)
	if err != nil {
		return err
	}
	defer l.close(context.Background())
	decodeAs, err := parseDecodeAs(o.decodeAs, l)
	if err != nil {
		return err
	}
	// tap's store runs for hours: its tables leave the resident set as
	// its value log does, or RSS grows with every table compaction writes.
	st, err := openStore(ctx, g, storage.Options{ReleaseTables: true})
	if err != nil {
		return err
	}
	defer st.Close()
	// The store writes through memory mappings, which fault (SIGBUS)
	// instead of failing when the disk is full: tap stops while there is
	// still room to store what it holds (runtime/diskguard).
	if err := diskguard.Check(g.dataDir, reserve); err != nil {
		return fmt.Errorf("tap: not starting: %w; free some space there, or point --data at a larger file system (--disk-reserve sets the room kept)", err)
	}
	writesBefore := st.Writes()
	if o.kube.on() {
		o.kube.cgroupRoot = cgroupV2Root()
		_, stopKube, err := startKube(ctx, g, &o.kube, st, stderr)
		if err != nil {
			return err
		}
		defer stopKube()
	}
	engines, err := enabledEngines(ctx, st, l, g)
	if err != nil {
		return err
	}
	plog, closeLog, err := openPacketLog(ctx, g, o.packetsSize, true)
	if err != nil {
		return err
	}
	defer closeLog()

	// The connection table annotates what the pipeline stores; the packet
	// hooks give it cgroup ids even when the TCP events cannot run.
	tab := l4.New()
	var sink pipeline.Sink = st
	var onSocket func(local, remote netip.AddrPort, cgroup uint64, at time.Time)
	var l4run *tapL4
	var l4s *l4Sink
	if o.l4 {
		l4s = newL4Sink(st, tab, g.logger())
		defer l4s.close() // on early returns; a second close is a no-op
		sink, onSocket = l4s, tab.SeenPacket
		if l4run, err = startL4(context.WithoutCancel(ctx), tab); err != nil {
			fmt.Fprintf(stderr, "warning: TCP connection events are not traced (flows get no process): %v (--l4=false turns this off without the warning)\n", err)
		}
	}
	src, err := live.Open(ctx, live.Options{
		Interfaces: o.ifaces,
		Probe:      probe,
		Keep:       keep,
		OnSocket:   onSocket,
		Logger:     g.logger(),
	})
	if err != nil {
		l4run.stop()
		return fmt.Errorf("tap: %w", err)
	}
	pkt := &packetSource{src: src, plog: plog, since: time.Now().UTC(), p: pipeline.New(pipeline.Config{Workers: o.workers, Logger: g.logger(), NewID: storage.NewID, DecodeAs: mergePins(l.pins, decodeAs)}, engines, sink)}
	sources := []tapSource{pkt}
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()
	liveCapture := &tapCapture{pkt: pkt}
	if o.tls {
		// The tracer ends with its context: it must outlive the first
		// signal, which only stops it, so that what it holds is stored.
		ts, err := startTLS(context.WithoutCancel(ctx), g, pkt.p, keep)
		switch {
		case errors.Is(err, bpftls.ErrNotPermitted):
			fmt.Fprintf(stderr, "warning: TLS plaintext is not captured: %v; run tap as root, or pass --tls=false to capture packets only\n", err)
		case err != nil:
			fmt.Fprintf(stderr, "warning: TLS plaintext is not captured: %v (--tls=false captures packets only without this warning)\n", err)
		default:
			sources = append(sources, ts)
			liveCapture.tls = ts
		}
	}

	var hubURL string
	if !o.noHub {
		stopHub, url, err := serveTapHub(ctx, g, o, st, liveCapture, stderr)
		if err != nil {
			return err
		}
		defer stopHub()
		hubURL = url
	}
	what := strings.Join(pkt.Attached(), ", ")
	if len(o.ifaces) == 0 {
		what += " (packets of every local socket)"
	} else {
		what += " (packets)"
	}
	if o.filter != "" {
		what += fmt.Sprintf(", filter %q", o.filter)
	}
	for _, s := range sources[1:] {
		what += "; " + strings.Join(s.Attached(), ", ")
	}
	if l4run != nil {
		what += "; TCP events (tracepoints sock:inet_sock_set_state, tcp:tcp_retransmit_skb, tcp:tcp_send_reset, tcp:tcp_receive_reset, accept)"
	}
	if hubURL != "" {
		what += "; hub on " + hubURL
	}
	fmt.Fprintf(stderr, "capturing on %s; storing in %s (Ctrl-C stops)\n", what, g.dataDir)
	fmt.Fprintln(stderr, dissectorSetLine(l, g.dataDir))

	// Signals and --duration stop the sources, which then drain; a second
	// signal abandons the drain.
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	// The command's context ends on the first signal (main's
	// NotifyContext); capture must outlive it to drain, so it ends only
	// on a second signal.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var timer <-chan time.Time
	if o.duration > 0 {
		t := time.NewTimer(o.duration)
		defer t.Stop()
		timer = t.C
	}
	var stopping atomic.Bool
	stopAll := func() {
		if stopping.CompareAndSwap(false, true) {
			for _, s := range sources {
				s.Stop()
			}
		}
	}
	done := make(chan struct{})
	go func() {
		parent := ctx.Done()
		// Signals are counted on sig alone: the first also ends the
		// parent context, and whichever of the two the select sees first,
		// only a second signal abandons the drain (--duration having
		// stopped the sources first is not a signal).
		signals := 0
		for {
			select {
			case <-done:
				return
			case <-parent:
				stopAll()
				parent = nil
			case <-timer:
				stopAll()
			case <-sig:
				if signals++; signals >= 2 {
					cancel()
					return
				}
				stopAll()
			}
		}
	}()
	var status *statusLine
	if !o.noStatus {
		if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			status = startStatus(f, sources)
		}
	}
	// A plugin installed, enabled, disabled or removed while tap runs
	// changes the set of the streams opened afterwards.
	watchCtx, stopWatch := context.WithCancel(runCtx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watchPlugins(watchCtx, g, l.gen, func(ctx context.Context, gen string) error {
			oldPins := l.pins
			added, removed, lerr := l.reload(ctx, g, gen)
			if !maps.Equal(oldPins, l.pins) {
				pkt.p.SetDecodeAs(mergePins(l.pins, decodeAs))
				fmt.Fprintf(stderr, "plugin port pins changed: %v\n", l.pins)
			}
			if len(added)+len(removed) > 0 {
				engines, err := enabledEngines(ctx, st, l, g)
				if err != nil {
					return err
				}
				pkt.p.SetDissectors(engines)
				fmt.Fprintf(stderr, "plugins changed (%s): new connections are dissected by %d dissectors\n", setChange(added, removed), len(engines))
			}
			return lerr
		})
	}()
	// A full disk stops every source, whether the guard saw it coming or
	// a write (the packet log's) failed first; then what they hold is
	// stored in the room the guard kept.
	var diskMu sync.Mutex
	var diskErr error
	diskFull := func(err error) {
		diskMu.Lock()
		first := diskErr == nil
		if first {
			diskErr = err
		}
		diskMu.Unlock()
		if first {
			fmt.Fprintf(stderr, "tap: %v: stopping capture and storing what is in flight\n", err)
		}
		stopAll()
	}
	guardCtx, stopGuard := context.WithCancel(runCtx)
	guarded := make(chan struct{})
	go func() {
		defer close(guarded)
		if reserve > 0 {
			diskguard.Watch(guardCtx, g.dataDir, reserve, diskGuardEvery, diskFull)
		}
	}()
	errs := make([]error, len(sources))
	var wg sync.WaitGroup
	for i, s := range sources {
		wg.Go(func() {
			errs[i] = s.Run(runCtx)
			if errors.Is(errs[i], syscall.ENOSPC) {
				diskFull(errs[i])
			}
		})
	}
	wg.Wait()
	stopGuard()
	<-guarded
	stopWatch()
	<-watched
	close(done)
	status.stop()
	l4s.close()
	if err := l4run.stop(); err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
	errsBy := map[string]*pipeline.DissectorErrors{}
	for _, s := range sources {
		var ps pipeline.Stats
		switch s := s.(type) {
		case *packetSource:
			ps = s.stats
		case *tlsSource:
			ps = s.pipelineStats()
		}
		for name, e := range ps.ErrorsByDissector {
			if errsBy[name] == nil {
				errsBy[name] = &pipeline.DissectorErrors{}
			}
			errsBy[name].Merge(e)
		}
	}
	if err := saveHealth(context.Background(), st, l, errsBy); err != nil {
		g.logger().Warn("saving dissector health", "err", err)
	}
	// A plugin's fields stay in filters for as long as its records are
	// stored, as after an import.
	byProtocol := map[string]int64{}
	for _, s := range sources {
		var ps pipeline.Stats
		switch s := s.(type) {
		case *packetSource:
			ps = s.stats
		case *tlsSource:
			ps = s.pipelineStats()
		}
		for p, n := range ps.ByProtocol {
			byProtocol[p] += n
		}
	}
	if err := saveManifests(context.Background(), st, l, byProtocol); err != nil {
		g.logger().Warn("saving dissector manifests", "err", err)
	}
	for _, s := range sources {
		s.Summary(stderr)
	}
	l4run.Summary(stderr)
	stored := st.Writes().Sub(writesBefore)
	fmt.Fprintf(stderr, "tap: stored %s and %s in %s\n", plural(int(stored.Records), "record"), plural(int(stored.Flows), "flow"), g.dataDir)
	// tap takes no retention flags: the limits an import saved for this
	// data directory apply when capture stops, as after an import.
	if lim, err := resolveRetention(context.WithoutCancel(ctx), st, 0, false, 0, false); err != nil {
		g.logger().Warn("reading the saved retention limits", "err", err)
	} else if res, err := applyRetention(context.WithoutCancel(ctx), st, plog, lim); err != nil {
		g.logger().Warn("applying retention", "err", err)
	} else {
		printRetention(stderr, res)
	}
	if diskErr != nil {
		stored := st.Writes().Sub(writesBefore)
		return &exitError{code: 1, msg: fmt.Sprintf("tap stopped: %v. The %d records it stored (and any stored before) are kept. Free some space there, or point --data at a larger file system (--disk-reserve sets the room kept)", diskErr, stored.Records)}
	}
	if err := errors.Join(errs...); err != nil {
		if errors.Is(err, context.Canceled) {
			return &exitError{code: 130, msg: "tap interrupted twice; records stored so far are kept"}
		}
		return err
	}
	return nil
}

// packetSource is the packet hooks feeding one pipeline.
type packetSource struct {
	src   *live.Source
	plog  *packetlog.Writer
	p     *pipeline.Pipeline
	stats pipeline.Stats
	since time.Time

	mu       sync.Mutex
	lastRecs int64
	lastAt   time.Time
	rate     float64
}

func (s *packetSource) Attached() []string { return s.src.Attached() }
func (s *packetSource) Stop()              { s.src.Stop() }
func (s *packetSource) Close() error       { return s.src.Close() }

func (s *packetSource) Run(ctx context.Context) error {
	var in capture.Source = s.src
	if s.plog != nil {
		in = packetlog.Tee(s.src, s.plog)
	}
	st, err := s.p.Run(ctx, in)
	s.stats = st
	return err
}

func (s *packetSource) Status() string {
	ls := s.src.Stats()
	k, _ := s.src.Kernel()
	ps := s.p.Progress()
	s.mu.Lock()
	now := time.Now()
	if !s.lastAt.IsZero() {
		if dt := now.Sub(s.lastAt).Seconds(); dt > 0 {
			s.rate = float64(ps.Records-s.lastRecs) / dt
		}
	}
	s.lastRecs, s.lastAt = ps.Records, now
	rate := s.rate
	s.mu.Unlock()
	return fmt.Sprintf("%d packets (%s), %d dropped, %d streams, %d records (%.0f/s)",
		ls.Packets, humanBytes(int64(ls.Bytes)), k.Lost, ps.Streams, ps.Records, rate)
}

// CaptureStatus implements mcp.LiveCapture.
func (s *packetSource) CaptureStatus() mcp.CaptureStatus {
	ls := s.src.Stats()
	k, _ := s.src.Kernel()
	return mcp.CaptureStatus{Attached: s.src.Attached(), Since: s.since, Packets: ls.Packets,
		KernelLost: k.Lost, KernelLostBytes: k.LostBytes, Snapped: k.Snapped, LocalDuplicates: ls.Duplicates + k.Twins}
}

func (s *packetSource) Summary(w io.Writer) {
	ls := s.src.Stats()
	k, _ := s.src.Kernel()
	printSummary(w, fileResult{File: "tap: " + strings.Join(s.src.Attached(), ", "), Stats: s.stats, live: true})
	fmt.Fprintf(w, "  capture:  %d packets delivered, %d local duplicates dropped (%d of them in the kernel), %d filtered out (%d of them in the kernel); at most %s waited between the ring buffer and dissection\n",
		ls.Packets, ls.Duplicates+k.Twins, k.Twins, ls.Filtered+k.Filtered, k.Filtered, humanBytes(int64(ls.QueuePeak)))
	fmt.Fprintf(w, "  loss:     %d packets lost in the kernel (ring buffer full, %s; %d of them after some of their chunks), %d cut at the snap length\n",
		k.Lost, humanBytes(int64(k.LostBytes)), ls.Incomplete, k.Snapped)
}

// statusLine redraws one line on a terminal every second.
type statusLine struct {
	done chan struct{}
	wg   sync.WaitGroup
	f    *os.File
}

func startStatus(f *os.File, sources []tapSource) *statusLine {
	s := &statusLine{done: make(chan struct{}), f: f}
	s.wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				fmt.Fprint(f, "\r\033[K")
				return
			case <-t.C:
				var parts []string
				for _, src := range sources {
					parts = append(parts, src.Status())
				}
				fmt.Fprintf(f, "\r\033[K%s", strings.Join(parts, "; "))
			}
		}
	})
	return s
}

func (s *statusLine) stop() {
	if s == nil {
		return
	}
	close(s.done)
	s.wg.Wait()
}

// tapFile is written in the data directory while tap runs, so that other
// commands on the same data go through its hub instead of waiting for the
// store it holds.
const tapFile = "tap.json"

type tapInfo struct {
	PID int    `json:"pid"`
	URL string `json:"url"`
}

// serveTapHub serves the hub over the tap's open store and advertises it
// in the data directory.
func serveTapHub(ctx context.Context, g *globals, o *tapOpts, st *storage.Store, capture mcp.LiveCapture, stderr io.Writer) (stop func(), url string, err error) {
	addr := o.hubAddr
	tok, created, err := hub.LoadOrCreateToken(g.dataDir)
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("hub: listen on %s: %w (--hub-addr picks another address, --no-hub serves none)", addr, err)
	}
	url = "http://" + ln.Addr().String()
	s, cleanup, err := localMCPServer(ctx, g, serverConfig{store: st, publicURL: url, capture: capture, watch: true, allowDestructive: o.allowDestructive})
	if err != nil {
		ln.Close()
		return nil, "", err
	}
	// A cluster's hub reads this node's store through the worker routes.
	wr, err := workerRoutes(g, s)
	if err != nil {
		ln.Close()
		cleanup()
		return nil, "", err
	}
	h, err := hub.Handler(hub.Options{Server: s, Token: tok, Worker: wr, Logger: g.logger(), Plugins: &hubPlugins{g: g}, AllowDestructive: o.allowDestructive})
	if err != nil {
		ln.Close()
		cleanup()
		return nil, "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	if created {
		fmt.Fprintf(stderr, "hub bearer token (shown once; `kubeshark hub token` prints it again):\n  %s\n", tok)
	}
	info, _ := json.Marshal(tapInfo{PID: os.Getpid(), URL: url})
	path := filepath.Join(g.dataDir, tapFile)
	if err := os.WriteFile(path, info, 0o600); err != nil {
		g.logger().Warn("advertising the hub", "file", path, "err", err)
	}
	return func() {
		os.Remove(path)
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
		cleanup()
	}, url, nil
}

// runningTap returns the hub URL of a tap running on this data directory,
// or "" when there is none (no file, its process gone, or its hub silent).
func runningTap(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, tapFile))
	if err != nil {
		return ""
	}
	var info tapInfo
	if json.Unmarshal(b, &info) != nil || info.PID <= 0 || info.URL == "" {
		return ""
	}
	if err := syscall.Kill(info.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return "" // a tap killed with -9 leaves its file behind
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(info.URL + "/healthz")
	if err != nil {
		return ""
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	return info.URL
}

// dissectorSetLine says which dissectors tap starts with, naming each
// plugin, or where it looked for plugins when there are none: a plugin
// installed into another data directory (sudo's HOME is root's) is
// otherwise silently absent.
func dissectorSetLine(l *loaded, dataDir string) string {
	// l.mods is the built-ins, then the plugins, then the --dissector
	// modules (the last nExtra).
	var plugins, other []string
	for _, m := range l.mods[l.nBuiltin : len(l.mods)-l.nExtra] {
		plugins = append(plugins, m.Manifest().Name+" "+m.Manifest().Version)
	}
	for _, m := range l.mods[len(l.mods)-l.nExtra:] {
		other = append(other, m.Manifest().Name+" "+m.Manifest().Version+" ("+m.Source()+")")
	}
	line := fmt.Sprintf("dissectors: %d built-in", l.nBuiltin)
	if len(other) > 0 {
		line += "; " + strings.Join(other, ", ")
	}
	if len(plugins) == 0 {
		return line + "; no plugins enabled in " + filepath.Join(dataDir, "plugins") + " (kubeshark plugin install adds one while tap runs)"
	}
	return line + "; plugins " + strings.Join(plugins, ", ")
}

// sudoNote is what tap says when it runs under sudo (sudoUser, from
// $SUDO_USER) in the default data directory, which is then root's: the
// user's own kubeshark commands read another one and find neither the
// records nor the plugins installed there. Empty otherwise.
func sudoNote(sudoUser string, fromEnv bool, dataDir, defaultDir string) string {
	if sudoUser == "" || sudoUser == "root" || fromEnv || dataDir != defaultDir {
		return ""
	}
	return fmt.Sprintf("note: under sudo this data directory is root's (%s): read it and install plugins into it with sudo too (sudo kubeshark calls, sudo kubeshark plugin install), or %s's own commands use another", dataDir, sudoUser)
}
