package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrBusy reports a store directory locked by another process: badger
// allows one process per store.
var ErrBusy = errors.New("the store is in use by another kubeshark process")

// isLocked recognises badger's directory-lock failure.
func isLocked(err error) bool {
	return errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) ||
		(err != nil && strings.Contains(err.Error(), "Another process is using this Badger database"))
}

// OpenWhenFree is Open, waiting up to wait for another process to release
// the directory; waiting is called once if it has to wait, so the caller
// can say why nothing happens. A store still locked after wait is an error
// wrapping ErrBusy.
func OpenWhenFree(ctx context.Context, opts Options, wait time.Duration, waiting func()) (*Store, error) {
	deadline := time.Now().Add(wait)
	told := false
	for {
		st, err := Open(ctx, opts)
		if err == nil || !isLocked(err) {
			return st, err
		}
		if time.Now().After(deadline) {
			by := ""
			if h, ok := ReadHolder(opts.Dir); ok {
				by = fmt.Sprintf(": `%s` (pid %d) holds it", h.Command, h.PID)
			}
			return nil, fmt.Errorf("storage: open %q: %w (waited %s)%s", opts.Dir, ErrBusy, wait, by)
		}
		if !told && waiting != nil {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("storage: open %q: %w", opts.Dir, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Handle opens a store when it is needed and closes it once it has been
// idle, so that a long-lived reader (kubeshark mcp, started by an assistant
// and kept for hours) does not lock `kubeshark import` out of the directory
// for its whole life. It is safe for concurrent use.
type Handle struct {
	opts Options
	idle time.Duration
	wait time.Duration

	mu     sync.Mutex
	st     *Store
	users  int
	timer  *time.Timer
	closed bool
}

// NewHandle returns a handle on the store opts describes. The store is
// closed idle after its last user releases it; Acquire waits up to wait
// while another process holds the directory.
func NewHandle(opts Options, idle, wait time.Duration) *Handle {
	return &Handle{opts: opts, idle: idle, wait: wait}
}

// Acquire returns the open store and a function to call when done with
// it. While another process holds the directory it retries for the
// handle's wait, then fails with an error wrapping ErrBusy.
func (h *Handle) Acquire(ctx context.Context) (*Store, func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, fmt.Errorf("storage: handle: %w", ErrClosed)
	}
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	if h.st == nil {
		st, err := OpenWhenFree(ctx, h.opts, h.wait, nil)
		if err != nil {
			if errors.Is(err, ErrBusy) {
				return nil, nil, fmt.Errorf("%w: an import is probably writing to it; try again when it has finished", err)
			}
			return nil, nil, err
		}
		h.st = st
	}
	h.users++
	var once sync.Once
	return h.st, func() { once.Do(h.release) }, nil
}

func (h *Handle) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.users--
	if h.users > 0 || h.st == nil || h.closed {
		return
	}
	st := h.st
	h.timer = time.AfterFunc(h.idle, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.users == 0 && h.st == st {
			st.Close()
			h.st = nil
		}
	})
}

// Close closes the store if it is open; later Acquires fail.
func (h *Handle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.timer != nil {
		h.timer.Stop()
	}
	if h.st != nil {
		err := h.st.Close()
		h.st = nil
		return err
	}
	return nil
}
