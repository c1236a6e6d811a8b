package packetlog

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// fileOps performs a Writer's file work on a goroutine of its own, in the
// order it was asked for: the chunk's buffered writes, the fsync, close
// and rename that seal a chunk, the removal of evicted ones. A Writer is
// teed into the pipeline's reading loop (tap, import): there a 64 KiB
// packet's write system call, and the fsync of every sealed 16 MiB chunk,
// stopped the reading of packets while the disk worked, and under live
// load the kernel's ring buffer overran meanwhile. The queue is bounded in
// bytes: when the disk falls that far behind, the caller waits as before.
//
// A failure is reported once, by the next call that checks (Writer.Write,
// Flush, Close); the work queued after it still runs, as it would have if
// the failing call had returned its error synchronously. Work is queued
// only under the Writer's mutex, so the queue's order is the Writer's.
type fileOps struct {
	mu      sync.Mutex
	changed *sync.Cond // signalled when an op finishes or is queued
	queue   []fileOp
	pending int // ops queued or running
	bytes   int // bytes of queued or running writes
	max     int
	err     error
	closed  bool
	free    [][]byte // write buffers to reuse
	done    chan struct{}
}

// fileOp is either a write of buf to f or a call of fn.
type fileOp struct {
	f   *os.File
	buf []byte
	fn  func() error
}

// maxQueuedWrites bounds the bytes waiting for the disk: a dozen
// milliseconds of 64 KiB-body traffic at 5,000 requests/s, enough to
// ride out a write system call that blocks. Every buffer it takes is
// kept for reuse: a 64 MiB bound, its buffers fresh from the heap each
// time, made a 300 MB import 0.5 s slower (page faults, collection).
const maxQueuedWrites = 4 << 20

func newFileOps(max int) *fileOps {
	q := &fileOps{max: max, done: make(chan struct{})}
	q.changed = sync.NewCond(&q.mu)
	go q.run()
	return q
}

func (q *fileOps) run() {
	defer close(q.done)
	q.mu.Lock()
	for {
		for len(q.queue) == 0 && !q.closed {
			q.changed.Wait()
		}
		if len(q.queue) == 0 {
			q.mu.Unlock()
			return
		}
		op := q.queue[0]
		q.queue[0] = fileOp{}
		q.queue = q.queue[1:]
		q.mu.Unlock()
		var err error
		if op.fn != nil {
			err = op.fn()
		} else if _, err = op.f.Write(op.buf); err != nil {
			err = fmt.Errorf("writing %s: %w", op.f.Name(), err)
		}
		q.mu.Lock()
		if err != nil && q.err == nil {
			q.err = err
		}
		if op.buf != nil {
			q.bytes -= len(op.buf)
			if len(q.free) < q.max/writeBufferSize {
				q.free = append(q.free, op.buf[:0])
			}
		}
		q.pending--
		q.changed.Broadcast()
	}
}

// write queues a copy of p for f, waiting while the queue is full.
func (q *fileOps) write(f *os.File, p []byte) {
	q.mu.Lock()
	for q.bytes > 0 && q.bytes+len(p) > q.max {
		q.changed.Wait()
	}
	var buf []byte
	if n := len(q.free); n > 0 && cap(q.free[n-1]) >= len(p) {
		buf, q.free = q.free[n-1], q.free[:n-1]
	}
	q.bytes += len(p)
	q.pending++
	q.mu.Unlock()
	// The copy is made outside the lock: the writing goroutine may be
	// taking the next op meanwhile.
	if buf == nil {
		buf = make([]byte, 0, max(len(p), writeBufferSize))
	}
	buf = append(buf, p...)
	q.mu.Lock()
	q.queue = append(q.queue, fileOp{f: f, buf: buf})
	q.mu.Unlock()
	q.changed.Broadcast()
}

// do queues fn, to run after everything queued before it.
func (q *fileOps) do(fn func() error) {
	q.mu.Lock()
	q.pending++
	q.queue = append(q.queue, fileOp{fn: fn})
	q.mu.Unlock()
	q.changed.Broadcast()
}

// wait returns once everything queued so far has been done, with the
// failure not yet reported, if any.
func (q *fileOps) wait() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.drainLocked()
	return q.takeLocked()
}

// drain returns once everything queued so far has been done, leaving a
// failure for the next call that reports one.
func (q *fileOps) drain() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.drainLocked()
}

func (q *fileOps) drainLocked() {
	for q.pending > 0 {
		q.changed.Wait()
	}
}

// failed returns the failure not yet reported, without waiting.
func (q *fileOps) failed() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.takeLocked()
}

func (q *fileOps) takeLocked() error {
	err := q.err
	q.err = nil
	return err
}

// close does what is queued, stops the goroutine, and returns the
// failure not yet reported.
func (q *fileOps) close() error {
	err := q.wait()
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.changed.Broadcast()
	<-q.done
	return errors.Join(err, q.failed())
}

// queuedFile is what a chunk's bufio.Writer flushes into: its writes go
// through the Writer's fileOps.
type queuedFile struct {
	q *fileOps
	f *os.File
}

func (w queuedFile) Write(p []byte) (int, error) {
	w.q.write(w.f, p)
	return len(p), nil
}
