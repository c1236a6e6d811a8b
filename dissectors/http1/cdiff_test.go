package http1_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/dissectors/workload"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/native"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// source is the C dissector, relative to the module root.
const source = "dissectors/http1/c/http1.c"

type keepSink struct {
	mu   sync.Mutex
	recs []*sdk.Record
}

func (s *keepSink) Put(_ context.Context, recs []*sdk.Record) error {
	s.mu.Lock()
	s.recs = append(s.recs, recs...)
	s.mu.Unlock()
	return nil
}

// TakesEncodedFields keeps each record's fields as its module wrote them,
// so that the comparison is of the modules' own bytes.
func (s *keepSink) TakesEncodedFields() bool { return true }

// lines renders a capture's records through one module, one line each:
// the host's view (stream, endpoints, dissector) and the record's wire
// encoding, which holds everything the module said (summary, fields as
// written, bodies, timestamps, direction).
func lines(t *testing.T, d engine.Dissector, path string) []string {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sink := &keepSink{}
	p := pipeline.New(pipeline.Config{Workers: 1}, []engine.Dissector{d}, sink)
	if _, err := p.Run(context.Background(), src); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := make([]string, len(sink.recs))
	for i, r := range sink.recs {
		out[i] = fmt.Sprintf("%s %s→%s %s %q", r.Stream, r.Src, r.Dst, r.Dissector, sdk.AppendRecord(nil, r))
	}
	return out
}

// bothModules loads the Go guest and the C guest into one runtime.
func bothModules(t *testing.T) (goMod, cMod engine.Dissector) {
	t.Helper()
	cmod := dissectortest.CModule(t, source)
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: filepath.Join(os.TempDir(), "kubeshark-test-wazero-cache")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	if goMod, err = rt.Load(ctx, "built-in", dissectortest.BuildDir(t, "dissectors/http1/wasm")); err != nil {
		t.Fatal(err)
	}
	if cMod, err = rt.Load(ctx, "built-in", cmod); err != nil {
		t.Fatal(err)
	}
	return goMod, cMod
}

// compare runs a capture through both modules and reports the first
// record that differs; it returns how many records the Go guest made.
func compare(t *testing.T, name string, goMod, cMod engine.Dissector, path string) int {
	t.Helper()
	want, got := lines(t, goMod, path), lines(t, cMod, path)
	if len(want) != len(got) {
		t.Errorf("%s: Go made %d records, C %d", name, len(want), len(got))
	}
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			t.Errorf("%s: record %d differs:\nGo %s\nC  %s", name, i, want[i], got[i])
			break
		}
	}
	return len(want)
}

// TestSynthCMatchesGo is the differential test on real servers and
// clients recorded by runtime/synth: net/http's sample endpoints (JSON,
// gzip, chunked streaming, HEAD, 204, 304, 64 KiB bodies, errors) and the
// HTTP incident scenarios (a reverse proxy, retries, 503 storms, and
// packet loss, which makes the capture's gaps).
func TestSynthCMatchesGo(t *testing.T) {
	goMod, cMod := bothModules(t)
	ctx := context.Background()
	dir := t.TempDir()
	captures := map[string]func(io.Writer) error{
		"sample": func(w io.Writer) error { _, err := synth.HTTPSample(ctx, w, 3000); return err },
	}
	names := []string{"proxy", "retry-storm", "card-leak", "admin-noauth"}
	// Capture gaps for real: 25% of the packets dropped by netem between
	// two namespaces (root, and a minute of wall time).
	if os.Geteuid() == 0 && !testing.Short() {
		names = append(names, "packet-loss")
	} else {
		t.Log("packet-loss scenario skipped: it needs root and is not -short")
	}
	for _, name := range names {
		captures[name] = func(w io.Writer) error { _, err := synth.Incident(ctx, w, name, synth.IncidentOptions{}); return err }
	}
	for name, write := range captures {
		path := filepath.Join(dir, name+".pcap")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		err = write(f)
		f.Close()
		if errors.Is(err, synth.ErrMissingTool) {
			t.Logf("%s skipped: %v", name, err)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := compare(t, name, goMod, cMod, path); n == 0 {
			t.Errorf("%s: no HTTP records", name)
		} else {
			t.Logf("%s: %d records alike", name, n)
		}
	}
}

// TestCorpusCMatchesGo is the differential test of the two HTTP/1
// dissectors: every capture of the shared corpus (HTTP or not: detection
// and rejection count too) through the real pipeline, once with the Go
// guest and once with the C guest, must give the same records.
func TestCorpusCMatchesGo(t *testing.T) {
	goMod, cMod := bothModules(t)
	corpus := filepath.Join(dissectortest.SharedDir(), "corpus")
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("shared corpus not found at %s", corpus)
	}
	var files []string
	filepath.WalkDir(corpus, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng")) {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no captures under %s", corpus)
	}
	total := 0
	for _, f := range files {
		rel, _ := filepath.Rel(corpus, f)
		total += compare(t, rel, goMod, cMod, f)
	}
	t.Logf("%d captures, %d records alike", len(files), total)
}

