package fanout

import (
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
// the stream's error (nil when it ended complete).
func (s *source[T]) next() (bool, error) {
	v, ok := <-s.items
	if ok {
		s.head = v
		return true, nil
	}
	return false, <-s.err
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

// merge streams path from every worker and merges the items by less,
// keeping those keep accepts (nil keeps all), up to limit (0: all). It
// returns the items, whether more exist past them, and an error only when
// no node answered. A node whose stream fails is reported and its items
// are taken out of the answer, so that the answer is exactly that of the
// nodes that answered, refilled from them.
func merge[T any](ctx context.Context, c *Cluster, path string, req any, dec decoder[T], less func(a, b T) bool, keep func(T) bool, limit int) ([]T, bool, error) {
	ws, err := c.workers(ctx)
	if err != nil {
		return nil, false, err
	}
	rep := reportOf(ctx)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the readers once the page is full
	srcs := make([]*source[T], len(ws))
	for i, w := range ws {
		srcs[i] = open(ctx, c, w, path, req, dec)
	}
	type item struct {
		v   T
		src int
	}
	var out []item
	failures := 0
	var lastErrs []error
	fail := func(i int, err error) {
		s := srcs[i]
		s.failed = true
		failures++
		err = s.worker.wrap(err)
		lastErrs = append(lastErrs, fmt.Errorf("%s: %w", s.node, err))
		rep.failed(s.node, err)
		kept := out[:0]
		for _, it := range out {
			if it.src != i {
				kept = append(kept, it)
			}
		}
		out = kept
	}
	index := map[*source[T]]int{}
	h := &mergeHeap[T]{less: less}
	// advance pulls the next item of source i that keep accepts, pushing
	// the source back on the heap when it has one.
	advance := func(i int) {
		s := srcs[i]
		for {
			ok, err := s.next()
			if !ok {
				if err != nil && ctx.Err() == nil {
					fail(i, err)
				}
				return
			}
			if keep == nil || keep(s.head) {
				heap.Push(h, s)
				return
			}
		}
	}
	for i, s := range srcs {
		index[s] = i
		advance(i)
	}
	more := false
	for h.Len() > 0 {
		if limit > 0 && len(out) == limit {
			more = true
			break
		}
		s := heap.Pop(h).(*source[T])
		if s.failed {
			continue
		}
		i := index[s]
		out = append(out, item{v: s.head, src: i})
		advance(i)
	}
	if failures == len(srcs) {
		return nil, false, fmt.Errorf("no node answered: %w", errors.Join(lastErrs...))
	}
	counts := make([]int, len(srcs))
	res := make([]T, len(out))
	for k, it := range out {
		res[k] = it.v
		counts[it.src]++
	}
	for i, s := range srcs {
		if !s.failed {
			rep.answered(s.node, counts[i])
		}
	}
	return res, more, nil
}
