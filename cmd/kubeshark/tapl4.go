package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/kubeshark-wasm/kubeshark/bpf/conns"
	"github.com/kubeshark-wasm/kubeshark/runtime/l4"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// tapL4 runs the kernel's TCP connection events (bpf/conns) into a table
// that gives the flows and records tap stores their local processes and
// the connection's kernel lifecycle. It outlives the capture sources, so
// that the flows they store while draining are still annotated.
type tapL4 struct {
	probe  *conns.Probe
	tab    *l4.Table
	cancel context.CancelFunc
	done   chan error
}

// startL4 loads the tracepoint programs; tab receives their events (and,
// through live.Options.OnSocket, the packet hooks' cgroup ids).
func startL4(ctx context.Context, tab *l4.Table) (*tapL4, error) {
	p, err := conns.Open()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	t := &tapL4{probe: p, tab: tab, cancel: cancel, done: make(chan error, 1)}
	go func() { t.done <- p.Run(ctx, tab.Observe) }()
	return t, nil
}

// stop detaches the programs, folds in what is left in the ring buffer
// and frees the kernel objects.
func (t *tapL4) stop() error {
	if t == nil {
		return nil
	}
	t.cancel()
	err := <-t.done
	lost, _ := t.probe.Lost()
	t.probe.Close()
	if lost > 0 {
		return fmt.Errorf("%d TCP events lost in the kernel (ring buffer full)", lost)
	}
	return err
}

func (t *tapL4) Summary(w io.Writer) {
	if t == nil {
		return
	}
	st := t.tab.Stats()
	lost, _ := t.probe.Lost()
	fmt.Fprintf(w, "  l4:       %d TCP events from the kernel (%d lost), %d connections, %d flows given their process\n",
		st.Events, lost, st.Connections, st.Annotated)
}

// holdFlow is how long a flow whose packets ended waits for the kernel to
// report its sockets closed (the close follows the last packet by a
// moment, or by a retransmission timeout when the last ACK was lost).
const holdFlow = 2 * time.Second

// l4Sink puts the table's process and kernel context on everything the
// pipeline stores. A flow that ended on the wire before the kernel closed
// its sockets is held (up to holdFlow) so that it is stored with its close.
type l4Sink struct {
	store interface {
		pipeline.Sink
		pipeline.FlowSink
	}
	tab *l4.Table
	log *slog.Logger

	mu       sync.Mutex
	held     []heldFlow
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

type heldFlow struct {
	f     *sdk.Flow
	until time.Time
}

func newL4Sink(store interface {
	pipeline.Sink
	pipeline.FlowSink
}, tab *l4.Table, log *slog.Logger) *l4Sink {
	s := &l4Sink{store: store, tab: tab, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

// TakesEncodedFields passes on the store's answer: annotating reads no
// fields.
func (s *l4Sink) TakesEncodedFields() bool {
	es, ok := s.store.(pipeline.EncodedFieldsSink)
	return ok && es.TakesEncodedFields()
}

func (s *l4Sink) Put(ctx context.Context, recs []*sdk.Record) error {
	for _, r := range recs {
		s.tab.AnnotateRecord(r)
	}
	return s.store.Put(ctx, recs)
}

func (s *l4Sink) PutFlows(ctx context.Context, flows []*sdk.Flow) error {
	now := time.Now()
	ready := flows[:0:0]
	for _, f := range flows {
		s.tab.AnnotateFlow(f)
		if waitsForClose(f) {
			s.mu.Lock()
			s.held = append(s.held, heldFlow{f, now.Add(holdFlow)})
			s.mu.Unlock()
			continue
		}
		ready = append(ready, f)
	}
	return s.store.PutFlows(ctx, ready)
}

func waitsForClose(f *sdk.Flow) bool {
	return f.Kernel != nil && f.Kernel.ClosedAt == nil && (f.State == "closed" || f.State == "reset")
}

func (s *l4Sink) loop() {
	defer close(s.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.release(false)
		case <-s.stop:
			// Capture has stopped: what is held still gets its wait,
			// then everything goes.
			for s.release(false) > 0 {
				time.Sleep(50 * time.Millisecond)
			}
			return
		}
	}
}

// release stores the held flows whose sockets closed or whose wait is
// over (all of them with force), and says how many are still held.
func (s *l4Sink) release(force bool) int {
	s.mu.Lock()
	now := time.Now()
	var out []*sdk.Flow
	kept := s.held[:0]
	for _, h := range s.held {
		s.tab.AnnotateFlow(h.f)
		if force || !waitsForClose(h.f) || now.After(h.until) {
			out = append(out, h.f)
		} else {
			kept = append(kept, h)
		}
	}
	s.held = kept
	n := len(kept)
	s.mu.Unlock()
	if len(out) > 0 {
		if err := s.store.PutFlows(context.Background(), out); err != nil {
			s.log.Warn("storing flows held for their close", "flows", len(out), "err", err)
		}
	}
	return n
}

// close stores what is still held once its wait is over; the TCP events
// must still run meanwhile.
func (s *l4Sink) close() {
	if s == nil {
		return
	}
	s.stopOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.release(true)
	})
}
