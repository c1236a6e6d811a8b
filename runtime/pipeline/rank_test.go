package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/runtime/reassembly"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// fixedProbe is a dissector whose probe answers conf on anything and whose
// bound (a built-in's prefilter) says bound; it counts the probes asked.
type fixedProbe struct {
	name    string
	builtin bool
	ports   []uint16
	conf    uint8
	bound   uint8
	more    bool
	probes  int
}

func (f *fixedProbe) Manifest() sdk.Manifest {
	return sdk.Manifest{Name: f.name, Version: "1", Protocols: []string{f.name}, Transports: []string{"tcp"}, PortHints: f.ports}
}
func (f *fixedProbe) Source() string {
	if f.builtin {
		return "built-in"
	}
	return "plugin " + f.name + ".wasm"
}
func (f *fixedProbe) Health() engine.Health { return engine.Health{} }
func (f *fixedProbe) NewInstance(context.Context, engine.Sink) (engine.Instance, error) {
	return fixedInstance{f}, nil
}

type fixedInstance struct{ f *fixedProbe }

func (i fixedInstance) Probe(context.Context, sdk.Direction, []byte) (sdk.Probe, error) {
	i.f.probes++
	return sdk.Probe{Confidence: i.f.conf, NeedMore: i.f.more}, nil
}
func (i fixedInstance) ProbeBound(sdk.Direction, []byte) uint8 { return i.f.bound }
func (fixedInstance) Open(context.Context, sdk.ConnInfo) error { return nil }
func (fixedInstance) Feed(context.Context, uint64, sdk.Direction, []byte, int64, int64) (int, int, error) {
	return 0, 0, nil
}
func (fixedInstance) Gap(context.Context, uint64, sdk.Direction, int, int64) error { return nil }
func (fixedInstance) Close(context.Context, uint64, int64) error                   { return nil }
func (fixedInstance) Destroy(context.Context)                                      {}

func rankWorker(t *testing.T, ds []*fixedProbe) *worker {
	t.Helper()
	set := make([]engine.Dissector, len(ds))
	for i, d := range ds {
		set[i] = d
	}
	p := New(Config{}, set, nil)
	w, err := p.newWorker(context.Background(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func rankStream(hint string) *stream {
	c := &reassembly.Conn{Transport: packet.TCP, A: netip.MustParseAddrPort("10.0.0.1:40000"), B: netip.MustParseAddrPort("10.0.0.2:6379")}
	st := &stream{conn: c, dis: undecided, hint: hint}
	st.buf[sdk.DirA].append([]byte("GET / HTTP/1.1\r\n"), 0)
	return st
}

// Among built-ins, skipping the probes that cannot win picks the very
// dissector that asking them all in order picks, whatever the answers,
// port hints and protocol hint; and when nothing claims the stream, it
// asks them all (so wanting more bytes is heard).
func TestBoundedRankPicksWhatAskingAllPicks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	confs := []uint8{0, 10, 30, 49, 50, 60, 80, 90, 100}
	skipped := 0
	for trial := range 3000 {
		n := 1 + rng.IntN(5)
		ds := make([]*fixedProbe, n)
		for i := range ds {
			d := &fixedProbe{name: fmt.Sprint("d", i), builtin: true, conf: confs[rng.IntN(len(confs))], more: rng.IntN(3) == 0}
			d.bound = d.conf + uint8(rng.IntN(int(101-d.conf)))*uint8(rng.IntN(2))
			if rng.IntN(3) == 0 {
				d.ports = []uint16{6379}
			}
			ds[i] = d
		}
		hint := ""
		if rng.IntN(4) == 0 {
			hint = ds[rng.IntN(n)].name
		}
		w := rankWorker(t, ds)
		st := rankStream(hint)
		data := st.buf[sdk.DirA].bytes()
		wantBest, _, wantPr, wantWait := w.rankAll(st, sdk.DirA, data, "tcp")
		asked := 0
		for _, d := range ds {
			asked += d.probes
			d.probes = 0
		}
		best, rival, pr, wait := w.rankBounded(st, sdk.DirA, data, "tcp")
		desc := fmt.Sprintf("trial %d: %+v hint %q", trial, ds, hint)
		if best != wantBest || pr != wantPr {
			t.Fatalf("%s: bounded rank picked %d %+v, asking all picks %d %+v", desc, best, pr, wantBest, wantPr)
		}
		if wantPr.Confidence < w.p.cfg.MinConfidence && wait != wantWait {
			t.Fatalf("%s: unclaimed stream, wait %v, asking all says %v", desc, wait, wantWait)
		}
		if rival >= 0 && !w.slots[rival].builtin {
			t.Fatalf("%s: rival %d", desc, rival)
		}
		got := 0
		for _, d := range ds {
			got += d.probes
		}
		if got > asked {
			t.Fatalf("%s: %d probes asked, %d asking all", desc, got, asked)
		}
		skipped += asked - got
	}
	if skipped == 0 {
		t.Fatal("no probe was ever skipped")
	}
}

// HTTP/1's request line is a low-scoring Redis inline command: once HTTP/1
// has claimed the stream, the Redis module is not asked (and so, being
// lazily compiled, not compiled), unless a plugin is loaded, whose contest
// reports name the built-ins that also claimed the stream.
func TestLosingBuiltinIsNotProbed(t *testing.T) {
	for _, plugin := range []bool{false, true} {
		redis := &fixedProbe{name: "redis", builtin: true, conf: 40, bound: 40, ports: []uint16{6379}}
		http := &fixedProbe{name: "http", builtin: true, conf: 90, bound: 90}
		ds := []*fixedProbe{redis, http}
		if plugin {
			ds = append(ds, &fixedProbe{name: "plug", conf: 60, bound: 100})
		}
		w := rankWorker(t, ds)
		best, _, pr, _ := w.rank(rankStream(""), sdk.DirA)
		if best != 1 || pr.Confidence != 90 {
			t.Fatalf("plugin %v: best %d (%+v), want http", plugin, best, pr)
		}
		if want := map[bool]int{false: 0, true: 1}[plugin]; redis.probes != want || http.probes != 1 {
			t.Errorf("plugin %v: redis probed %d times (want %d), http %d", plugin, redis.probes, want, http.probes)
		}
		if !plugin && w.stats.ProbesSkipped != 1 {
			t.Errorf("ProbesSkipped = %d, want 1", w.stats.ProbesSkipped)
		}
	}
}
