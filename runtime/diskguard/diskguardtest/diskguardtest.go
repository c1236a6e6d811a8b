// Package diskguardtest gives tests a file system that really fills up.
package diskguardtest

import (
	"os"
	"os/exec"
	"testing"
)

// SmallFS mounts a tmpfs of the given size (mount's syntax: "8m") on a
// new directory for the test's lifetime and returns it. It needs root and
// skips the test without it (CI runs as root). tmpfs backs pages written
// through a memory mapping as a disk does: a write past its size through
// one faults with SIGBUS, a write(2) fails with ENOSPC.
func SmallFS(t testing.TB, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root (CI runs as root)")
	}
	dir, err := os.MkdirTemp("", "smallfs")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		os.Remove(dir)
		t.Fatalf("mount tmpfs of %s on %s: %v: %s", size, dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			return
		}
		os.Remove(dir)
	})
	return dir
}
