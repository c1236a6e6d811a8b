package analysis

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// cascade builds two minutes of X → A → B → C traffic where, from 90s on,
// C answers 503 and so, a few milliseconds later in each second, do B and
// A. A is the busiest (4 calls/s) and C the quietest (1/s), so by raw
// figures A's trouble looks worst. D is unrelated and only gets busier.
// With named set, the capture source names the servers (dst) but not the
// clients, so the cascade must be traced through IPs.
func cascade(named bool) []*sdk.Record {
	name := func(n string) string {
		if named {
			return "shop/" + n
		}
		return ""
	}
	var cs []call
	for s := 0; s < 120; s++ {
		at := func(ms int) time.Duration { return sec(float64(s)) + time.Duration(ms)*time.Millisecond }
		fail := s >= 90
		status := 200
		if fail {
			status = 503
		}
		cs = append(cs, call{at: at(0), src: "10.0.1.2", dst: "10.0.1.3:8080", dstName: name("c"), path: "/c", ms: 10, status: status, failed: fail})
		for _, off := range []int{10, 510} {
			cs = append(cs, call{at: at(off), src: "10.0.1.1", dst: "10.0.1.2:80", dstName: name("b"), path: "/b", ms: 10, status: status, failed: fail})
		}
		for i, off := range []int{20, 270, 520, 770} {
			cs = append(cs, call{at: at(off), src: "10.0.0.9", dst: "10.0.1.1:80", dstName: name("a"), path: fmt.Sprintf("/a/%d", s*4+i), ms: 10, status: status, failed: fail})
		}
		n := 1
		if s >= 60 {
			n = 4
		}
		for i := 0; i < n; i++ {
			cs = append(cs, call{at: at(100 + 200*i), src: "10.0.0.9", dst: "10.0.2.1:80", path: "/d", ms: 10})
		}
	}
	return recs(cs...)
}

func TestAnomaliesCascade(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprintf("named=%v", named), func(t *testing.T) { testCascade(t, named) })
	}
}

