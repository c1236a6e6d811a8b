//go:build !unix

package storage

import "io/fs"

// allocatedSize falls back to the apparent size where block counts are not
// available; sparse preallocated files then count in full.
func allocatedSize(fi fs.FileInfo) int64 { return fi.Size() }
