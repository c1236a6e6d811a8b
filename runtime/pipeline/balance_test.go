package pipeline

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

func seg(t0 time.Time, ms int, client, server string, n int) *packet.Segment {
	return &packet.Segment{
		Timestamp: t0.Add(time.Duration(ms) * time.Millisecond),
		Transport: packet.TCP,
		Src:       netip.MustParseAddrPort(client),
		Dst:       netip.MustParseAddrPort(server),
		Payload:   make([]byte, n),
	}
}

func TestBalancer(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	t.Run("both directions of a flow stay on one worker", func(t *testing.T) {
		b := newBalancer(4, time.Minute)
		w := b.worker(seg(t0, 0, "10.0.0.1:40000", "10.0.0.2:80", 100))
		for i := 1; i < 50; i++ {
			// Other flows come and go in between.
			b.worker(seg(t0, i, "10.0.1.1:"+strconv.Itoa(30000+i), "10.0.0.2:80", 1000))
			if got := b.worker(seg(t0, i, "10.0.0.2:80", "10.0.0.1:40000", 500)); got != w {
				t.Fatalf("reply %d went to worker %d, flow is on %d", i, got, w)
			}
		}
	})
	t.Run("equal long-lived flows split evenly", func(t *testing.T) {
		// The benchmark's shape: eight keep-alive connections, equally busy.
		// A hash put six of them on one of two workers.
		b := newBalancer(2, time.Minute)
		per := make([]int, 2)
		for ms := 0; ms < 5000; ms++ {
			c := ms % 8
			per[b.worker(seg(t0, ms, "127.0.0.1:"+strconv.Itoa(50000+c), "127.0.0.1:8080", 300))] += 300
		}
		if r := float64(per[0]) / float64(per[0]+per[1]); r < 0.4 || r > 0.6 {
			t.Fatalf("worker 0 carried %.0f%% of the bytes (%v)", 100*r, per)
		}
	})
	t.Run("connections that open together split by count, not by who spoke first", func(t *testing.T) {
		b := newBalancer(2, time.Minute)
		per := make([]int, 2)
		// The first connection is busy before the others say anything.
		per[b.worker(seg(t0, 0, "127.0.0.1:50000", "127.0.0.1:8080", 200000))]++
		for c := 1; c < 8; c++ {
			per[b.worker(seg(t0, c, "127.0.0.1:"+strconv.Itoa(50000+c), "127.0.0.1:8080", 0))]++
		}
		if per[0] != 4 || per[1] != 4 {
			t.Fatalf("eight connections placed %v, want 4 and 4", per)
		}
	})
	t.Run("between workers with as many flows, a new flow goes to the one with the least recent load", func(t *testing.T) {
		b := newBalancer(2, time.Minute)
		heavy := b.worker(seg(t0, 0, "10.0.0.1:1", "10.0.0.9:443", 60000))
		light := b.worker(seg(t0, 1, "10.0.0.1:2", "10.0.0.9:443", 10))
		third := b.worker(seg(t0, 2, "10.0.0.1:3", "10.0.0.9:443", 10))
		if light == heavy || third != light {
			t.Fatalf("heavy on %d, light on %d, third on %d: want the third beside the light one", heavy, light, third)
		}
	})
	t.Run("idle flows are forgotten after the workers closed them", func(t *testing.T) {
		b := newBalancer(2, 4*time.Minute)
		b.worker(seg(t0, 0, "10.0.0.1:1", "10.0.0.9:443", 10))
		for s := 1; s <= 200; s++ {
			b.worker(seg(t0, s*1000, "10.0.0.1:2", "10.0.0.9:443", 10))
		}
		if len(b.flows) != 2 {
			t.Fatalf("%d flows remembered after 200 s, want 2", len(b.flows))
		}
		for s := 201; s <= 300; s++ {
			b.worker(seg(t0, s*1000, "10.0.0.1:2", "10.0.0.9:443", 10))
		}
		if len(b.flows) != 1 {
			t.Fatalf("%d flows remembered after the first was idle 5 minutes, want 1", len(b.flows))
		}
	})
}