func testCascade(t *testing.T, named bool) {
	ctx := context.Background()
	st := openStore(t, cascade(named))
	res, err := Anomalies(ctx, st, AnomalyQuery{Baseline: win(0, sec(60)), Target: win(sec(60), sec(120))})
	if err != nil {
		t.Fatal(err)
	}
	keyA, keyB, keyC, keyD := "http 10.0.1.1:80 GET /a/{id}", "http 10.0.1.2:80 GET /b", "http 10.0.1.3:8080 GET /c", "http 10.0.2.1:80 GET /d"
	if named {
		keyA, keyB, keyC = "http shop/a:80 GET /a/{id}", "http shop/b:80 GET /b", "http shop/c:8080 GET /c"
	}
	errs := map[string]Anomaly{}
	var errOrder []string
	var spike bool
	for _, a := range res.Anomalies {
		switch a.Kind {
		case KindErrorRate:
			errs[a.Key] = a
			errOrder = append(errOrder, a.Key)
		case KindVolumeSpike:
			spike = spike || a.Key == keyD
		default:
			t.Errorf("unexpected %s on %s: %s", a.Kind, a.Key, a.Detail)
		}
	}
	if want := []string{keyC, keyB, keyA}; !reflect.DeepEqual(errOrder, want) {
		t.Fatalf("error anomalies ranked %q, want %q", errOrder, want)
	}
	if !spike {
		t.Error("no volume spike on D")
	}
	if res.Anomalies[0].Key != keyC || !reflect.DeepEqual(res.RootCauses, []string{keyC}) {
		t.Errorf("first anomaly %s, root causes %q; want C first and alone", res.Anomalies[0].Key, res.RootCauses)
	}
	a, b, c := errs[keyA], errs[keyB], errs[keyC]
	if !c.RootCause || c.LikelyCausedBy != "" || !reflect.DeepEqual(c.Explains, []string{keyB}) {
		t.Errorf("C: root %v, caused by %q, explains %q", c.RootCause, c.LikelyCausedBy, c.Explains)
	}
	if b.RootCause || b.LikelyCausedBy != keyC || !reflect.DeepEqual(b.Explains, []string{keyA}) {
		t.Errorf("B: root %v, caused by %q, explains %q", b.RootCause, b.LikelyCausedBy, b.Explains)
	}
	if a.RootCause || a.LikelyCausedBy != keyB || len(a.Explains) != 0 {
		t.Errorf("A: root %v, caused by %q, explains %q", a.RootCause, a.LikelyCausedBy, a.Explains)
	}
	// Raw figures favour A; the cascade cap reverses that.
	if !(a.BaseSeverity > c.BaseSeverity && c.Severity > b.Severity && b.Severity > a.Severity) {
		t.Errorf("severities: A %v (base %v), B %v, C %v (base %v)", a.Severity, a.BaseSeverity, b.Severity, c.Severity, c.BaseSeverity)
	}
	for _, x := range []struct {
		a     Anomaly
		onset time.Duration
	}{{c, sec(90)}, {b, sec(90) + 10*time.Millisecond}, {a, sec(90) + 20*time.Millisecond}} {
		if x.a.Onset == nil || !x.a.Onset.Equal(t0.Add(x.onset)) {
			t.Errorf("%s: onset %v, want %v", x.a.Key, x.a.Onset, t0.Add(x.onset))
		}
	}
	if c.Baseline.ErrorRate != 0 || c.Target.ErrorRate != 0.5 || c.Target.Errors != 30 || c.Target.Count != 60 {
		t.Errorf("C figures: baseline %+v target %+v", c.Baseline, c.Target)
	}
	if want := []StatusCount{{"http", 503, 30}}; !reflect.DeepEqual(c.NewStatuses, want) {
		t.Errorf("C new statuses %v, want %v", c.NewStatuses, want)
	}
	if len(c.ExampleIDs) != maxExamples {
		t.Fatalf("C examples %v", c.ExampleIDs)
	}
	for _, id := range c.ExampleIDs {
		r, err := st.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Failed || r.Dst.IP != "10.0.1.3" {
			t.Errorf("example %s is not a failed call to C: %+v", id, r)
		}
	}
}

