package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHandleReleasesTheDirectoryWhenIdle checks the point of Handle: a
// second opener (another process, in real use; badger's lock is per
// process but is also refused within one) gets the store once the
// handle's user is idle, and the handle opens it again afterwards.
func TestHandleReleasesTheDirectoryWhenIdle(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "store")
	opts := Options{Dir: dir, Logger: quietLogger()}
	h := NewHandle(opts, 50*time.Millisecond, 300*time.Millisecond)
	defer h.Close()

	st, release, err := h.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, synthN(0, 1)); err != nil {
		t.Fatal(err)
	}
	// While held, another opener waits and then gives up with ErrBusy.
	if _, err := OpenWhenFree(ctx, opts, 100*time.Millisecond, nil); !errors.Is(err, ErrBusy) ||
		!strings.Contains(err.Error(), fmt.Sprintf("(pid %d) holds it", os.Getpid())) {
		t.Fatalf("open while held: %v, want ErrBusy naming the holder", err)
	}
	release()
	// After the idle delay the directory is free.
	waited := false
	other, err := OpenWhenFree(ctx, opts, 2*time.Second, func() { waited = true })
	if err != nil {
		t.Fatalf("open after release: %v", err)
	}
	if !waited {
		t.Log("the handle had already closed the store")
	}
	// Now the handle is the one that waits, and reports busy.
	if _, _, err := h.Acquire(ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("acquire while another holds it: %v, want ErrBusy", err)
	}
	if n, err := other.Count(ctx); err != nil || n != 1 {
		t.Fatalf("other opener sees %d records, %v", n, err)
	}
	other.Close()
	st, release, err = h.Acquire(ctx)
	if err != nil {
		t.Fatalf("acquire after the other closed: %v", err)
	}
	if n, _ := st.Count(ctx); n != 1 {
		t.Fatalf("reopened store has %d records", n)
	}
	release()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Acquire(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("acquire after Close: %v", err)
	}
}

// TestOpenWhenFreeAcrossProcesses holds the lock in a child process, the
// way kubeshark mcp would, and checks the error names the cause.
func TestOpenWhenFreeAcrossProcesses(t *testing.T) {
	if os.Getenv("KUBESHARK_HOLD_STORE") != "" {
		st, err := Open(context.Background(), Options{Dir: os.Getenv("KUBESHARK_HOLD_STORE"), Logger: quietLogger()})
		if err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("held\n")
		time.Sleep(1500 * time.Millisecond)
		st.Close()
		os.Exit(0)
	}
	dir := filepath.Join(t.TempDir(), "store")
	if st, err := Open(context.Background(), Options{Dir: dir, Logger: quietLogger()}); err == nil {
		st.Close()
	}
	cmd := exec.Command(os.Args[0], "-test.run", "TestOpenWhenFreeAcrossProcesses$")
	cmd.Env = append(os.Environ(), "KUBESHARK_HOLD_STORE="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || string(buf) != "held\n" {
		t.Fatalf("child did not take the lock: %q %v", buf, err)
	}
	if _, err := OpenWhenFree(context.Background(), Options{Dir: dir, Logger: quietLogger()}, 200*time.Millisecond, nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("open while a process holds it: %v", err)
	}
	called := false
	st, err := OpenWhenFree(context.Background(), Options{Dir: dir, Logger: quietLogger()}, 10*time.Second, func() { called = true })
	if err != nil || !called {
		t.Fatalf("waiting open: %v, waiting called %v", err, called)
	}
	st.Close()
	cmd.Wait()
}
