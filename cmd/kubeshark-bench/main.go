// Command kubeshark-bench is `make bench`: it generates a large capture of
// real HTTP/1.1 traffic (net/http server and clients on loopback), then
// measures the pipeline on it: dissection only and import into Badger, with
// the built-in HTTP dissector (WebAssembly, written in C: there is no native
// build of it to compare), and tshark on the same file when it is installed. BENCHMARKS.md records the method and the
// figures.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

type countSink struct{ n atomic.Int64 }

func (c *countSink) Put(_ context.Context, recs []*sdk.Record) error {
	c.n.Add(int64(len(recs)))
	return nil
}

// TakesEncodedFields: like the store, the counter reads no fields, so the
// pipeline leaves them encoded (pipeline.EncodedFieldsSink).
func (c *countSink) TakesEncodedFields() bool { return true }

type result struct {
	name    string
	workers int
	elapsed time.Duration
	packets int64
	bytes   int64
	records int64
}

func (r result) row() string {
	s := r.elapsed.Seconds()
	return fmt.Sprintf("| %s | %d | %.2f | %.0f | %.1f | %.0f |", r.name, r.workers, s,
		float64(r.packets)/s, float64(r.bytes)/s/1e6, float64(r.records)/s)
}

func main() {
	n := flag.Int("n", 100000, "request/response pairs in the generated capture")
	keep := flag.String("pcap", "", "reuse (or keep) the capture at this path")
	runs := flag.Int("runs", 3, "runs per measurement; the fastest is reported")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the whole run here")
	mcpRecords := flag.Int("mcp-records", 1_000_000, "records in the store the MCP tools are timed over")
	only := flag.String("only", "", "run only one part: pipeline, dissectors, plugins, cli, mcp or tap; or soak: only the tap soak of -tap (default 30m), without the cli part's imports")
	smallN := flag.Int("small", 100000, "exchanges in the recorded small-message (nginx/h2load) capture of the cli part")
	repeat := flag.Int("repeat", 10, "the cli part also imports the small capture repeated this many times (client ports and times shifted; 10 × 100,000 = the 1M-record import); 0 or 1 skips it")
	soak := flag.Duration("tap", 0, "the cli part also runs `kubeshark tap` this long on steady nginx/h2load traffic and reports its memory over time (needs root; e.g. 2m, or 30m for the soak of issue 12); 0 skips it")
	soakLog := flag.String("tap-log", "", "the tap soak also writes every second's sample to this file as it runs (seconds, RSS MB, anonymous MB, tap CPU seconds)")
	profDir := flag.String("profile", "", "the cli part writes CPU and heap profiles of each warm import into this directory (KUBESHARK_CPUPROFILE, KUBESHARK_MEMPROFILE)")
	bin := flag.String("bin", "bin/kubeshark", "the kubeshark binary the cli part runs")
	tapRates := flag.String("tap-rates", defaultTapRates, "request rates of the tap part, comma-separated (0: unbounded)")
	tapBodiesFlag := flag.String("tap-bodies", defaultTapBodies, "response bodies of the tap part, comma-separated: small (100-byte JSON), 64k (64 KiB), tls (small over HTTPS, tap with TLS uprobes; not in the default)")
	tapArgs := flag.String("tap-args", "", "extra arguments for kubeshark tap in the tap part, space-separated (e.g. --ring-size 134217728)")
	tapRepeats := flag.Int("tap-repeats", 1, "runs of each rate in the tap part, interleaved (client alone, client under tap, client alone, ...); with more than one the client's p99 is reported as the median over the runs with its spread")
	tapBefore := flag.String("tap-before", "", "a second kubeshark binary (e.g. built from the previous commit) the tap part runs in turn with -bin at every rate and repeat, for before/after figures under the same load")
	rowsRE := flag.String("rows", "", "run only the pipeline rows whose \"measurement/workers\" matches this regexp (for profiling one of them)")
	split := flag.Bool("split", true, "the plugins part also profiles each example's wasm side under perf and prints where the time goes per record (guest code, host↔guest calls, record decode, feed loop)")
	pluginChildSpec := flag.String("plugin-child", "", "internal: the process -split profiles (EXAMPLE=FILE.wasm)")
	childCache := flag.String("child-cache", "", "internal: the compiled-module cache of -plugin-child")
	childPasses := flag.Int("child-passes", 0, "-plugin-child plays the workload this many times, untimed, instead of timing it for 3 s (for instruction counts: run it under valgrind --tool=cachegrind with 1 and with N passes)")
	workloadSpec := flag.String("plugin-workload", "", "write an example's workload in the native harnesses' format (EXAMPLE=FILE) and exit; for profiling a guest outside wazero (cmd/kubeshark-bench/guestprofile.sh)")
	flag.Parse()
	if *workloadSpec != "" {
		if err := writePluginWorkload(*workloadSpec); err != nil {
			fmt.Fprintln(os.Stderr, "kubeshark-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *pluginChildSpec != "" {
		if err := pluginChild(context.Background(), *pluginChildSpec, *childCache, *childPasses, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "kubeshark-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *prof != "" {
		f, err := os.Create(*prof)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	switch *only {
	case "", "pipeline", "dissectors", "plugins", "cli", "mcp", "tap", "soak":
	default:
		fmt.Fprintf(os.Stderr, "kubeshark-bench: -only %q: want pipeline, dissectors, plugins, cli, mcp, tap or soak\n", *only)
		os.Exit(2)
	}
	ctx := context.Background()
	fail := func(err error) {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "kubeshark-bench:", err)
		os.Exit(1)
	}
	if *keep == "" && *only == "" {
		// The pipeline part's capture is the cli part's large workload.
		tmp, err := os.MkdirTemp("", "kubeshark-bench-large")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(tmp)
		*keep = filepath.Join(tmp, "http.pcap")
	}
	if *only == "" || *only == "pipeline" {
		match, err := regexp.Compile(*rowsRE)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kubeshark-bench: -rows: %v\n", err)
			os.Exit(2)
		}
		if err := run(ctx, *n, *keep, *runs, match, os.Stdout); err != nil {
			fail(err)
		}
	}
	if *only == "" || *only == "dissectors" {
		fmt.Println("\nPer-dissector throughput, wasm vs native")
		if err := dissectorBench(ctx, *runs, os.Stdout); err != nil {
			fail(err)
		}
	}
	if *only == "" || *only == "plugins" {
		fmt.Println("\nExample plugins (Go, C, Rust): wasm vs the same source compiled for the host")
		if err := pluginBench(ctx, *runs, *split, os.Stdout); err != nil {
			fail(err)
		}
	}
	if *only == "" || *only == "cli" {
		fmt.Println("\nThe command line on small-message, large-body and tiny captures")
		large := *keep
		if _, err := os.Stat(large); err != nil {
			large = ""
		}
		if err := cliBench(ctx, cliOptions{soak: *soak, bin: *bin, smallN: *smallN, repeat: *repeat, largePath: large, runs: *runs, profDir: *profDir}, os.Stdout); err != nil {
			fail(err)
		}
	}
	if *only == "soak" {
		d := *soak
		if d == 0 {
			d = 30 * time.Minute
		}
		if err := soakOnly(ctx, *bin, d, *soakLog, os.Stdout); err != nil {
			fail(err)
		}
		return
	}
	if *only == "" || *only == "tap" {
		fmt.Println("\nLive capture: kubeshark tap under h2load at rising rates, tcpdump in the same run")
		rates, err := parseRates(*tapRates)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kubeshark-bench:", err)
			os.Exit(2)
		}
		bodies, err := parseBodies(*tapBodiesFlag)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kubeshark-bench:", err)
			os.Exit(2)
		}
		if os.Geteuid() != 0 && *only == "" {
			fmt.Println("(skipped: tap needs root; sudo make bench, or -only tap as root)")
		} else if err := tapBench(ctx, tapConfig{bin: *bin, before: *tapBefore, rates: rates, bodies: bodies, extra: strings.Fields(*tapArgs), repeats: max(*tapRepeats, 1)}, os.Stdout); err != nil {
			fail(err)
		}
	}
	if (*only == "" || *only == "mcp") && *mcpRecords > 0 {
		tmp, err := os.MkdirTemp("", "kubeshark-bench-mcp")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(tmp)
		if err := mcpBench(ctx, *mcpRecords, *runs*7, tmp, os.Stdout); err != nil {
			os.RemoveAll(tmp)
			fail(err)
		}
	}
}

