package tls

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// EnsureTracefs mounts tracefs at /sys/kernel/tracing when it is missing
// (tracepoints are found there); it needs root.
func EnsureTracefs() error {
	if _, err := os.Stat("/sys/kernel/tracing/events"); err == nil {
		return nil
	}
	if _, err := os.Stat("/sys/kernel/debug/tracing/events"); err == nil {
		return nil
	}
	if err := unix.Mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		return fmt.Errorf("tls: tracefs is not mounted at /sys/kernel/tracing and mounting it failed (%w): run as root or `mount -t tracefs tracefs /sys/kernel/tracing`", err)
	}
	return nil
}
