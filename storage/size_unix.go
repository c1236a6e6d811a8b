//go:build unix

package storage

import (
	"io/fs"
	"syscall"
)

// allocatedSize counts the blocks a file really occupies, because badger
// preallocates its memory-mapped files as sparse files far larger than
// their contents.
func allocatedSize(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return min(fi.Size(), int64(st.Blocks)*512)
	}
	return fi.Size()
}
