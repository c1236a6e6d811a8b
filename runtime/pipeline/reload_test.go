package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// counted wraps a dissector, counting the instances it makes and those
// destroyed, and may rename it and call it a plugin (as an installed
// plugin's Source says), to make an impostor of a built-in.
type counted struct {
	engine.Dissector
	name, source    string
	made, destroyed atomic.Int64
}

func (c *counted) Manifest() sdk.Manifest {
	m := c.Dissector.Manifest()
	if c.name != "" {
		m.Name = c.name
	}
	return m
}

func (c *counted) Source() string {
	if c.source != "" {
		return c.source
	}
	return c.Dissector.Source()
}

func (c *counted) NewInstance(ctx context.Context, s engine.Sink) (engine.Instance, error) {
	in, err := c.Dissector.NewInstance(ctx, s)
	if err != nil {
		return nil, err
	}
	c.made.Add(1)
	return &countedInstance{Instance: in, c: c}, nil
}

type countedInstance struct {
	engine.Instance
	c *counted
}

func (i *countedInstance) Destroy(ctx context.Context) {
	i.c.destroyed.Add(1)
	i.Instance.Destroy(ctx)
}

// A dissector set changed while a run goes on applies to the streams opened
// afterwards; a stream in progress finishes with the dissector that claimed
// it, whose instance is released when that stream ends.
func TestSetDissectorsWhileRunning(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	http := &counted{Dissector: dissectortest.Builtin(t, "http1")}
	sink := &memSink{}
	p := pipeline.New(pipeline.Config{Workers: 1}, nil, sink)
	in := make(chan pipeline.Plaintext)
	done := make(chan error, 1)
	go func() {
		_, err := p.RunPlaintext(context.Background(), in)
		done <- err
	}()
	// waitStreams returns once the worker has opened n streams: it opens a
	// stream, and adopts the current set, on the stream's first chunk.
	waitStreams := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for p.Progress().Streams < n {
			if time.Now().After(deadline) {
				t.Fatalf("the worker opened %d streams, want %d", p.Progress().Streams, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	conn := func(i int) (netip.AddrPort, netip.AddrPort) {
		return netip.MustParseAddrPort(fmt.Sprintf("10.0.0.%d:40000", i)), netip.MustParseAddrPort("10.0.9.9:80")
	}
	send := func(chunks []pipeline.Plaintext) {
		for _, c := range chunks {
			in <- c
		}
	}
	// 1: no dissector yet.
	c, s := conn(1)
	send(exchange(c, s, 1, true, t0))
	waitStreams(1)
	// 2: the plugin installed while running dissects the next stream.
	p.SetDissectors([]engine.Dissector{http})
	c, s = conn(2)
	send(exchange(c, s, 2, true, t0.Add(time.Second)))
	waitStreams(2)
	// 3: a stream in progress when the dissector is removed keeps it.
	c, s = conn(3)
	x := exchange(c, s, 3, true, t0.Add(2*time.Second))
	send(x[:3]) // the first call, answered
	waitStreams(3)
	p.SetDissectors(nil)
	send(x[3:]) // the second call, then the close
	// 4: opened after the removal.
	c, s = conn(4)
	send(exchange(c, s, 4, true, t0.Add(3*time.Second)))
	waitStreams(4)
	if http.destroyed.Load() != http.made.Load() || http.made.Load() != 1 {
		t.Errorf("after its last stream ended the removed dissector has %d instances made, %d destroyed; want 1 and 1", http.made.Load(), http.destroyed.Load())
	}
	close(in)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range sink.recs {
		got[r.Src.IP]++
	}
	want := map[string]int{"10.0.0.2": 2, "10.0.0.3": 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records per client: %v, want %v (%v)", got, want, summary(sink.recs))
	}
	if d := p.Dissectors(); len(d) != 0 {
		t.Fatalf("Dissectors() = %v after SetDissectors(nil)", d)
	}
}

// greedy is a plugin gone wrong, made in Go so that the test controls when
// it faults: its probe claims every stream with confidence 100 and every
// feed faults, as a guest that traps or runs out of fuel does; after five
// faults it is quarantined, as wasm.Module does. (The wasm tests run the
// same behaviour in a real guest: TestGreedyTrappingGuestCostsOnlyItself.)
type greedy struct{ faults atomic.Int64 }

func (g *greedy) Manifest() sdk.Manifest {
	return sdk.Manifest{Name: "greedy", Version: "1", Protocols: []string{"greedy"}, Transports: []string{"tcp"}}
}
func (g *greedy) Source() string { return "plugin sha256:0123 from greedy.wasm" }
func (g *greedy) Health() engine.Health {
	n := int(g.faults.Load())
	return engine.Health{Faults: n, Quarantined: n >= 5}
}
func (g *greedy) NewInstance(context.Context, engine.Sink) (engine.Instance, error) {
	if g.faults.Load() >= 5 {
		return nil, fmt.Errorf("greedy: %w", engine.ErrQuarantined)
	}
	return greedyInstance{g}, nil
}

type greedyInstance struct{ g *greedy }

func (greedyInstance) Probe(context.Context, sdk.Direction, []byte) (sdk.Probe, error) {
	return sdk.Probe{Confidence: 100}, nil
}
func (greedyInstance) Open(context.Context, sdk.ConnInfo) error { return nil }
func (i greedyInstance) Feed(context.Context, uint64, sdk.Direction, []byte, int64, int64) (int, int, error) {
	i.g.faults.Add(1)
	return 0, 0, fmt.Errorf("greedy: feed: %w: fuel exhausted", engine.ErrFault)
}
func (greedyInstance) Gap(context.Context, uint64, sdk.Direction, int, int64) error { return nil }
func (greedyInstance) Close(context.Context, uint64, int64) error                   { return nil }
func (greedyInstance) Destroy(context.Context)                                      {}

// A plugin that claims every connection and then faults costs nothing but
// its own records: each connection it faulted on goes back to detection
// with the bytes it holds, and the built-in takes it (issue 13: 8 of 30
// exchanges were lost).
func TestFaultedStreamsAreRedetected(t *testing.T) {
	var buf bytes.Buffer
	want, err := synth.HTTPSample(context.Background(), &buf, 30)
	if err != nil {
		t.Fatal(err)
	}
	g := &greedy{}
	// The plugin first, so that its probe is asked first.
	recs, st := run(t, buf.Bytes(), pipeline.Config{Workers: 2}, g, dissectortest.Builtin(t, "http1"))
	if len(recs) != want.Requests {
		t.Fatalf("%d records of %d exchanges with a faulting plugin loaded (stats %+v)", len(recs), want.Requests, st)
	}
	if st.Redetected == 0 || st.DroppedAfterFault != 0 {
		t.Errorf("redetected %d, dropped %d", st.Redetected, st.DroppedAfterFault)
	}
	e := st.ErrorsByDissector["greedy"]
	kinds := map[string]bool{}
	if e != nil {
		for _, x := range e.Examples {
			kinds[x.Kind] = true
			if x.Kind == "fault" && (!strings.Contains(x.Error, "fuel") || x.Conn == "") {
				t.Errorf("fault example without its error or connection: %+v", x)
			}
		}
	}
	// It outbid the built-in (100 to 90) before faulting: both reported.
	if !kinds["fault"] || !kinds["contested"] || st.Contested == 0 {
		t.Fatalf("the faults and the contest are not reported against the plugin: %+v", e)
	}
	if st.Faults["greedy"] < 1 {
		t.Errorf("faults by dissector: %v", st.Faults)
	}
	for _, r := range recs {
		if r.Protocol != "http" {
			t.Fatalf("record of %s: %s", r.Dissector, r.Summary)
		}
	}
}

// Two dissectors whose probes claim a connection with the same confidence:
// the built-in wins, whatever the order, and the plugin is reported as
// contesting it. --decode-as pins the port to the plugin.
func TestProbeTiesAndDecodeAs(t *testing.T) {
	pcap := writeConv(t, []string{
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	}, true)
	impostor := func() *counted {
		return &counted{Dissector: dissectortest.Builtin(t, "http1"), name: "impostor", source: "plugin sha256:4567 from impostor.wasm"}
	}
	recs, st := run(t, pcap, pipeline.Config{}, impostor(), dissectortest.Builtin(t, "http1"))
	if len(recs) != 1 || !strings.HasPrefix(recs[0].Dissector, "http@") {
		t.Fatalf("a plugin tying with a built-in took the connection: %v %+v", summary(recs), recs)
	}
	e := st.ErrorsByDissector["impostor"]
	if st.Contested != 1 || e == nil || e.Examples[0].Kind != "contested" || !strings.Contains(e.Examples[0].Error, "http@") {
		t.Fatalf("the contest is not reported: contested %d, %+v", st.Contested, st.ErrorsByDissector)
	}
	if st.DissectorErrors != 0 {
		t.Errorf("a contest counted as a dissector error: %d", st.DissectorErrors)
	}
	// Two built-ins tying is no news.
	_, st = run(t, pcap, pipeline.Config{}, &counted{Dissector: dissectortest.Builtin(t, "http1"), name: "http-too"}, dissectortest.Builtin(t, "http1"))
	if st.Contested != 0 {
		t.Errorf("a tie between built-ins reported: %+v", st.ErrorsByDissector)
	}
	// Pinned by port, by name or by protocol.
	for _, pin := range []string{"impostor", "http"} {
		imp := impostor()
		ds := []engine.Dissector{dissectortest.Builtin(t, "http1"), imp}
		if pin == "http" {
			ds = []engine.Dissector{imp, dissectortest.Builtin(t, "http1")}
		}
		recs, _ = run(t, pcap, pipeline.Config{DecodeAs: map[uint16]string{8080: pin}}, ds...)
		wantDis := pin
		if pin == "http" {
			// By protocol: the first loaded that speaks it.
			wantDis = "impostor"
		}
		if len(recs) != 1 || !strings.HasPrefix(recs[0].Dissector, wantDis+"@") || recs[0].Dst.Port != 8080 {
			t.Fatalf("decode-as 8080=%s: %v by %v", pin, summary(recs), recs)
		}
	}
}
