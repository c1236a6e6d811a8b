//go:build unix

package wasm

import (
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// mmapAllocator backs each instance's linear memory with its own anonymous
// mapping of the memory cap. The kernel commits pages only when the guest
// touches them, so growing is free: wazero's default grows a Go slice by
// appending, which copies the whole memory at every step (a Go guest grows
// its memory dozens of times while its runtime starts) and leaves the old
// copies to the garbage collector, inflating the process's footprint.
// Closing the instance unmaps its memory at once.
type mmapAllocator struct{}

func (mmapAllocator) Allocate(_, max uint64) experimental.LinearMemory {
	b, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		// Reallocate reports the failure as a memory the guest cannot get.
		return &mmapMemory{}
	}
	return &mmapMemory{buf: b}
}

type mmapMemory struct{ buf []byte }

func (m *mmapMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.buf)) {
		return nil
	}
	return m.buf[:size]
}

func (m *mmapMemory) Free() {
	if m.buf != nil {
		syscall.Munmap(m.buf)
		m.buf = nil
	}
}

// memoryAllocator is the allocator instances use on this platform.
func memoryAllocator() experimental.MemoryAllocator { return mmapAllocator{} }

// memoryStays: a guest's memory never moves while its instance lives (it
// is one mapping of its cap from the start), so a slice of it stays valid
// across growth, and the host may keep one (instance.buf).
const memoryStays = true
