package live

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// arena hands out the packet buffers the reader fills from the ring
// buffer, carved one after another from 4 MiB blocks mapped outside the
// Go heap. The packets waiting between the reader and Next were Go
// allocations: under 64 KiB-body traffic faster than the pipeline, the
// queue held its 256 MiB bound of them, the heap stood above the
// process's soft memory limit (256 MiB), and the collector ran without
// pause — a fifth of tap's CPU, with assists in the reader itself, while
// the kernel's ring overran. Memory the collector does not manage is
// neither counted toward that limit nor collected; the blocks go back to
// a short free list, or to the kernel, once every buffer carved from them
// has been released, so a burst's memory leaves with it.
//
// alloc is called by the reader goroutine only; release from any.
type arena struct {
	mu     sync.Mutex
	free   []*block // spare blocks, at most keepBlocks
	closed bool
	cur    *block // the block alloc carves from (reader only)
	mapped atomic.Int64
}

// block is one mapping. refs counts the buffers carved from it and not
// yet released, plus one while it is the block being carved.
type block struct {
	mem  []byte
	off  int
	refs atomic.Int64
}

const (
	blockSize = 4 << 20
	// Larger buffers (never a packet of the default snap length) come
	// from the heap.
	arenaMax = blockSize / 4
	// keepBlocks is how many empty blocks stay mapped for reuse: the
	// steady state of ordinary traffic carves from two blocks in turn.
	keepBlocks = 2
)

// alloc returns a buffer of length n and the block to release it to (nil
// for a heap buffer).
func (a *arena) alloc(n int) ([]byte, *block) {
	if n > arenaMax {
		return make([]byte, n), nil
	}
	b := a.cur
	if b == nil || b.off+n > len(b.mem) {
		if b != nil {
			a.cur = nil
			a.release(b) // no longer carved from
		}
		if b = a.block(); b == nil {
			return make([]byte, n), nil
		}
		b.refs.Store(1)
		a.cur = b
	}
	buf := b.mem[b.off : b.off+n : b.off+n]
	b.off += n
	b.refs.Add(1)
	return buf, b
}

// retire stops carving from the current block: the reader is done.
func (a *arena) retire() {
	if b := a.cur; b != nil {
		a.cur = nil
		a.release(b)
	}
}

// block takes a spare block or maps a new one; nil if mapping fails.
func (a *arena) block() *block {
	a.mu.Lock()
	if n := len(a.free); n > 0 {
		b := a.free[n-1]
		a.free = a.free[:n-1]
		a.mu.Unlock()
		return b
	}
	a.mu.Unlock()
	mem, err := unix.Mmap(-1, 0, blockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil
	}
	a.mapped.Add(1)
	return &block{mem: mem}
}

// release gives back one buffer carved from b (nil: a heap buffer).
func (a *arena) release(b *block) {
	if b == nil || b.refs.Add(-1) != 0 {
		return
	}
	b.off = 0
	a.mu.Lock()
	if !a.closed && len(a.free) < keepBlocks {
		a.free = append(a.free, b)
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	a.unmap(b)
}

func (a *arena) unmap(b *block) {
	if err := unix.Munmap(b.mem); err == nil {
		a.mapped.Add(-1)
	}
	b.mem = nil
}

// close unmaps the spare blocks, and makes blocks released later unmap.
func (a *arena) close() {
	a.mu.Lock()
	a.closed = true
	free := a.free
	a.free = nil
	a.mu.Unlock()
	for _, b := range free {
		a.unmap(b)
	}
}