func run(ctx context.Context, n int, keep string, runs int, match *regexp.Regexp, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "kubeshark-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	path := keep
	if path == "" {
		path = filepath.Join(tmp, "http.pcap")
	}
	pairs := "reused"
	if _, err := os.Stat(path); err != nil {
		pairs = fmt.Sprintf("%d request/response pairs", n)
		fmt.Fprintf(os.Stderr, "generating %d request/response pairs of real net/http traffic...\n", n)
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		t0 := time.Now()
		st, err := synth.HTTPSample(ctx, f, n)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "  %d packets in %s\n", st.Packets, time.Since(t0).Round(time.Millisecond))
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}

	rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: filepath.Join(tmp, "cache")})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	mods, err := dissectors.Builtin()
	if err != nil {
		return err
	}
	var httpWasm engine.Dissector
	for _, m := range mods {
		if m.Name == "http1" {
			code, err := m.Wasm()
			if err != nil {
				return err
			}
			if httpWasm, err = rt.Load(ctx, "built-in", code); err != nil {
				return err
			}
		}
	}
	if httpWasm == nil {
		return fmt.Errorf("the http1 dissector is not embedded: build with `make bench`")
	}

	best := func(name string, workers int, d engine.Dissector, store bool) (result, error) {
		var top result
		for i := 0; i < runs; i++ {
			src, err := capture.OpenFile(path)
			if err != nil {
				return top, err
			}
			var sink pipeline.Sink = &countSink{}
			var st *storage.Store
			if store {
				dir := filepath.Join(tmp, fmt.Sprintf("store-%s-%d-%d", name, workers, i))
				if st, err = storage.Open(ctx, storage.Options{Dir: dir}); err != nil {
					return top, err
				}
				sink = st
			}
			p := pipeline.New(pipeline.Config{Workers: workers, NewID: storage.NewID}, []engine.Dissector{d}, sink)
			t0 := time.Now()
			stats, err := p.Run(ctx, src)
			el := time.Since(t0)
			src.Close()
			if st != nil {
				st.Close()
			}
			if err != nil {
				return top, err
			}
			r := result{name: name, workers: workers, elapsed: el, packets: stats.Packets, bytes: stats.Bytes, records: stats.Records}
			if top.elapsed == 0 || r.elapsed < top.elapsed {
				top = r
			}
		}
		return top, nil
	}

	cores := runtime.GOMAXPROCS(0)
	fmt.Fprintf(out, "capture: %s, %.1f MB, %s\n\n", filepath.Base(path), float64(fi.Size())/1e6, pairs)
	fmt.Fprintln(out, "| measurement | workers | seconds | packets/s | MB/s | records/s |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|")
	var rows []result
	for _, m := range []struct {
		name    string
		workers int
		d       engine.Dissector
		store   bool
	}{
		{"dissect, wasm", 1, httpWasm, false},
		{"dissect, wasm", cores, httpWasm, false},
		{"import into Badger, wasm", 1, httpWasm, true},
		{"import into Badger, wasm", cores, httpWasm, true},
	} {
		if !match.MatchString(fmt.Sprintf("%s/%d", m.name, m.workers)) {
			rows = append(rows, result{})
			continue
		}
		r, err := best(m.name, m.workers, m.d, m.store)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		rows = append(rows, r)
		fmt.Fprintln(out, r.row())
	}
	fmt.Fprintf(out, "\nrecords: %d\n", max(rows[0].records, rows[1].records, rows[2].records, rows[3].records))
	for _, r := range rows {
		if r.elapsed == 0 {
			return nil // a partial run has nothing to compare
		}
	}

	if _, err := exec.LookPath("tshark"); err != nil {
		fmt.Fprintln(out, "\ntshark is not installed: no comparison (apt-get install tshark)")
		return nil
	}
	t0 := time.Now()
	cmd := exec.Command("tshark", "-r", path, "-q", "-z", "http,tree")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("tshark: %v: %s", err, msg)
	}
	ts := time.Since(t0)
	fmt.Fprintf(out, "\ntshark -r FILE -q -z http,tree: %.2f s (%.0f packets/s)\n", ts.Seconds(), float64(rows[0].packets)/ts.Seconds())
	fmt.Fprintf(out, "dissection, one worker: %.1f× tshark's rate; all %d cores: %.1f×\n", ts.Seconds()/rows[0].elapsed.Seconds(), cores, ts.Seconds()/rows[1].elapsed.Seconds())
	fmt.Fprintf(out, "import into Badger, one worker: %.1f× tshark's rate; all %d cores: %.1f×\n", ts.Seconds()/rows[2].elapsed.Seconds(), cores, ts.Seconds()/rows[3].elapsed.Seconds())
	return nil
}
