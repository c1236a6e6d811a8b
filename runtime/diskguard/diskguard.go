// Package diskguard tells a long-running writer that the file system under
// its data directory is about to fill, while there is still room to finish
// cleanly.
//
// The store (Badger) writes its value log, write-ahead logs and tables
// through memory mappings of files it first extends without allocating
// them. When the file system cannot back a page written that way, the
// kernel answers with SIGBUS instead of an error, and the process dies
// wherever the write happened, holding what it had not stored yet. So a
// writer must stop before the disk is full, not when a write fails: Watch
// polls the space left (statfs) and reports once it falls below a reserve,
// which the writer keeps for storing what it holds and closing the store.
package diskguard

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// LowError says that a file system has less space available than the
// reserve a writer keeps. errors.Is(err, syscall.ENOSPC) holds for it.
type LowError struct {
	// Dir is the directory watched.
	Dir string
	// Avail is the space available to the process when it was measured,
	// Total the file system's size, Reserve the space the writer keeps,
	// all in bytes.
	Avail, Total, Reserve uint64
}

func (e *LowError) Error() string {
	return fmt.Sprintf("the file system of %s has %s left of %s, less than the %s kept to store what is in flight",
		e.Dir, Human(e.Avail), Human(e.Total), Human(e.Reserve))
}

// Is makes a LowError match syscall.ENOSPC, as the write it prevents would.
func (e *LowError) Is(target error) bool { return target == syscall.ENOSPC }

// Space returns the bytes available to this process on the file system of
// dir and the file system's size.
func Space(dir string) (avail, total uint64, err error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return 0, 0, fmt.Errorf("diskguard: statfs %s: %w", dir, err)
	}
	bs := uint64(fs.Bsize)
	return fs.Bavail * bs, fs.Blocks * bs, nil
}

// Check returns a *LowError when dir's file system has less than reserve
// bytes available, and nil when it has enough.
func Check(dir string, reserve uint64) error {
	avail, total, err := Space(dir)
	if err != nil {
		return err
	}
	if avail < reserve {
		return &LowError{Dir: dir, Avail: avail, Total: total, Reserve: reserve}
	}
	return nil
}

// Watch checks dir's file system every interval until ctx ends, and calls
// low once, with a *LowError, the first time less than reserve bytes are
// available; it then returns. A statfs that fails is retried at the next
// interval (the directory may be briefly replaced) and reported to low
// only when it keeps failing for ten intervals, since a writer that cannot
// tell how much room it has left cannot be kept safe.
func Watch(ctx context.Context, dir string, reserve uint64, interval time.Duration, low func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failures := 0
	for {
		err := Check(dir, reserve)
		var le *LowError
		switch {
		case errors.As(err, &le):
			low(err)
			return
		case err != nil:
			if failures++; failures >= 10 {
				low(err)
				return
			}
		default:
			failures = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Human renders a byte count in binary units (12.5 MiB).
func Human(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
