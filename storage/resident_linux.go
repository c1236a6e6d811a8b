package storage

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// releaseValueLogs releases the pages of the store's value-log files that
// badger has finished writing (every file but the newest, which it is
// appending to) and that are not in released yet, adding them (resident.go).
func (s *Store) releaseValueLogs(released map[string]bool) error {
	if s.realDir == "" {
		return nil
	}
	s.vlogMu.Lock()
	defer s.vlogMu.Unlock()
	if s.db.IsClosed() {
		return nil
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	type span struct{ start, end uintptr }
	files := map[string][]span{}
	tables := map[string][]span{}
	newest := ""
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// start-end perms offset dev inode path
		f := strings.Fields(sc.Text())
		if len(f) != 6 || filepath.Dir(f[5]) != s.realDir {
			continue // not one of ours, or " (deleted)"
		}
		isTable := strings.HasSuffix(f[5], ".sst")
		if !strings.HasSuffix(f[5], ".vlog") && (!isTable || !s.opts.ReleaseTables) {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			return fmt.Errorf("parse /proc/self/maps line %q", sc.Text())
		}
		name := filepath.Base(f[5])
		if isTable {
			tables[name] = append(tables[name], span{uintptr(start), uintptr(end)})
			continue
		}
		files[name] = append(files[name], span{uintptr(start), uintptr(end)})
		// Value-log files are named by a zero-padded, increasing number.
		if len(name) > len(newest) || len(name) == len(newest) && name > newest {
			newest = name
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for name, spans := range files {
		if name == newest || released[name] {
			continue
		}
		for _, sp := range spans {
			// The raw call: the range is not Go memory, so no slice of it.
			if _, _, errno := unix.Syscall(unix.SYS_MADVISE, sp.start, sp.end-sp.start, unix.MADV_DONTNEED); errno != 0 {
				return fmt.Errorf("madvise %s: %w", name, errno)
			}
		}
		released[name] = true
	}
	for name, spans := range tables {
		if released[name] || s.tablesKept.Load() {
			continue
		}
		gone := true
		for _, sp := range spans {
			// MADV_PAGEOUT, not DONTNEED: badger may unmap a table
			// (compaction deleting it) at any moment without a lock to
			// hold, and the range be reused, by anonymous memory where
			// this is a no-op without swap, or by another file's mapping,
			// whose pages it only writes back early. ENOMEM: the range
			// went meanwhile.
			_, _, errno := unix.Syscall(unix.SYS_MADVISE, sp.start, sp.end-sp.start, unix.MADV_PAGEOUT)
			if errno == unix.EINVAL {
				s.tablesKept.Store(true) // a kernel before 5.4
				s.log.Debug("tables' pages cannot be released on this kernel", "err", errno)
				break
			}
			if errno != 0 && errno != unix.ENOMEM {
				return fmt.Errorf("madvise %s: %w", name, errno)
			}
			if errno == 0 && mostlyResident(sp.start, sp.end-sp.start) {
				gone = false
			}
		}
		// A table badger has just written is dirty until the kernel
		// writes it back (~30 s), and the pageout leaves dirty pages
		// where they are: try it again on a later pass instead of
		// counting it released with its pages still resident.
		released[name] = gone
	}
	return nil
}

// mostlyResident reports whether more than a quarter of the pages of the
// mapped range [start, start+n) are resident, by mincore(2); false when it
// cannot tell (the range went meanwhile).
func mostlyResident(start, n uintptr) bool {
	page := uintptr(os.Getpagesize())
	vec := make([]byte, (n+page-1)/page)
	if len(vec) == 0 {
		return false
	}
	// The raw call, as for madvise: the range is not Go memory.
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, start, n, uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return false
	}
	in := 0
	for _, v := range vec {
		in += int(v & 1)
	}
	return in*4 > len(vec)
}

// fileResident returns the process's file-backed resident bytes (RssFile
// in /proc/self/status), 0 when it cannot be read: a few microseconds.
func fileResident() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	_, rest, ok := bytes.Cut(b, []byte("\nRssFile:"))
	if !ok {
		return 0
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(string(line)), " kB"), 10, 64)
	if err != nil {
		return 0
	}
	return kb << 10
}
