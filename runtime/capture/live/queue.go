package live

import (
	"sync"

	"github.com/kubeshark-wasm/kubeshark/bpf/packets"
)

// chunkQueue holds packets read from the ring buffer (each a chunk whose
// Data is the whole packet, see assembler) until Next hands them on. A reader goroutine fills it as fast as the ring delivers, so
// that a stall downstream (a store write, a busy machine) is absorbed by
// memory used only while it lasts, not by the fixed ring, whose overrun
// loses packets. It is bounded in bytes: when full, the reader waits and the
// ring takes the rest (and counts what it cannot).
type chunkQueue struct {
	mu     sync.Mutex
	space  *sync.Cond // signalled when chunks leave or the queue closes
	items  []queued
	head   int
	bytes  int
	max    int
	peak   int
	done   bool  // the reader has finished
	err    error // why, when it failed
	closed bool  // the consumer is gone: the reader must not wait
	// ready has a value when chunks (or the end) may be waiting.
	ready chan struct{}
}

// queued is a packet and the arena block its data was carved from.
type queued struct {
	c   packets.Chunk
	blk *block
}

// chunkOverhead is what a queued chunk costs besides its data.
const chunkOverhead = 96

func newChunkQueue(max int) *chunkQueue {
	q := &chunkQueue{max: max, ready: make(chan struct{}, 1)}
	q.space = sync.NewCond(&q.mu)
	return q
}

func (q *chunkQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// push queues c, which keeps c.Data (the reader allocated it for the
// queue, from blk), waiting while the queue is full. It reports false when
// the consumer is gone.
func (q *chunkQueue) push(c *packets.Chunk, blk *block) bool {
	n := len(c.Data) + chunkOverhead
	q.mu.Lock()
	for q.bytes > 0 && q.bytes+n > q.max && !q.closed {
		q.space.Wait()
	}
	if q.closed {
		q.mu.Unlock()
		return false
	}
	if q.head > 0 && q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	q.items = append(q.items, queued{*c, blk})
	q.bytes += n
	q.peak = max(q.peak, q.bytes)
	q.mu.Unlock()
	q.signal()
	return true
}

// finish records that the reader has stopped, with err when it failed.
func (q *chunkQueue) finish(err error) {
	q.mu.Lock()
	q.done, q.err = true, err
	q.mu.Unlock()
	q.signal()
}

// pop takes the oldest chunk and the block its data is in. Without one
// it says whether the reader has finished (and why).
func (q *chunkQueue) pop(c *packets.Chunk) (blk *block, ok, done bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return nil, false, q.done, q.err
	}
	*c, blk = q.items[q.head].c, q.items[q.head].blk
	q.items[q.head] = queued{}
	q.head++
	q.bytes -= len(c.Data) + chunkOverhead
	q.space.Signal()
	return blk, true, false, nil
}

// close releases a reader waiting for space: the consumer is gone.
func (q *chunkQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.space.Broadcast()
}

// peakBytes is the most the queue has held.
func (q *chunkQueue) peakBytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.peak
}
