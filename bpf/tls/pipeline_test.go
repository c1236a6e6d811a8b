package tls

import (
	"context"
	"net/netip"
	"os/exec"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

type recSink struct {
	mu   sync.Mutex
	recs []*sdk.Record
}

func (s *recSink) Put(_ context.Context, recs []*sdk.Record) error {
	s.mu.Lock()
	s.recs = append(s.recs, recs...)
	s.mu.Unlock()
	return nil
}

// From the kernel to records: curl's HTTPS calls to nginx, both ends
// traced, become one HTTP record each with tls set, client → server on the
// real 5-tuple.
func TestPlaintextPipelineRecords(t *testing.T) {
	needRoot(t)
	needTool(t, "curl", "nginx")
	n := newNet(t)
	addr := startNginx(t, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr, err := Start(ctx, Config{NoGo: true})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recSink{}
	p := pipeline.New(pipeline.Config{Workers: 2}, []engine.Dissector{dissectortest.Builtin(t, "http1")}, sink)
	done := make(chan pipeline.Stats)
	go func() {
		st, _ := p.RunPlaintext(ctx, Plaintext(ctx, tr.Events()))
		done <- st
	}()
	out, err := exec.Command("curl", "-sSk", "--http1.1", "https://"+addr+"/one", "https://"+addr+"/two").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	// Let the last events through, then stop: closing the tracer closes
	// the pipeline's input and flushes every record.
	time.Sleep(300 * time.Millisecond)
	tr.Close()
	st := <-done
	server := netip.MustParseAddrPort(addr)
	var got []string
	for _, r := range sink.recs {
		if r.Dst.String() != server.String() {
			continue
		}
		got = append(got, r.Method+" "+r.Path)
		if !r.TLS || r.Protocol != "http" || r.Status != 200 || r.Src.IP != n.Host || r.Src.Port == 0 {
			t.Errorf("record %s %s: protocol %s status %d tls %v %s > %s", r.Method, r.Path, r.Protocol, r.Status, r.TLS, r.Src, r.Dst)
		}
	}
	sort.Strings(got)
	if len(got) != 2 || got[0] != "GET /one" || got[1] != "GET /two" {
		t.Fatalf("records to %s: %v, want GET /one and GET /two once each (stats %+v)", server, got, st)
	}
	if st.PlaintextDuplicates == 0 {
		t.Errorf("nginx's copy of the connection was not dropped as a duplicate: %+v", st)
	}
}
