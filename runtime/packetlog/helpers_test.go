package packetlog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

var t0 = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// pkt makes packet i: its time is t0+i ms, its bytes encode i so that a
// packet read back can be told from its neighbours, and its wire length
// exceeds its captured length to check both are kept.
func pkt(i int, lt layers.LinkType, size int) capture.Packet {
	data := make([]byte, size)
	for j := range data {
		data[j] = byte(i + j)
	}
	if size >= 2 {
		data[0], data[1] = byte(i>>8), byte(i)
	}
	return capture.Packet{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), LinkType: lt, Data: data, CaptureLength: size, Length: size + 10}
}

// index recovers i from a packet made by pkt.
func index(p capture.Packet) int { return int(p.Timestamp.Sub(t0) / time.Millisecond) }

func openLog(t *testing.T, dir string, opts Options) *Writer {
	t.Helper()
	opts.NoSync = true
	w, err := Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return w
}

func write(t *testing.T, w *Writer, ps ...capture.Packet) {
	t.Helper()
	for _, p := range ps {
		if err := w.Write(p); err != nil {
			t.Fatalf("Write packet %d: %v", index(p), err)
		}
	}
}

// readAll drains a window of the log.
func readAll(t *testing.T, r *Reader, win Window) []capture.Packet {
	t.Helper()
	ctx := context.Background()
	c, err := r.Packets(ctx, win)
	if err != nil {
		t.Fatalf("Packets: %v", err)
	}
	defer c.Close()
	var out []capture.Packet
	for {
		p, err := c.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		p.Data = bytes.Clone(p.Data)
		out = append(out, p)
	}
}

func indices(ps []capture.Packet) []int {
	out := []int{}
	for _, p := range ps {
		out = append(out, index(p))
	}
	return out
}

func seq(from, to int) []int {
	out := []int{}
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// samePacket compares what the log must preserve.
func samePacket(t *testing.T, got, want capture.Packet) {
	t.Helper()
	if !got.Timestamp.Equal(want.Timestamp) || got.LinkType != want.LinkType || !bytes.Equal(got.Data, want.Data) ||
		got.CaptureLength != len(want.Data) || got.Length != want.Length {
		t.Errorf("packet %d: got (%v, %v, %d/%d bytes), want (%v, %v, %d/%d bytes)", index(want),
			got.Timestamp, got.LinkType, got.CaptureLength, got.Length,
			want.Timestamp, want.LinkType, want.CaptureLength, want.Length)
	}
}

// chunkFiles lists the chunk files of dir with their sizes.
func chunkFiles(t *testing.T, dir string) []chunkInfo {
	t.Helper()
	cs, err := listChunks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	for _, c := range chunkFiles(t, dir) {
		n += c.size
	}
	return n
}

// readNg parses a pcapng file with gopacket's reader, independently of
// this package's own reading code.
func readNg(t *testing.T, b []byte) []capture.Packet {
	t.Helper()
	r, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatalf("pcapgo.NewNgReader: %v", err)
	}
	var out []capture.Packet
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("pcapgo ReadPacketData: %v", err)
		}
		out = append(out, capture.Packet{Timestamp: ci.Timestamp, LinkType: ci.AncillaryData[0].(layers.LinkType), Data: data, CaptureLength: ci.CaptureLength, Length: ci.Length})
	}
}

func openChunkPath(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*"+openSuffix))
	if len(m) != 1 {
		t.Fatalf("open chunks: %v, want exactly one", m)
	}
	return m[0]
}

// crash abandons a writer as a killed process would: its buffer is
// flushed (as the OS would have it after a write) but nothing is sealed.
func crash(t *testing.T, w *Writer) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur != nil {
		if err := w.cur.bw.Flush(); err != nil {
			t.Fatal(err)
		}
		// What the process had handed to its writing goroutine reaches
		// the file; a real crash may lose that too, as it may lose
		// what bufio held.
		if err := w.ops.close(); err != nil {
			t.Fatal(err)
		}
		w.cur.f.Close()
		w.cur = nil
	}
	w.closed = true
}

// settle waits for the file work w has queued (writes, seals, evictions).
func settle(t *testing.T, w *Writer) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ops != nil {
		w.ops.drain()
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
