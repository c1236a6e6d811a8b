package dns_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// source is the C dissector, relative to the module root.
const source = "dissectors/dns/c/dns.c"

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
// written, timestamps, direction).
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

// captures lists the shared corpus's captures (every protocol's:
// detection and rejection count too) and, where unbound is installed, the
// two DNS incident scenarios of runtime/synth written to dir.
func captures(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	corpus := filepath.Join(dissectortest.SharedDir(), "corpus")
	if _, err := os.Stat(corpus); err != nil {
		t.Logf("shared corpus not found at %s (KUBESHARK_SHARED): the scenarios only", corpus)
	} else {
		filepath.WalkDir(corpus, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng")) {
				files = append(files, p)
			}
			return nil
		})
		sort.Strings(files)
	}
	for _, name := range []string{"dns-nxdomain", "dns-timeout"} {
		path := filepath.Join(dir, name+".pcap")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = synth.Incident(context.Background(), f, name, synth.IncidentOptions{Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
		f.Close()
		if errors.Is(err, synth.ErrMissingTool) {
			t.Logf("scenario %s: %v", name, err)
			continue
		}
		if err != nil {
			t.Fatalf("scenario %s: %v", name, err)
		}
		files = append(files, path)
	}
	return files
}

// TestCorpusCMatchesGo is the differential test of the two DNS
// dissectors: every capture of the shared corpus and the DNS incident
// scenarios, through the real pipeline, once with the Go guest and once
// with the C guest, must give the same records, byte for byte.
func TestCorpusCMatchesGo(t *testing.T) {
	cmod := dissectortest.CModule(t, source)
	files := captures(t, t.TempDir())
	if len(files) == 0 {
		t.Skip("no captures: neither the shared corpus nor unbound")
	}
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: filepath.Join(os.TempDir(), "kubeshark-test-wazero-cache")})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	goMod, err := rt.Load(ctx, "built-in", dissectortest.BuildDir(t, "dissectors/dns/wasm"))
	if err != nil {
		t.Fatal(err)
	}
	cMod, err := rt.Load(ctx, "built-in", cmod)
	if err != nil {
		t.Fatal(err)
	}
	total, dnsFiles := 0, 0
	for _, f := range files {
		rel := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		want, got := lines(t, goMod, f), lines(t, cMod, f)
		total += len(want)
		if len(want) > 0 {
			dnsFiles++
		}
		if strings.HasPrefix(filepath.Base(f), "dns-") && filepath.Dir(f) != filepath.Join(dissectortest.SharedDir(), "corpus", "dns") {
			t.Logf("scenario %s: %d records", filepath.Base(f), len(want))
		}
		if len(want) != len(got) {
			t.Errorf("%s: Go made %d records, C %d", rel, len(want), len(got))
		}
		for i := range min(len(want), len(got)) {
			if want[i] != got[i] {
				t.Errorf("%s: record %d differs:\nGo %s\nC  %s", rel, i, want[i], got[i])
				break
			}
		}
	}
	if total == 0 {
		t.Fatal("no DNS records in any capture")
	}
	t.Logf("%d captures (%d with DNS records), %d records alike", len(files), dnsFiles, total)
}