// BenchmarkHTTP1Guests times the three builds of the HTTP/1 dissector on
// the http1 workload (dissectors/workload: 1000 keep-alive GET → 200 JSON
// exchanges, BenchmarkWasmVsNative's): the Go code compiled into the host,
// the Go guest (GOOS=wasip1) and the C guest, each through
// engine.Instance with fields kept encoded, as a store-bound pipeline runs
// them, each the fastest of 7 runs (the machine is shared). The figures are the custom metrics: records/s of each and the C
// guest's time over native's (issue 13 wants at most 2).
//
//	go test -run '^$' -bench HTTP1Guests ./dissectors/http1/
func BenchmarkHTTP1Guests(b *testing.B) {
	cmod := dissectortest.CModule(b, source)
	ctx := context.Background()
	ws, err := workload.All()
	if err != nil {
		b.Fatal(err)
	}
	var w *workload.Workload
	for i := range ws {
		if ws[i].Name == "http1" {
			w = &ws[i]
		}
	}
	rt, err := wasm.NewRuntime(ctx, wasm.Config{BufferSize: workload.MaxFeed, CacheDir: filepath.Join(os.TempDir(), "kubeshark-test-wazero-cache")})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	goMod, err := rt.Load(ctx, "built-in", dissectortest.BuildDir(b, "dissectors/http1/wasm"))
	if err != nil {
		b.Fatal(err)
	}
	cMod, err := rt.Load(ctx, "built-in", cmod)
	if err != nil {
		b.Fatal(err)
	}
	modes := []struct {
		name string
		d    engine.Dissector
	}{{"native", native.New(w.Native)}, {"go-wasm", goMod}, {"c-wasm", cMod}}
	took := make([]float64, len(modes))
	for b.Loop() {
		for i, m := range modes {
			d, err := workload.Time(ctx, m.d, w, 7)
			if err != nil {
				b.Fatalf("%s: %v", m.name, err)
			}
			took[i] = d.Seconds()
		}
	}
	for i, m := range modes {
		b.ReportMetric(float64(w.Records)/took[i], m.name+"-records/s")
	}
	b.ReportMetric(took[2]/took[0], "c/native-x")
	b.ReportMetric(took[1]/took[0], "go/native-x")
	b.ReportMetric(float64(len(cmod)), "c-module-bytes")
}

