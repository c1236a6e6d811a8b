package packetlog

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// The file is written by the Writer's own goroutine: what Flush returns
// after is on disk for any reader, what Push hands over reaches it
// without the caller waiting, and sealed chunks are renamed in order with
// the writes.
func TestWritesReachTheFileInOrder(t *testing.T) {
	dir := t.TempDir()
	w := openLog(t, dir, Options{ChunkSize: 4 << 10, MaxBytes: 1 << 30})
	defer w.Close()
	for i := range 100 {
		write(t, w, pkt(i, layers.LinkTypeEthernet, 300))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// A reader that does not go through the writer, as another process.
	if got := indices(readAll(t, NewReader(dir, Options{}), Window{})); !slices.Equal(got, seq(0, 100)) {
		t.Fatalf("after Flush a reader sees %v, want 0..99", got)
	}
	sealed := 0
	for _, c := range chunkFiles(t, dir) {
		if !c.open {
			sealed++
		}
	}
	if sealed < 5 {
		t.Errorf("%d sealed chunks after 30 KB in 4 KiB chunks, want them renamed by Flush", sealed)
	}

	for i := 100; i < 110; i++ {
		write(t, w, pkt(i, layers.LinkTypeEthernet, 300))
	}
	if err := w.Push(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := indices(readAll(t, NewReader(dir, Options{}), Window{}))
		if slices.Equal(got, seq(0, 110)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after Push a reader sees %d packets, want 110", len(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A write that fails on the writing goroutine is not lost: the next call
// that checks reports it, naming the chunk, once.
func TestQueuedWriteFailureIsReported(t *testing.T) {
	dir := t.TempDir()
	w := openLog(t, dir, Options{ChunkSize: 1 << 20, MaxBytes: 1 << 30})
	write(t, w, pkt(0, layers.LinkTypeEthernet, 100))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// The disk goes away under the open chunk.
	path := w.cur.info.path
	w.cur.f.Close()
	write(t, w, pkt(1, layers.LinkTypeEthernet, 100))
	err := w.Flush()
	if !errors.Is(err, os.ErrClosed) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Flush after a failed write = %v, want os.ErrClosed naming %s", err, path)
	}
	if err := w.Flush(); err != nil {
		t.Errorf("the failure was reported again: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close sealed a chunk whose file was closed underneath it without an error")
	}
}

// A live capture's log skips the duplicate check: the same packet written
// twice is kept twice, and no key is held for any chunk.
func TestNoDedupeKeepsEveryPacketAndNoKeys(t *testing.T) {
	dir := t.TempDir()
	w := openLog(t, dir, Options{ChunkSize: 2 << 10, MaxBytes: 1 << 30, NoDedupe: true})
	p := pkt(1, layers.LinkTypeEthernet, 300)
	for range 20 {
		write(t, w, p)
	}
	if c := w.Counts(); c.Written != 20 || c.Duplicates != 0 {
		t.Errorf("counts %+v, want 20 written, no duplicates", c)
	}
	w.mu.Lock()
	keys := w.dedupe.cur.len() + w.dedupe.nkeys
	w.mu.Unlock()
	if keys != 0 {
		t.Errorf("%d duplicate-check keys held", keys)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, NewReader(dir, Options{}), Window{}); len(got) != 20 {
		t.Errorf("%d packets read back, want 20", len(got))
	}
}
