//go:build !unix

package wasm

import "github.com/tetratelabs/wazero/experimental"

// memoryAllocator is nil where there is no mmap: wazero's own then grows a
// Go slice.
func memoryAllocator() experimental.MemoryAllocator { return nil }
