package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/workload"
	"github.com/kubeshark-wasm/kubeshark/plugins/devkit"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
)

// The guest-vs-host split (-split): where a wasm plugin's time goes per
// record. Each example's module is run again, alone, in a child process
// (this binary with -plugin-child) under `perf record -g` on the CPU clock,
// and every sample is put in one bucket by its call stack. Go's own
// profiler cannot do this: a signal that lands in wazero's compiled code
// is recorded as one opaque _ExternalCode frame, and it overstated the
// guest (85% of samples against perf's 53% for the same run). perf sees
// the compiled code as anonymous executable memory and walks the Go
// frames of the host by their frame pointers. The buckets' shares times
// the child's own time per record give microseconds per record.

// splitBuckets, in the order they are printed. A sample goes to the first
// bucket whose rule matches (classify).
var splitBuckets = []struct{ key, what string }{
	{"guest", "guest code (wazero's compiled module, incl. memory.copy/fill)"},
	{"decode", "host: record decode and check, copy out of guest memory (sdk.RecordDecoder)"},
	{"emit", "host: emit call, the rest (limits, guest memory view, sink)"},
	{"calls", "host↔guest calls (wazero's call path, host-function exits, call bookkeeping)"},
	{"copyin", "host: stream bytes copied into guest memory"},
	{"pipeline", "host: feed loop (workload.Feed, the pipeline worker's loop)"},
	{"gc", "host: GC and allocation outside the above"},
	{"other", "other (kernel, scheduler, runtime)"},
}

// splitFrame is one frame of a perf sample: symbol and object.
type splitFrame struct{ sym, dso string }

func (f splitFrame) jit() bool {
	return strings.HasPrefix(f.dso, "/tmp/perf-") || f.dso == "[unknown]" || strings.HasPrefix(f.dso, "[JIT]")
}

// classify puts one sample (frames leaf first) in a bucket.
func classify(st []splitFrame) string {
	if len(st) == 0 {
		return "other"
	}
	leaf := st[0]
	if leaf.jit() {
		return "guest"
	}
	has := func(subs ...string) bool {
		for _, f := range st {
			for _, s := range subs {
				if strings.Contains(f.sym, s) {
					return true
				}
			}
		}
		return false
	}
	// memory.copy and memory.fill are calls from compiled code into Go's
	// memmove/memclr: guest work.
	if len(st) > 1 && st[1].jit() {
		return "guest"
	}
	switch {
	case has("sdk.decodeRecord", "sdk.DecodeRecord", "sdk.(*RecordDecoder)", "sdk.decodeFast", "sdk.wire", "sdk.checkFields", "sdk.checkFlat", "sdk.flatStr", "sdk.(*wireReader)", "sdk.(*fieldsDecoder)"):
		return "decode"
	case has("wasm.hostEmit", "wasm.hostInflate"):
		return "emit"
	case has("wasm.(*instance).write"):
		return "copyin"
	case has("gcBgMarkWorker", "runtime.mallocgc", "runtime.gcAssist", "runtime.bgsweep", "runtime.bgscavenge"):
		return "gc"
	case has("wazevo.(*callEngine)", "wazevo/backend/isa/amd64.entrypoint", "afterGoFunctionCallEntrypoint",
		"wasm.(*instance).invoke", "wasm.(*instance).call", "time.now", "__vdso_clock_gettime", "context.value", "(*cancelCtx).Value"):
		return "calls"
	case has("workload.Feed", "wasm.(*instance).Feed", "wasm.(*lazyInstance)"):
		return "pipeline"
	}
	return "other"
}

// splitPerf reads `perf script -F ip,sym,dso` output and counts samples
// per bucket.
func splitPerf(r io.Reader) (map[string]int, int, error) {
	counts := map[string]int{}
	total := 0
	var st []splitFrame
	flush := func() {
		if len(st) > 0 {
			counts[classify(st)]++
			total++
		}
		st = st[:0]
	}
	frame := regexp.MustCompile(`^\s*[0-9a-f]+ (.*) \((.*)\)$`)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if m := frame.FindStringSubmatch(line); m != nil {
			sym := m[1]
			if i := strings.LastIndexByte(sym, '+'); i > 0 {
				sym = sym[:i]
			}
			st = append(st, splitFrame{sym, m[2]})
		}
	}
	flush()
	return counts, total, sc.Err()
}

