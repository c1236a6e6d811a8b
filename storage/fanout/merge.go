package fanout

import (
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// source is one worker's stream as the merge reads it: the item at its
// head, read ahead by a goroutine so that every node's latency overlaps.
type source[T any] struct {
	node    string
	worker  Worker
	items   chan T
	err     chan error // one value when the stream ends: nil for a complete one
	head    T
	emitted int
	failed  bool
}

// decoder turns a frame of the stream into an item; false for a frame of
// another kind.
type decoder[T any] func(kind byte, payload []byte) (T, bool, error)

func decodeRecord(kind byte, p []byte) (*sdk.Record, bool, error) {
	if kind != frameRecord {
		return nil, false, nil
	}
	r, err := storage.DecodeRecord(p)
	return r, true, err
}

func decodeFlow(kind byte, p []byte) (*sdk.Flow, bool, error) {
	if kind != frameFlow {
		return nil, false, nil
	}
	f := new(sdk.Flow)
	return f, true, json.Unmarshal(p, f)
}

// open starts reading one worker's stream. The goroutine ends when the
// stream does or ctx is cancelled (the merge has what it needs).
func open[T any](ctx context.Context, c *Cluster, w Worker, path string, req any, dec decoder[T]) *source[T] {
	s := &source[T]{node: w.Node, worker: w, items: make(chan T, 64), err: make(chan error, 1)}
	go func() {
		defer close(s.items)
		s.err <- readStream(ctx, c, w, path, req, dec, s.items)
	}()
	return s
}

// errCut is a stream that ended without its end frame.
var errCut = errors.New("stream cut short")

// errSilent is a worker that said nothing for Options.NodeTimeout.
var errSilent = errors.New("silent")

func readStream[T any](ctx context.Context, c *Cluster, w Worker, path string, req any, dec decoder[T], out chan<- T) error {
	// The watchdog cancels the stream when the worker stays silent; it is
	// reset by every frame, and stopped while the merge is not reading
	// (the worker is then waiting for us, not the other way round).
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timeout := c.opts.NodeTimeout
	silent := fmt.Errorf("%w for %s: the worker is stuck or unreachable", errSilent, timeout)
	watchdog := time.AfterFunc(timeout, func() { cancel(silent) })
	defer watchdog.Stop()
	resp, err := c.do(sctx, w, http.MethodPost, path, req)
	if err != nil {
		if context.Cause(sctx) == silent {
			return silent
		}
		return err
	}
	defer resp.Body.Close()
	fr := newFrameReader(resp.Body)
	n := 0
	for {
		watchdog.Reset(timeout)
		kind, p, err := fr.next()
		watchdog.Stop()
		if err != nil {
			if context.Cause(sctx) == silent {
				return fmt.Errorf("%w after %d items", silent, n)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w after %d items (the worker stopped or the connection broke)", errCut, n)
			}
			return fmt.Errorf("%w after %d items: %w", errCut, n, err)
		}
		switch kind {
		case frameEnd:
			count, k := binary.Uvarint(p)
			if k <= 0 || count != uint64(n) {
				return fmt.Errorf("stream ended after %d items but says it sent %d", n, count)
			}
			return nil
		case frameError:
			return errors.New(string(p))
		}
		v, ok, err := dec(kind, p)
		if err != nil {
			return fmt.Errorf("item %d of the stream: %w", n+1, err)
		}
		if !ok {
			return fmt.Errorf("%w after %d items: a frame of unknown kind %q", errCut, n, kind)
		}
		select {
		case out <- v:
			n++
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// next moves the source's head forward; false when the stream ended, with
// the stream's error (nil when it ended complete). It gives up when ctx,
// the call's, is done.
func (s *source[T]) next(ctx context.Context) (bool, error) {
	select {
	case v, ok := <-s.items:
		if ok {
			s.head = v
			return true, nil
		}
		return false, <-s.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// mergeHeap orders the sources by their heads.
type mergeHeap[T any] struct {
	s    []*source[T]
	less func(a, b T) bool
}

func (h *mergeHeap[T]) Len() int           { return len(h.s) }
func (h *mergeHeap[T]) Less(i, j int) bool { return h.less(h.s[i].head, h.s[j].head) }
func (h *mergeHeap[T]) Swap(i, j int)      { h.s[i], h.s[j] = h.s[j], h.s[i] }
func (h *mergeHeap[T]) Push(x any)         { h.s = append(h.s, x.(*source[T])) }
func (h *mergeHeap[T]) Pop() any {
	x := h.s[len(h.s)-1]
	h.s = h.s[:len(h.s)-1]
	return x
}

// merger is a merge of every worker's stream in progress: the sources,
// those whose head is waiting on the heap, and the nodes that failed. It
// outlives one call when parked (parking.go), so that the next page goes
// on reading the same streams.
type merger[T any] struct {
	srcs   []*source[T]
	index  map[*source[T]]int
	h      *mergeHeap[T]
	keep   func(T) bool
	failed map[int]error
	cancel context.CancelFunc // stops every stream
	primed bool               // every source has had its first head pulled
}

// startMerge opens every worker's stream of path. The streams live until
// the merger is closed, not only for the call that opened them.
func startMerge[T any](ctx context.Context, c *Cluster, path string, req any, dec decoder[T], less func(a, b T) bool, keep func(T) bool) (*merger[T], error) {
	ws, err := c.workers(ctx)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m := &merger[T]{index: map[*source[T]]int{}, h: &mergeHeap[T]{less: less}, keep: keep, failed: map[int]error{}, cancel: cancel}
	for i, w := range ws {
		s := open(sctx, c, w, path, req, dec)
		m.srcs = append(m.srcs, s)
		m.index[s] = i
	}
	return m, nil
}

// close stops every stream.
func (m *merger[T]) close() { m.cancel() }

// page takes up to limit items (0: all) in order, and says whether more
// exist past them. Failures are reported to rep: a node that failed, in
// this call or an earlier page of the same merge, is named, and its items
// taken out of this page, which is refilled from the others. It fails
// only when no node answered, or ctx ended (the merger is then spent).
func (m *merger[T]) page(ctx context.Context, rep *Report, limit int, log *slog.Logger) ([]T, bool, error) {
	type item struct {
		v   T
		src int
	}
	var out []item
	fail := func(i int, err error) {
		s := m.srcs[i]
		s.failed = true
		err = s.worker.wrap(err)
		m.failed[i] = err
		log.Warn("fanout: node did not answer", "node", s.node, "err", err)
		kept := out[:0]
		for _, it := range out {
			if it.src != i {
				kept = append(kept, it)
			}
		}
		out = kept
	}
	// advance pulls the next item of source i that keep accepts, pushing
	// the source back on the heap when it has one.
	advance := func(i int) error {
		s := m.srcs[i]
		for {
			ok, err := s.next(ctx)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !ok {
				if err != nil {
					fail(i, err)
				}
				return nil
			}
			if m.keep == nil || m.keep(s.head) {
				heap.Push(m.h, s)
				return nil
			}
		}
	}
	if !m.primed {
		for i := range m.srcs {
			if err := advance(i); err != nil {
				return nil, false, err
			}
		}
		m.primed = true
	}
	more := false
	for m.h.Len() > 0 {
		if limit > 0 && len(out) == limit {
			more = true
			break
		}
		s := heap.Pop(m.h).(*source[T])
		if s.failed {
			continue
		}
		i := m.index[s]
		out = append(out, item{v: s.head, src: i})
		if err := advance(i); err != nil {
			return nil, false, err
		}
	}
	if len(m.failed) == len(m.srcs) {
		errs := make([]error, 0, len(m.srcs))
		for i, s := range m.srcs {
			errs = append(errs, fmt.Errorf("%s: %w", s.node, m.failed[i]))
		}
		return nil, false, fmt.Errorf("no node answered: %w", errors.Join(errs...))
	}
	counts := make([]int, len(m.srcs))
	res := make([]T, len(out))
	for k, it := range out {
		res[k] = it.v
		counts[it.src]++
	}
	for i, s := range m.srcs {
		if err, bad := m.failed[i]; bad {
			rep.failed(s.node, err)
		} else {
			rep.answered(s.node, counts[i])
		}
	}
	return res, more, nil
}

// merge is one page of a merge that is not kept for the next: flows,
// whose filter is a Go function that cannot tell two calls apart.
func merge[T any](ctx context.Context, c *Cluster, path string, req any, dec decoder[T], less func(a, b T) bool, keep func(T) bool, limit int) ([]T, bool, error) {
	m, err := startMerge(ctx, c, path, req, dec, less, keep)
	if err != nil {
		return nil, false, err
	}
	defer m.close()
	return m.page(ctx, reportOf(ctx), limit, c.opts.Logger)
}
