package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/diskguard"
	"github.com/kubeshark-wasm/kubeshark/runtime/packetlog"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/analysis"
)

type importOpts struct {
	output        string
	dissectors    []string
	retentionAge  time.Duration
	retentionSize int64
	workers       int
	noProgress    bool
	packetsSize   int64
	decodeAs      []string
	kube          kubeOpts
	// ageSet and sizeSet tell a limit given (0 included: it clears the
	// saved one) from a flag left out (the saved limit applies).
	ageSet, sizeSet bool
}

func newImportCmd(g *globals) *cobra.Command {
	o := &importOpts{}
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Dissect pcap/pcapng captures (optionally gzip-compressed) into the store",
		Long: `Reads each capture, reassembles its TCP and UDP streams, detects their
protocols by content, dissects them with the sandboxed dissectors and stores
the records. Prints a summary per file, saying what was new and what was
already stored (importing a capture again adds nothing). A truncated capture
stores what was read before the damage, then fails with the byte offset.

--retention-age and --retention-size are saved in the data directory and
apply to later imports and to the hub until changed (0 removes a limit).
They are applied when each file has been imported, and what they dropped
is printed. Age counts from now, by the wall clock: importing an old
capture with --retention-age 1h drops it at once, with a warning.

--kubeconfig F [--context C] names the records' ends from that cluster:
pod, service, node, workload and labels of whatever held each address at
the record's time, from the history of what the cluster's informers saw
(kept with the store) plus the cluster's current state. For a capture
older than that history, the current state is the best knowledge there
is, and import says so.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ageSet, o.sizeSet = cmd.Flags().Changed("retention-age"), cmd.Flags().Changed("retention-size")
			return runImport(cmd.Context(), g, o, args, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "text", "summary format: text or json")
	f.StringArrayVar(&o.dissectors, "dissector", nil, "also load this dissector module (.wasm); repeatable")
	f.Var(&ageFlag{&o.retentionAge}, "retention-age", "delete records (and flows, packets) older than this, measured from now, e.g. 36h or 7d; saved for later commands (0 removes the limit)")
	f.Var(newSizeFlag(&o.retentionSize, 0), "retention-size", "keep the store under this size, oldest records deleted first: bytes or e.g. 500MiB, 1GB; saved for later commands (0 removes the limit)")
	f.StringArrayVar(&o.decodeAs, "decode-as", nil, "dissect connections on PORT with the dissector (or protocol) NAME, without probing, as tshark's decode-as: PORT=NAME; repeatable")
	f.IntVar(&o.workers, "workers", 0, "dissection workers (default 0: one per CPU)")
	f.BoolVar(&o.noProgress, "no-progress", false, "never show a progress bar")
	o.kube.addFlags(f, false)
	f.Var(newSizeFlag(&o.packetsSize, packetlog.DefaultMaxBytes), "packets-size", "keep the raw packets for snapshots and pcap export in a FIFO of at most this size: bytes or e.g. 500MiB, 1GB (0: keep none)")
	return cmd
}

// fileResult is one file's import summary.
type fileResult struct {
	File   string         `json:"file"`
	Stats  pipeline.Stats `json:"stats"`
	Stored storedCounts   `json:"stored"`
	// Retention is what the limits dropped after this file; absent
	// without limits.
	Retention *retentionResult `json:"retention,omitempty"`
	Error     string           `json:"error,omitempty"`
	// live marks a tap's summary, which has no Stored of its own: tap
	// says once what all its sources stored.
	live bool
}

// storedCounts tells what an import added from what the store already
// held: records and flows are keyed by what they are, and the packet log
// holds each packet once, so a capture imported again adds nothing.
type storedCounts struct {
	Records newOld `json:"records"`
	Flows   newOld `json:"flows"`
	// Packets is absent when no packets are kept (--packets-size 0).
	Packets *newOld `json:"packets,omitempty"`
}

type newOld struct {
	New           int64 `json:"new"`
	AlreadyStored int64 `json:"already_stored"`
}

func (n newOld) String() string {
	if n.AlreadyStored == 0 {
		return fmt.Sprintf("%d new", n.New)
	}
	return fmt.Sprintf("%d new, %d already stored", n.New, n.AlreadyStored)
}

func runImport(ctx context.Context, g *globals, o *importOpts, files []string, stdout io.Writer) error {
	if o.output != "text" && o.output != "json" {
		return fmt.Errorf("--output %q: want text or json", o.output)
	}
	if o.workers < 0 {
		return fmt.Errorf("--workers %d: want a number of workers, or 0 for one per CPU", o.workers)
	}
	// Check every file before touching the store, so that a typo in the
	// third file does not leave the first two imported.
	sources := make([]*capture.FileSource, 0, len(files))
	closeAll := func() {
		for _, s := range sources {
			s.Close()
		}
	}
	for _, f := range files {
		src, err := capture.OpenFile(f)
		if err != nil {
			closeAll()
			return err
		}
		sources = append(sources, src)
	}
	defer closeAll()

	// Loading the dissectors takes a while before the store is created;
	// say meanwhile that it is coming, for a `calls` run in another shell.
	defer storage.AnnounceCreate(filepath.Join(g.dataDir, "store"))()
	l, err := loadDissectors(ctx, g, o.dissectors)
	if err != nil {
		return err
	}
	defer l.close(context.Background())
	decodeAs, err := parseDecodeAs(o.decodeAs, l)
	if err != nil {
		return err
	}
	// The packet log is closed (its last chunk sealed and synced) on a
	// goroutine of its own once the last file is read, while the
	// statistics are built and the store closes, which wait for the disk
	// too; logClosed is closed when it is done, and waited for last.
	var logClosed chan struct{}
	defer func() {
		if logClosed != nil {
			<-logClosed
		}
	}()
	st, err := openStore(ctx, g, storage.Options{RetentionAge: o.retentionAge, RetentionBytes: o.retentionSize})
	if err != nil {
		return err
	}
	defer st.Close()
	var kstderr io.Writer = os.Stderr
	if o.output == "text" {
		kstderr = stdout
	}
	if o.kube.on() {
		_, stopKube, err := startKube(ctx, g, &o.kube, st, kstderr)
		if err != nil {
			return err
		}
		defer stopKube()
	}
	engines, err := enabledEngines(ctx, st, l, g)
	if err != nil {
		return err
	}
	limits, err := resolveRetention(ctx, st, o.retentionAge, o.ageSet, o.retentionSize, o.sizeSet)
	if err != nil {
		return err
	}

	plog, closeLog, err := openPacketLog(ctx, g, o.packetsSize, false)
	if err != nil {
		return err
	}
	closeLogAside := func() {
		if logClosed == nil {
			logClosed = make(chan struct{})
			go func() {
				defer close(logClosed)
				closeLog()
			}()
		}
	}
	defer closeLogAside()

	// The per-minute statistics are aggregated as the records are stored
	// (analysis.RollupBuilder) instead of read back afterwards.
	rollups, err := analysis.NewRollupBuilder(ctx, st)
	if err != nil {
		return err
	}
	sink := &rollupSink{Store: st, b: rollups}

	var results []fileResult
	var failed error
	for i, src := range sources {
		p := pipeline.New(pipeline.Config{Workers: o.workers, Logger: g.logger(), NewID: storage.NewID, DecodeAs: mergePins(l.pins, decodeAs)}, engines, sink)
		stopBar := progress(src, files[i], o.noProgress)
		var in capture.Source = src
		var pbefore packetlog.Counts
		if plog != nil {
			pbefore = plog.Counts()
			in = packetlog.Tee(src, plog)
		}
		spanned := &spanSource{Source: in}
		before := st.Writes()
		sink.start(ctx)
		stats, err := p.Run(ctx, spanned)
		sink.wait()
		stopBar()
		res := fileResult{File: files[i], Stats: stats}
		w := st.Writes().Sub(before)
		res.Stored.Records = newOld{New: w.Records, AlreadyStored: w.RecordsReplaced}
		res.Stored.Flows = newOld{New: w.Flows, AlreadyStored: w.FlowsReplaced}
		if plog != nil {
			c := plog.Counts().Sub(pbefore)
			res.Stored.Packets = &newOld{New: c.Written, AlreadyStored: c.Duplicates}
		}
		// The limits apply now, not on the store's one-minute timer,
		// which an import shorter than a minute never reaches; a
		// truncated file's records are stored, so they count too.
		rres, rerr := applyRetention(context.WithoutCancel(ctx), st, plog, limits)
		rres.warnPastAge(files[i], spanned.span)
		res.Retention = rres
		err = errors.Join(err, rerr)
		if err != nil {
			res.Error = err.Error()
		}
		results = append(results, res)
		if o.output == "text" {
			printSummary(stdout, res)
		}
		if h := g.history.Load(); h != nil && err == nil {
			reportResolution(ctx, kstderr, st, h, files[i], spanned.span)
		}
		if err != nil {
			failed = err
			break
		}
	}
	closeLogAside()
	// The value log's pages start for the disk now, so that closing the
	// store, which syncs them, waits less.
	st.StartWriteback()
	if failed == nil {
		// Write the per-minute statistics built while storing, and build
		// the rest (minutes that held records before, or that retention
		// changed) now, while the data is fresh in badger's caches, rather
		// than on an assistant's first question.
		t0 := time.Now()
		_, err := rollups.Store(ctx)
		if err == nil {
			err = analysis.WarmRollups(ctx, st, analysis.Window{})
		}
		if err == nil {
			// The endpoint templates every listing shows, cached in the
			// store for the hub and the CLI that read it next.
			var memo analysis.TemplateMemo
			_, err = memo.Templates(ctx, st)
		}
		if sink.err != nil {
			g.logger().Warn("statistics built while storing (the scan built them instead)", "err", sink.err)
		}
		if err != nil {
			g.logger().Warn("precomputing statistics", "err", err)
		} else if o.output == "text" {
			fmt.Fprintf(stdout, "statistics precomputed in %s\n", time.Since(t0).Round(time.Millisecond))
		}
	}
	errs := map[string]*pipeline.DissectorErrors{}
	for _, r := range results {
		for name, d := range r.Stats.ErrorsByDissector {
			if errs[name] == nil {
				errs[name] = &pipeline.DissectorErrors{}
			}
			errs[name].Merge(d)
		}
	}
	if err := saveHealth(context.Background(), st, l, errs); err != nil {
		g.logger().Warn("saving dissector health", "err", err)
	}
	byProtocol := map[string]int64{}
	for _, r := range results {
		for p, n := range r.Stats.ByProtocol {
			byProtocol[p] += n
		}
	}
	if err := saveManifests(context.Background(), st, l, byProtocol); err != nil {
		g.logger().Warn("saving the manifests of the dissectors that produced records", "err", err)
	}
	if o.output == "json" {
		if err := writeJSON(stdout, results, true); err != nil {
			return err
		}
	}
	if failed != nil {
		if errors.Is(failed, context.Canceled) {
			return &exitError{code: 130, msg: "import interrupted; records read so far are stored"}
		}
		return failed
	}
	return nil
}

// progress shows a bar on a terminal for inputs large enough to wait for.
func progress(src *capture.FileSource, name string, disabled bool) func() {
	_, total := src.Progress()
	if disabled || total < 16<<20 || !term.IsTerminal(int(os.Stderr.Fd())) {
		return func() {}
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				read, _ := src.Progress()
				_ = bar.Set64(read)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		_ = bar.Finish()
	}
}

func printSummary(w io.Writer, r fileResult) {
	s := r.Stats
	fmt.Fprintf(w, "%s: %d packets, %s in %s\n", r.File, s.Packets, humanBytes(s.Bytes), s.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  streams:  %d TCP, %d UDP (%d not recognised); %d L4 flows stored\n", s.TCPStreams, s.UDPStreams, s.Undetected, s.Flows)
	var parts []string
	protos := make([]string, 0, len(s.ByProtocol))
	for p := range s.ByProtocol {
		protos = append(protos, p)
	}
	sort.Strings(protos)
	for _, p := range protos {
		parts = append(parts, fmt.Sprintf("%s %d", p, s.ByProtocol[p]))
	}
	detail := ""
	if len(parts) > 0 {
		detail = " (" + strings.Join(parts, ", ") + ")"
	}
	fmt.Fprintf(w, "  records:  %d%s\n", s.Records, detail)
	st := r.Stored
	stored := "records: " + st.Records.String() + "; flows: " + st.Flows.String()
	if st.Packets != nil {
		stored += "; packets: " + st.Packets.String()
	}
	if st.Records.New == 0 && st.Flows.New == 0 && (st.Packets == nil || st.Packets.New == 0) &&
		st.Records.AlreadyStored+st.Flows.AlreadyStored > 0 {
		stored = "nothing new (" + stored + ")"
	}
	if !r.live {
		fmt.Fprintf(w, "  stored:   %s\n", stored)
	}
	fmt.Fprintf(w, "  dissector errors: %d", s.DissectorErrors)
	if len(s.Faults) > 0 {
		fmt.Fprintf(w, " (instance faults: %v)", s.Faults)
	}
	if s.Redetected > 0 {
		fmt.Fprintf(w, "; %d connections detected again after their dissector faulted", s.Redetected)
	}
	if s.Contested > 0 {
		fmt.Fprintf(w, "; %d connections contested by a plugin and another dissector", s.Contested)
	}
	fmt.Fprintln(w)
	printDissectorErrors(w, "    ", s.ErrorsByDissector)
	if s.Decode.Malformed > 0 || s.Reassembly.Gaps > 0 {
		fmt.Fprintf(w, "  capture damage: %d malformed packets, %d gaps (%s missing)\n", s.Decode.Malformed, s.Reassembly.Gaps, humanBytes(int64(s.Reassembly.GapBytes)))
	}
	printRetention(w, r.Retention)
}

func humanBytes(n int64) string { return diskguard.Human(uint64(max(n, 0))) }

// printDissectorErrors lists each dissector's errors with their examples:
// which connection, which record, what went wrong.
func printDissectorErrors(w io.Writer, indent string, errs map[string]*pipeline.DissectorErrors) {
	names := make([]string, 0, len(errs))
	for n := range errs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d := errs[n]
		fmt.Fprintf(w, "%s%s: %d\n", indent, n, d.Count)
		for _, e := range d.Examples {
			where := e.Conn
			if e.Stream != "" {
				where += " (stream " + e.Stream + ")"
			}
			if e.Record != "" {
				where += ", record " + e.Record
			}
			if where == "" {
				where = "outside any connection"
			}
			fmt.Fprintf(w, "%s  %s on %s: %s\n", indent, e.Kind, where, e.Error)
		}
		if int64(len(d.Examples)) < d.Count {
			fmt.Fprintf(w, "%s  (%d more; -v logs each)\n", indent, d.Count-int64(len(d.Examples)))
		}
	}
}

// rollupSink stores records and hands those the store accepted to the
// rollup builder. A failure of the builder never fails the import: the
// records are stored, and the minutes it could not cache are left to
// WarmRollups' scan; the first such error is reported with the rest.
//
// The builder aggregates on a goroutine of its own (between start and
// wait), in the order the batches were stored, while the pipeline's sink
// stores the next batch: storing waits for badger's writer, and the two in
// turn on one goroutine were the longest chain of the import
// (BENCHMARKS.md, issue 12). A batch is aggregated after its Put returned,
// as before, so what the builder checks against the store (the records
// of a minute, its epoch) is the same.
type rollupSink struct {
	*storage.Store
	b    *analysis.RollupBuilder
	adds chan []*sdk.Record
	done chan struct{}
	err  error // the builder's first error; read after wait
}

// start starts the goroutine that aggregates stored batches.
func (s *rollupSink) start(ctx context.Context) {
	s.adds, s.done = make(chan []*sdk.Record, 4), make(chan struct{})
	go func() {
		defer close(s.done)
		for recs := range s.adds {
			if err := s.b.Add(ctx, recs); err != nil && s.err == nil {
				s.err = err
			}
		}
	}()
}

// wait returns once every batch stored since start is aggregated; Put
// must not be called after it until start is called again.
func (s *rollupSink) wait() {
	close(s.adds)
	<-s.done
}

// Put stores recs and queues them for the builder; the pipeline calls it
// from one goroutine.
func (s *rollupSink) Put(ctx context.Context, recs []*sdk.Record) error {
	if err := s.Store.Put(ctx, recs); err != nil {
		return err
	}
	s.adds <- recs
	return nil
}
