//go:build !unix

package wasm

import "github.com/tetratelabs/wazero/experimental"

// memoryAllocator is nil where there is no mmap: wazero's own then grows a
// Go slice.
func memoryAllocator() experimental.MemoryAllocator { return nil }

// memoryStays is false: wazero's allocator moves a memory when it grows,
// so the host must not keep slices of it.
const memoryStays = false
