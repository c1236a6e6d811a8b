package kube

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// BenchmarkResolveEndpoint is the cost a record's end pays when it is read
// from a store with a history of 10,000 pods, each IP reused four times,
// in a namespace relabelled once.
func BenchmarkResolveEndpoint(b *testing.B) {
	ctx := context.Background()
	h := NewHistory(nil, nil)
	for i, team := range []string{"a", "b"} {
		from := t0.Add(time.Duration(i) * 90 * time.Minute)
		if err := h.Observe(ctx, KindNamespace, "ns-shop", map[string]*Binding{"shop": {Name: "shop", Labels: map[string]string{"team": team}}}, from, from); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 10000 {
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		for gen := range 4 {
			uid := fmt.Sprintf("uid-%d-%d", i, gen)
			from := t0.Add(time.Duration(gen) * time.Hour)
			if err := h.Observe(ctx, KindPod, uid, map[string]*Binding{ip: podInfo(uid)}, from, from); err != nil {
				b.Fatal(err)
			}
			if err := h.Observe(ctx, KindPod, uid, nil, from.Add(50*time.Minute), from.Add(50*time.Minute)); err != nil {
				b.Fatal(err)
			}
		}
	}
	at := t0.Add(2*time.Hour + 10*time.Minute)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e := sdk.Endpoint{IP: fmt.Sprintf("10.0.%d.%d", i>>8&31, i&255)}
		h.ResolveEndpoint(&e, 0, at)
		if e.K8s == nil || e.NamespaceLabels["team"] != "b" {
			b.Fatal("not resolved")
		}
	}
}