// isPrintTable renders Go's strconv.IsPrint for the runes from 0x80 up as
// ranges for the C dissector, which quotes malformed lines as Go's %q
// does.
func isPrintTable() []byte {
	var b bytes.Buffer
	b.WriteString("/* Generated by TestIsPrintTable (make wasm-c) from Go's strconv.IsPrint:\n" +
		" * the ranges of runes from 0x80 up that a quoted string keeps as they\n" +
		" * are. Do not edit. */\n" +
		"static const uint32_t print_ranges[][2] = {\n")
	lo, in := rune(0), false
	flush := func(hi rune) { fmt.Fprintf(&b, "\t{0x%x, 0x%x},\n", lo, hi) }
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		p := strconv.IsPrint(r)
		switch {
		case p && !in:
			lo = r
		case !p && in:
			flush(r - 1)
		}
		in = p
	}
	if in {
		flush(unicode.MaxRune)
	}
	b.WriteString("};\n")
	return b.Bytes()
}

// toLowerTable renders Go's unicode.ToLower (the simple mapping
// strings.ToLower applies rune by rune) for the runes it changes, as
// ranges {first, last, stride, delta}: every stride-th rune from first to
// last maps to itself plus delta.
func toLowerTable() []byte {
	var b bytes.Buffer
	b.WriteString("/* Generated by TestIsPrintTable (make wasm-c) from Go's unicode.ToLower:\n" +
		" * {first, last, stride, delta}: every stride-th rune from first to last\n" +
		" * lowers to itself plus delta; the others are their own. Do not edit. */\n" +
		"static const int32_t lower_ranges[][4] = {\n")
	type rng struct{ lo, hi, stride, delta rune }
	var rs []rng
	for r := rune(0); r <= unicode.MaxRune; r++ {
		d := unicode.ToLower(r) - r
		if d == 0 {
			continue
		}
		if n := len(rs); n > 0 {
			last := &rs[n-1]
			switch {
			case last.delta == d && last.lo == last.hi && r-last.hi <= 2:
				last.hi, last.stride = r, r-last.lo
				continue
			case last.delta == d && last.lo != last.hi && r-last.hi == last.stride:
				last.hi = r
				continue
			}
		}
		rs = append(rs, rng{r, r, 1, d})
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "\t{0x%x, 0x%x, %d, %d},\n", r.lo, r.hi, r.stride, r.delta)
	}
	b.WriteString("};\n")
	return b.Bytes()
}

// TestIsPrintTable holds c/isprint.h to the Go toolchain's strconv.IsPrint
// (a newer Unicode version changes it: make wasm-c).
// and c/tolower.h to its unicode.ToLower (a newer Unicode version changes
// them: make wasm-c).
func TestIsPrintTable(t *testing.T) {
	for path, fresh := range map[string][]byte{
		filepath.Join("c", "isprint.h"): isPrintTable(),
		filepath.Join("c", "tolower.h"): toLowerTable(),
	} {
		if *updateC {
			if err := os.WriteFile(path, fresh, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, fresh) {
			t.Fatalf("%s is not the table of this Go's strconv and unicode (%v): run make wasm-c and commit it", path, err)
		}
	}
}

var updateC = flag.Bool("update-c", false, "write c/isprint.h and the fresh C build over c/http1.wasm (make wasm-c)")

// TestCModuleFresh holds the committed C module (dissectors/http1/c/
// http1.wasm, generated like bpf2go's objects so that building needs no
// clang) to a fresh build of its source with dissectortest.BuildC's fixed
// command: a change to http1.c or kubeshark.h without `make wasm-c` fails
// here wherever clang, wasi-libc and binaryen are installed (CI: make deps).
func TestCModuleFresh(t *testing.T) {
	fresh := dissectortest.CModule(t, source)
	committed := filepath.Join("c", "http1.wasm")
	if *updateC {
		if err := os.WriteFile(committed, fresh, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(committed)
	if err != nil {
		t.Fatalf("%v (make wasm-c generates it)", err)
	}
	if !bytes.Equal(old, fresh) {
		t.Fatalf("%s (%d bytes) differs from a fresh build of %s (%d bytes): run make wasm-c and commit it", committed, len(old), source, len(fresh))
	}
}
