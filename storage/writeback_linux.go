package storage

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// StartWriteback starts writing the value log's unwritten pages to disk
// and returns without waiting for them. Close syncs the value log (badger
// msyncs the file it was appending to, tens of MB after an import), so a
// command that has finished writing records and has other work to do
// before it closes the store (an import building its statistics) calls
// this first, and Close then finds most of the pages written. It changes
// nothing stored and guarantees nothing: a best effort, silent on errors.
// Linux only (sync_file_range); elsewhere it does nothing.
func (s *Store) StartWriteback() {
	if s.realDir == "" {
		return
	}
	vlogs, err := filepath.Glob(filepath.Join(s.realDir, "*.vlog"))
	if err != nil {
		return
	}
	for _, p := range vlogs {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		// The whole file: pages written through badger's shared
		// mapping are dirty in the page cache like written ones.
		_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
		f.Close()
	}
}
