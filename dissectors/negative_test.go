package dissectors_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
)

// expectedExtra lists records of a protocol that tshark's protocol
// hierarchy does not show for a file, where our answer is the right one;
// docs/conformance.md gives the evidence.
var expectedExtra = map[string]string{
	// An HTTP request sent to an SSH server: tshark dissects port 22 as
	// SSH; the client's bytes are an HTTP/1.1 request line.
	"negative/zeek_http_to_ssh_server.pcap": "http",
}

// TestCorpusNoWrongProtocolNoHang imports every corpus capture and checks
// that (a) nothing crashes or hangs, and (b) every protocol we report is one
// tshark also saw in that file (with the MANIFEST's decode-as rules), so
// that no dissector claims another protocol's traffic, and (c) no record
// both carries a response and says that none was captured.
func TestCorpusNoWrongProtocolNoHang(t *testing.T) {
	corpus := filepath.Join(sharedDir(t), "corpus")
	raw, err := os.ReadFile(filepath.Join(corpus, "manifest.json"))
	if err != nil {
		t.Skipf("SKIPPED: the shared corpus is not at %s (%v); the corpus-wide negative check did not run", corpus, err)
	}
	var all []manifestEntry
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	engines := loadBuiltins(t)
	type outcome struct {
		protos map[string]int
		// contradictions are records that carry a response and yet say
		// none was captured (issue 15, deepflow_error.pcap).
		contradictions []string
		err            error
		took           time.Duration
	}
	results := make([]outcome, len(all))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, e := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			start := time.Now()
			src, err := capture.OpenFile(filepath.Join(corpus, e.File))
			if err != nil {
				results[i] = outcome{err: err}
				return
			}
			defer src.Close()
			sink := &memSink{}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, err = pipeline.New(pipeline.Config{Workers: 1}, engines, sink).Run(ctx, src)
			o := outcome{protos: map[string]int{}, err: err, took: time.Since(start)}
			for _, r := range sink.recs {
				o.protos[r.Protocol]++
				if r.Response != nil && strings.Contains(r.Error, "no response captured") {
					o.contradictions = append(o.contradictions, r.Protocol+" "+r.Method+" "+r.Path+": "+r.Error)
				}
			}
			results[i] = o
		}()
	}
	wg.Wait()
	var slowest time.Duration
	for i, e := range all {
		o := results[i]
		slowest = max(slowest, o.took)
		if o.err != nil {
			// Some corpus files are deliberately truncated: that is a
			// reported error, not a failure, as long as it says so.
			if !strings.Contains(o.err.Error(), "truncated") && !strings.Contains(o.err.Error(), "corrupt") {
				t.Errorf("%s: %v", e.File, o.err)
			}
		}
		for _, c := range o.contradictions {
			t.Errorf("%s: a record with a response says none was captured: %s", e.File, c)
		}
		var wrong []string
		for p, n := range o.protos {
			if sawByTshark(e, p) || expectedExtra[e.File] == p {
				continue
			}
			wrong = append(wrong, p+"×"+itoa(n))
		}
		sort.Strings(wrong)
		if len(wrong) > 0 {
			t.Errorf("%s: records of %s, which tshark does not see there (it sees %v)", e.File, strings.Join(wrong, ", "), keys(e.Protos))
		}
	}
	t.Logf("%d captures imported; slowest took %s", len(all), slowest.Round(time.Millisecond))
}

func sawByTshark(e manifestEntry, proto string) bool {
	names := tsharkNames[proto]
	if len(names) == 0 {
		names = []string{proto}
	}
	for _, n := range names {
		if e.Protos[n] > 0 {
			return true
		}
	}
	return false
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
