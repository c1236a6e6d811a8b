package diskguard

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/diskguard/diskguardtest"
)

func fill(t *testing.T, dir string, n int) {
	t.Helper()
	f, err := os.CreateTemp(dir, "fill")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	dir := diskguardtest.SmallFS(t, "8m")
	for _, tc := range []struct {
		name    string
		written int
		reserve uint64
		low     bool
	}{
		{"empty, small reserve", 0, 1 << 20, false},
		{"empty, reserve above the size", 0, 16 << 20, true},
		{"no reserve", 0, 0, false},
		{"filled past the reserve", 5 << 20, 4 << 20, true},
		{"filled, reserve still there", 0, 2 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fill(t, dir, tc.written)
			avail, total, err := Space(dir)
			if err != nil || total != 8<<20 || avail > total {
				t.Fatalf("Space: %d of %d, %v; want some of 8 MiB", avail, total, err)
			}
			err = Check(dir, tc.reserve)
			var le *LowError
			if got := errors.As(err, &le); got != tc.low {
				t.Fatalf("Check(reserve %d) after %d more bytes (%d available): %v, want low %v", tc.reserve, tc.written, avail, err, tc.low)
			}
			if tc.low && (!errors.Is(err, syscall.ENOSPC) || le.Dir != dir || le.Avail != avail || le.Reserve != tc.reserve) {
				t.Fatalf("Check: %#v, want ENOSPC naming %s, %d available, reserve %d", le, dir, avail, tc.reserve)
			}
		})
	}
}

func TestCheckMissingDir(t *testing.T) {
	if err := Check(filepath.Join(t.TempDir(), "gone"), 1); err == nil || errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Check of a missing directory: %v, want a statfs error", err)
	}
}

// TestWatch: the guard stays quiet while there is room and speaks once,
// soon, when a write takes the file system below the reserve.
func TestWatch(t *testing.T) {
	dir := diskguardtest.SmallFS(t, "8m")
	got := make(chan error, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watch(context.Background(), dir, 3<<20, 10*time.Millisecond, func(err error) { got <- err })
	}()
	select {
	case err := <-got:
		t.Fatalf("guard spoke with room left: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	fill(t, dir, 6<<20)
	select {
	case err := <-got:
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("guard: %v, want a LowError", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("guard silent 5s after the file system went below the reserve")
	}
	<-done // it returns after speaking, once
	if len(got) != 0 {
		t.Fatalf("guard spoke twice: %v", <-got)
	}

	// Until then it ends with its context.
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		Watch(ctx, dir, 1<<10, 10*time.Millisecond, func(err error) { t.Errorf("guard spoke: %v", err) })
	}()
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("guard still running 5s after its context ended")
	}
}
