package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/kube"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// TestRetentionPrunesHistory: a retention pass drops the workload-history
// bindings that ended before the oldest record left, says so, and the
// records left resolve as before.
func TestRetentionPrunesHistory(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	rec := func(ip string, ts time.Time) *sdk.Record {
		return &sdk.Record{Protocol: "http", Timestamp: ts, Stream: "s1", Dissector: "http@1", Method: "GET", Path: "/",
			Src: sdk.Endpoint{IP: ip, Port: 40000}, Dst: sdk.Endpoint{IP: "10.0.9.9", Port: 80}}
	}
	if err := st.Put(ctx, []*sdk.Record{rec("10.0.0.1", ago(3*time.Hour)), rec("10.0.0.2", ago(30*time.Minute))}); err != nil {
		t.Fatal(err)
	}
	h := kube.NewHistory(st, nil)
	pod := func(name string) map[string]*kube.Binding {
		return map[string]*kube.Binding{"10.0.0." + name[len(name)-1:]: {Name: name, Namespace: "shop", Node: "n1"}}
	}
	obs := func(uid string, want map[string]*kube.Binding, at time.Time) {
		t.Helper()
		if err := h.Observe(ctx, kube.KindPod, uid, want, at, at); err != nil {
			t.Fatal(err)
		}
	}
	// a held .1 over [-5h, -4h); b holds .2 over [-4h, -20m); c holds .3.
	obs("a", pod("pod1"), ago(5*time.Hour))
	obs("b", pod("pod2"), ago(4*time.Hour))
	obs("c", pod("pod3"), ago(4*time.Hour))
	obs("a", nil, ago(4*time.Hour))
	obs("b", nil, ago(20*time.Minute))
	st.SetResolver(h)
	srcName := func() string {
		t.Helper()
		sum, err := st.Summary(ctx)
		if err != nil || sum.Total == 0 {
			t.Fatalf("summary: %+v, %v", sum, err)
		}
		r, err := st.Query(ctx, storage.Query{Newest: true, Limit: 1})
		if err != nil || len(r.Records) != 1 {
			t.Fatalf("query: %v", err)
		}
		return r.Records[0].Src.Name
	}
	if got := srcName(); got != "pod2" {
		t.Fatalf("before retention the newest record's source is %q, want pod2", got)
	}

	res, err := applyRetention(ctx, st, nil, storage.RetentionLimits{Age: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.Dropped.Records != 1 || res.Dropped.Bindings != 1 {
		t.Fatalf("dropped %d records and %d bindings, want 1 and 1", res.Dropped.Records, res.Dropped.Bindings)
	}
	var out bytes.Buffer
	printRetention(&out, res)
	if !strings.Contains(out.String(), "and 1 workload bindings") {
		t.Errorf("retention line does not count the bindings: %q", out.String())
	}
	left, err := kube.LoadHistory(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if left.Len() != 2 || len(left.Lookup(kube.KindPod, "10.0.0.1", ago(4*time.Hour+time.Minute))) != 0 {
		t.Fatalf("stored history after retention: %d bindings, want b and c", left.Len())
	}
	st.SetResolver(left)
	if got := srcName(); got != "pod2" {
		t.Errorf("after retention the newest record's source is %q, want pod2", got)
	}
	// A second pass finds nothing more to drop.
	if res, err := applyRetention(ctx, st, nil, storage.RetentionLimits{Age: time.Hour}); err != nil || res.Dropped.Bindings != 0 {
		t.Errorf("second pass: %+v, %v", res, err)
	}
}