// pluginSplit profiles the wasm side of one example in a child process
// and prints its split.
func pluginSplit(ctx context.Context, tmp, cache string, pw pluginWorkload, wasmPath string, out io.Writer) error {
	perf, err := exec.LookPath("perf")
	if err != nil {
		return fmt.Errorf("the split needs perf (Debian: linux-perf; make deps installs it)")
	}
	self, err := symbolizedSelf(ctx, tmp)
	if err != nil {
		return err
	}
	data := filepath.Join(tmp, pw.example+".perf")
	rec := exec.CommandContext(ctx, perf, "record", "-q", "-e", "cpu-clock", "-F", "4000", "-g", "-o", data, "--",
		self, "-plugin-child", pw.example+"="+wasmPath, "-child-cache", cache)
	var childOut bytes.Buffer
	rec.Stdout, rec.Stderr = &childOut, &childOut
	if err := rec.Run(); err != nil {
		return fmt.Errorf("perf record: %v\n%s", err, childOut.Bytes())
	}
	m := regexp.MustCompile(`ns_per_record=(\d+) allocs_per_record=([\d.]+) bytes_per_record=(\d+)`).FindSubmatch(childOut.Bytes())
	if m == nil {
		return fmt.Errorf("the profiled child printed no result:\n%s", childOut.Bytes())
	}
	nsPer, _ := strconv.ParseFloat(string(m[1]), 64)
	script := exec.CommandContext(ctx, perf, "script", "-i", data, "-F", "ip,sym,dso")
	stdout, err := script.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	script.Stderr = &stderr
	if err := script.Start(); err != nil {
		return err
	}
	counts, total, err := splitPerf(stdout)
	if werr := script.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("perf script: %v\n%s", werr, stderr.Bytes())
	}
	if err != nil {
		return err
	}
	if total == 0 {
		return fmt.Errorf("perf recorded no samples of %s", pw.example)
	}
	fmt.Fprintf(out, "\n%s (%s), wasm: %.2f µs per record (this child's own timing), %s allocations and %s bytes allocated per record (Go heap, the whole process), %d samples\n\n",
		pw.example, pw.lang, nsPer/1000, m[2], m[3], total)
	fmt.Fprintln(out, "| where | share | µs/record |")
	fmt.Fprintln(out, "|---|---|---|")
	for _, b := range splitBuckets {
		share := float64(counts[b.key]) / float64(total)
		fmt.Fprintf(out, "| %s | %.1f%% | %.2f |\n", b.what, 100*share, share*nsPer/1000)
	}
	return nil
}

// symbolizedSelf is this program as a binary perf can name the functions
// of: this very binary when it has a symbol table, else (`go run` links
// with -s -w, so its binary has none, and every host sample fell into
// "other") the same main package built again, with the same tags, into
// tmp, once per run.
func symbolizedSelf(ctx context.Context, tmp string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	ok, err := hasSymbols(self)
	if err != nil || ok {
		return self, err
	}
	out := filepath.Join(tmp, "kubeshark-bench-symbols")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", fmt.Errorf("%s has no symbol table and no build information to rebuild it with", self)
	}
	args := []string{"build", "-o", out}
	for _, s := range bi.Settings {
		if s.Key == "-tags" && s.Value != "" {
			args = append(args, "-tags", s.Value)
		}
	}
	g, err := devkit.GoTool()
	if err != nil {
		return "", err
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, g, append(args, bi.Path)...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s with symbols for perf: %v\n%s", bi.Path, err, b)
	}
	return out, nil
}

// hasSymbols reports whether the ELF file at path has a symbol table.
func hasSymbols(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	return f.Section(".symtab") != nil, nil
}

// pluginChild is the profiled process: it loads one example's module (the
// compiled code from the parent's cache) and plays its workload for a few
// seconds of CPU, then prints its time per record; with passes > 0 it
// plays it that many times and prints the record count, for counting
// instructions under valgrind.
func pluginChild(ctx context.Context, spec, cache string, passes int, out io.Writer) error {
	name, path, ok := strings.Cut(spec, "=")
	if !ok {
		return fmt.Errorf("-plugin-child %q: want EXAMPLE=FILE.wasm", spec)
	}
	var w *workload.Workload
	for _, pw := range pluginWorkloads() {
		if pw.example == name {
			w = &pw.w
		}
	}
	if w == nil {
		return fmt.Errorf("-plugin-child: no example %q", name)
	}
	code, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	cfg := wasm.Config{CacheDir: filepath.Join(cache, name), BufferSize: workload.MaxFeed}
	if passes > 0 {
		// Counted passes run under valgrind, fifty times slower, where a
		// loaded machine can stretch one call past the 2 s default.
		cfg.CallTimeout = 10 * time.Minute
	}
	rt, err := wasm.NewRuntime(ctx, cfg)
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, "plugin "+name, code)
	if err != nil {
		return err
	}
	if passes > 0 {
		sink := &workload.Counter{EncodedFields: true}
		inst, err := m.NewInstance(ctx, sink)
		if err != nil {
			return err
		}
		defer inst.Destroy(ctx)
		for p := range passes {
			if err := workload.Feed(ctx, inst, sink, w, uint64(1+p*len(w.Conns))); err != nil {
				return err
			}
		}
		if sink.Records != passes*w.Records {
			return fmt.Errorf("%d records from %d passes of %d", sink.Records, passes, w.Records)
		}
		fmt.Fprintf(out, "passes=%d records=%d\n", passes, sink.Records)
		return nil
	}
	best := time.Duration(1<<63 - 1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	records := 0
	for t0 := cpuNow(); cpuNow()-t0 < 3*time.Second; {
		per, n, err := timeCPUCount(ctx, m, w, 3)
		if err != nil {
			return err
		}
		best = min(best, per)
		records += n
	}
	runtime.ReadMemStats(&after)
	fmt.Fprintf(out, "ns_per_record=%d allocs_per_record=%.2f bytes_per_record=%.0f\n", best.Nanoseconds()/int64(w.Records),
		float64(after.Mallocs-before.Mallocs)/float64(records), float64(after.TotalAlloc-before.TotalAlloc)/float64(records))
	return nil
}
