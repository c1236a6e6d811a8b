package pipeline

import (
	"net/netip"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

// balancer places each flow on a worker when its first packet arrives, on
// the worker with the fewest flows active lately (ties: the fewest bytes
// lately), and keeps it there:
// a connection's reassembly and dissector state live in one worker, and no
// dissector instance is ever called from two.
//
// A flow hash spreads many flows evenly, but clusters carry much of their
// traffic on a few long-lived connections (gRPC, HTTP/2, keep-alive pools),
// and hashing a handful of heavy flows onto a few workers is a lottery: the
// benchmark's eight connections landed six on one worker and two on the
// other, so a second core added 33% instead of nearly 100%. Bytes alone do
// not predict well either: connections that open together look idle at
// first, and the first busy one pushed the next seven onto the other worker.
type balancer struct {
	flows map[flowKey]placement
	// active counts each worker's flows seen in the last activeWindow,
	// recounted every second and incremented as flows are placed.
	active []int
	// load is each worker's payload bytes (plus a per-packet charge),
	// halved every second of capture time, so it reflects recent work.
	load []int64
	// forget drops a flow idle for this long. It is longer than the
	// workers' idle timeouts, so the worker that held a forgotten flow has
	// already closed it, and a flow that comes back starts afresh wherever
	// it is placed.
	forget     time.Duration
	lastSweep  time.Time
	lastForget time.Time
}

// flowKey names a flow in both directions: the lower endpoint first.
type flowKey struct {
	lo, hi    netip.AddrPort
	transport packet.Transport
}

type placement struct {
	worker int
	last   time.Time
}

// activeWindow is how recently a flow must have carried a packet to count
// as active.
const activeWindow = 10 * time.Second

// perPacket is what a packet costs a worker beyond its payload bytes, so that
// a flow of empty ACKs is not free.
const perPacket = 128

func newBalancer(workers int, forget time.Duration) *balancer {
	return &balancer{flows: make(map[flowKey]placement), active: make([]int, workers), load: make([]int64, workers), forget: forget}
}

// worker returns the worker for s, placing its flow if it is new.
func (b *balancer) worker(s *packet.Segment) int {
	if len(b.load) == 1 {
		return 0
	}
	k := flowKey{lo: s.Src, hi: s.Dst, transport: s.Transport}
	if k.hi.Compare(k.lo) < 0 {
		k.lo, k.hi = k.hi, k.lo
	}
	p, ok := b.flows[k]
	if !ok {
		p.worker = 0
		for i := range b.load {
			if b.active[i] < b.active[p.worker] || b.active[i] == b.active[p.worker] && b.load[i] < b.load[p.worker] {
				p.worker = i
			}
		}
		b.active[p.worker]++
	}
	p.last = s.Timestamp
	b.flows[k] = p
	b.load[p.worker] += int64(len(s.Payload)) + perPacket
	if s.Timestamp.Sub(b.lastSweep) >= time.Second {
		b.sweep(s.Timestamp)
	}
	return p.worker
}

func (b *balancer) sweep(now time.Time) {
	for i := range b.load {
		b.load[i] /= 2
	}
	b.lastSweep = now
	forget := now.Sub(b.lastForget) >= b.forget/4
	if forget {
		b.lastForget = now
	}
	clear(b.active)
	for k, p := range b.flows {
		idle := now.Sub(p.last)
		switch {
		case forget && idle > b.forget:
			delete(b.flows, k)
		case idle <= activeWindow:
			b.active[p.worker]++
		}
	}
}
