package tls

import (
	"container/heap"
	"context"
	"slices"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
)

// ReorderWindow is how long Plaintext holds an event in case one stamped
// earlier is still to come. Sent data is stamped when its call began and
// delivered when it returns, so a Write that returns after the Read of its
// own response (two threads, as Go's net/http uses) arrives second but
// sorts first. The window bounds how late such a Write may return; it is
// also the delay it adds to TLS records.
const ReorderWindow = 100 * time.Millisecond

// Plaintext turns a Tracer's events into the pipeline's plaintext chunks,
// for Pipeline.RunPlaintext, in the order of their stamps: each event is
// held until ReorderWindow has passed since its stamp. The returned channel
// is closed, after everything held, when events is closed (Tracer.Close)
// or ctx is done.
func Plaintext(ctx context.Context, events <-chan Event) <-chan pipeline.Plaintext {
	return plaintext(ctx, events, ReorderWindow, time.Now)
}

func plaintext(ctx context.Context, events <-chan Event, window time.Duration, now func() time.Time) <-chan pipeline.Plaintext {
	out := make(chan pipeline.Plaintext, 256)
	go func() {
		defer close(out)
		var h eventHeap
		var seq uint64
		tick := time.NewTicker(window / 4)
		defer tick.Stop()
		// release sends what is older than the window (everything, with
		// all), oldest first.
		release := func(all bool) bool {
			limit := now().Add(-window)
			for h.Len() > 0 && (all || !h.items[0].e.Time.After(limit)) {
				it := heap.Pop(&h).(*heldEvent)
				select {
				case out <- ToPlaintext(it.e):
				case <-ctx.Done():
					return false
				}
			}
			return true
		}
		for {
			select {
			case e, ok := <-events:
				if !ok {
					release(true)
					return
				}
				seq++
				heap.Push(&h, &heldEvent{e: e, seq: seq})
			case <-tick.C:
				if !release(false) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// heldEvent is an event waiting in Plaintext; seq keeps events with equal
// stamps in arrival order. The heap holds pointers: an Event is ~200
// bytes, and the heap's swaps and its Push and Pop through interfaces
// copied and boxed it on every move.
type heldEvent struct {
	e   Event
	seq uint64
}

type eventHeap struct{ items []*heldEvent }

func (h eventHeap) Len() int { return len(h.items) }
func (h eventHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if !a.e.Time.Equal(b.e.Time) {
		return a.e.Time.Before(b.e.Time)
	}
	return a.seq < b.seq
}
func (h eventHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *eventHeap) Push(x any)   { h.items = append(h.items, x.(*heldEvent)) }
func (h *eventHeap) Pop() any {
	n := len(h.items) - 1
	x := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	return x
}

// SortEvents orders events collected from a Tracer by their stamps, as
// Plaintext delivers them (stable for equal stamps).
func SortEvents(evs []Event) {
	slices.SortStableFunc(evs, func(a, b Event) int { return a.Time.Compare(b.Time) })
}

// ToPlaintext is one Event as a pipeline chunk: the process is the chunk's
// owner, so that when both ends of a connection are traced it is recorded
// once.
func ToPlaintext(e Event) pipeline.Plaintext {
	return pipeline.Plaintext{
		Time:   e.Time,
		Local:  e.Local,
		Remote: e.Remote,
		Sent:   e.Direction == Sent,
		Data:   e.Data,
		Gap:    e.Truncated,
		Closed: e.Kind == Closed,
		Owner:  e.PID,
	}
}