func TestAnomalyKinds(t *testing.T) {
	var cs []call
	for i := 0; i < 30; i++ {
		for half := 0; half < 2; half++ {
			at := sec(float64(60*half + 2*i))
			cs = append(cs, call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", path: "/steady", ms: 10})
			l := call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", path: "/latency", ms: 10}
			if half == 1 && i >= 10 {
				l.ms = float64(50 + i)
			}
			cs = append(cs, l)
			if half == 0 || i%10 == 0 {
				cs = append(cs, call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", path: "/dropping", ms: 10})
			}
			if half == 0 {
				cs = append(cs, call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", path: "/gone", ms: 10})
			}
			n := call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", path: "/notfound", ms: 10}
			if half == 1 && i%6 == 0 {
				n.status = 404
			}
			cs = append(cs, n)
			if i < 2 {
				cs = append(cs, call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", path: "/quiet", ms: 10, status: 500, failed: half == 1})
			}
		}
	}
	st := openStore(t, recs(cs...))
	res, err := Anomalies(context.Background(), st, AnomalyQuery{Baseline: win(0, sec(60)), Target: win(sec(60), sec(120))})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Anomaly{}
	for _, a := range res.Anomalies {
		got[a.Path+" "+a.Kind] = a
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"/dropping volume_drop", "/gone volume_drop", "/latency latency_rise", "/notfound new_status"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("anomalies %q, want %q", keys, want)
	}
	l := got["/latency latency_rise"]
	if l.Baseline.P95 != 10 || l.Target.P95 != 78 || l.Onset == nil || !l.Onset.Equal(t0.Add(sec(80))) {
		t.Errorf("latency: p95 %v → %v, onset %v", l.Baseline.P95, l.Target.P95, l.Onset)
	}
	if len(l.ExampleIDs) != 3 {
		t.Fatalf("latency examples %v", l.ExampleIDs)
	}
	for i, id := range l.ExampleIDs {
		r, err := st.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if want := float64(79 - i); *r.ElapsedMs != want {
			t.Errorf("latency example %d took %vms, want the slowest (%v)", i, *r.ElapsedMs, want)
		}
	}
	if g := got["/gone volume_drop"]; g.Target.Count != 0 || g.Baseline.Count != 30 {
		t.Errorf("gone: %+v", g)
	}
	if d := got["/dropping volume_drop"]; d.Target.Count != 3 {
		t.Errorf("dropping: %+v", d)
	}
	n := got["/notfound new_status"]
	if !reflect.DeepEqual(n.NewStatuses, []StatusCount{{"http", 404, 5}}) || len(n.ExampleIDs) != 3 {
		t.Errorf("new status: %+v", n)
	}
	// A non-failing new status weighs 3·share·w(n).
	if want := round(3*5.0/30*weight(5), 3); n.BaseSeverity != want {
		t.Errorf("new status severity %v, want %v", n.BaseSeverity, want)
	}
}

// TestFailingNewStatusIsARootCause: a dependency starts answering a status
// it never gave (503) on a share of its calls too small to double its
// error rate, and its caller passes it on as a new 502. The dependency's
// new failing status is a degradation with an onset: it is the root
// cause, and it explains the caller's.
func TestFailingNewStatusIsARootCause(t *testing.T) {
	const dep, api = "10.0.0.20:5000", "10.0.0.10:8080"
	var recs []*sdk.Record
	onset := 6 * time.Minute
	for i := 0; i < 600; i++ {
		at := time.Duration(i) * time.Second
		c := call{at: at, src: "10.0.0.10", dst: dep, proto: "http", method: "GET", path: "/stock", status: 200, ms: 5}
		a := call{at: at + time.Millisecond, src: "10.0.0.5", dst: api, proto: "http", method: "GET", path: "/buy", status: 200, ms: 9}
		switch {
		case i%10 == 0: // a steady 10% of server errors, before and after
			c.status, c.failed = 500, true
			a.status, a.failed = 500, true
		case at >= onset && i%25 == 1:
			c.status, c.failed = 503, true
			a.status, a.failed = 502, true
		}
		recs = append(recs, c.rec(), a.rec())
	}
	st := openStore(t, recs)
	res, err := Anomalies(context.Background(), st, AnomalyQuery{
		Baseline: Window{Start: t0, End: t0.Add(5 * time.Minute)},
		Target:   Window{Start: t0.Add(5 * time.Minute), End: t0.Add(10 * time.Minute)},
	})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]Anomaly{}
	for _, a := range res.Anomalies {
		if a.Kind == KindErrorRate {
			t.Fatalf("the 503s doubled no error rate, yet: %s", a.Detail)
		}
		byKey[a.Server] = a
	}
	d, c := byKey[dep], byKey[api]
	if d.Kind != KindNewStatus || c.Kind != KindNewStatus {
		t.Fatalf("want new_status on both: %s", res.Summary)
	}
	if len(res.RootCauses) != 1 || res.RootCauses[0] != d.Key || !d.RootCause || c.RootCause || c.LikelyCausedBy != d.Key {
		t.Fatalf("root causes %v; dependency root_cause_candidate %v, caller's likely cause %q: %s", res.RootCauses, d.RootCause, c.LikelyCausedBy, res.Summary)
	}
	if d.Onset == nil || d.Onset.Sub(t0.Add(onset)) < 0 || d.Onset.Sub(t0.Add(onset)) > 25*time.Second {
		t.Fatalf("onset %v, want the first 503 after %v", d.Onset, t0.Add(onset))
	}
	if res.Anomalies[0].Key != d.Key {
		t.Fatalf("first listed %s, want the dependency", res.Anomalies[0].Key)
	}
}
