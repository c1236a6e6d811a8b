package packetlog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

// mixed alternates link types so that chunks and exports need several
// pcapng interfaces.
func mixed(n, size int) []capture.Packet {
	lts := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw, layers.LinkTypeLinuxSLL2, layers.LinkTypeEthernet}
	ps := make([]capture.Packet, n)
	for i := range ps {
		ps[i] = pkt(i, lts[i%len(lts)], size+i%7)
	}
	return ps
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := openLog(t, dir, Options{ChunkSize: 4 << 10, MaxBytes: 1 << 20})
	ps := mixed(200, 60)
	write(t, w, ps...)

	// A writer's own Reader sees everything written so far, open chunk
	// included, without Close.
	live := readAll(t, w.Reader(), Window{})
	if len(live) != len(ps) {
		t.Fatalf("live reader: %d packets, want %d", len(live), len(ps))
	}
	for i := range ps {
		samePacket(t, live[i], ps[i])
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*"+openSuffix)); len(m) != 0 {
		t.Errorf("open chunks after Close: %v", m)
	}

	got := readAll(t, NewReader(dir, Options{}), Window{})
	if len(got) != len(ps) {
		t.Fatalf("read back %d packets, want %d", len(got), len(ps))
	}
	for i := range ps {
		samePacket(t, got[i], ps[i])
	}

	// The export is one pcapng file that gopacket reads back whole.
	var buf bytes.Buffer
	n, err := NewReader(dir, Options{}).Export(ctx, &buf, Window{}, nil)
	if err != nil || n != len(ps) {
		t.Fatalf("Export = %d, %v; want %d", n, err, len(ps))
	}
	back := readNg(t, buf.Bytes())
	if len(back) != len(ps) {
		t.Fatalf("pcapgo read %d packets from the export, want %d", len(back), len(ps))
	}
	for i := range ps {
		samePacket(t, back[i], ps[i])
	}

	// So does the project's own capture reader.
	src, err := capture.NewSource("export", bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("capture.NewSource: %v", err)
	}
	for i := range ps {
		p, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("capture Next %d: %v", i, err)
		}
		samePacket(t, p, ps[i])
	}
	if _, err := src.Next(ctx); !errors.Is(err, io.EOF) {
		t.Errorf("capture Next after the last packet: %v, want EOF", err)
	}

	if tshark, err := exec.LookPath("tshark"); err == nil {
		path := filepath.Join(t.TempDir(), "export.pcapng")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.CommandContext(ctx, tshark, "-n", "-r", path, "-T", "fields", "-e", "frame.number").Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		if lines := strings.Count(string(out), "\n"); lines != len(ps) {
			t.Errorf("tshark read %d packets, want %d", lines, len(ps))
		}
	} else {
		t.Log("tshark not installed: skipping the tshark read-back")
	}
}

func TestRollover(t *testing.T) {
	dir := t.TempDir()
	const chunk = 2 << 10
	w := openLog(t, dir, Options{ChunkSize: chunk, MaxBytes: 1 << 20})
	ps := mixed(300, 40)
	write(t, w, ps...)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cs := chunkFiles(t, dir)
	if len(cs) < 5 {
		t.Fatalf("%d chunks, want at least 5 for %d bytes of packets in %d-byte chunks", len(cs), 300*80, chunk)
	}
	var total int64
	next := 0
	for i, c := range cs {
		if c.open {
			t.Errorf("chunk %s still open", c.path)
		}
		if c.size > chunk {
			t.Errorf("chunk %s is %d bytes, over the chunk size %d", filepath.Base(c.path), c.size, chunk)
		}
		if i > 0 && c.seq <= cs[i-1].seq {
			t.Errorf("sequence numbers not increasing: %d after %d", c.seq, cs[i-1].seq)
		}
		// The name's range and count are the chunk's contents.
		info, _, damage, err := scanChunk(context.Background(), c.path)
		if err != nil || damage != nil {
			t.Fatalf("scan %s: %v %v", c.path, err, damage)
		}
		if info.packets != c.packets || !info.min.Equal(c.min) || !info.max.Equal(c.max) {
			t.Errorf("%s: name says %d packets %v..%v, contents %d packets %v..%v", filepath.Base(c.path), c.packets, c.min, c.max, info.packets, info.min, info.max)
		}
		if want := ps[next].Timestamp; !c.min.Equal(want) {
			t.Errorf("%s starts at %v, want %v", filepath.Base(c.path), c.min, want)
		}
		next += int(c.packets)
		total += c.packets
	}
	if total != int64(len(ps)) {
		t.Errorf("chunks hold %d packets, want %d", total, len(ps))
	}
}

func TestEviction(t *testing.T) {
	dir := t.TempDir()
	const chunk, capBytes = 2 << 10, 8 << 10
	w := openLog(t, dir, Options{ChunkSize: chunk, MaxBytes: capBytes})
	ps := mixed(1000, 50)
	for _, p := range ps {
		write(t, w, p)
		// The cap holds after every write, counting the open chunk, once
		// the file work it queued (sealing, evicting) is done.
		settle(t, w)
		var got int64
		for _, c := range chunkFiles(t, dir) {
			if c.open {
				got += w.cur.size() // with what is still buffered
			} else {
				got += c.size
			}
		}
		if got > capBytes {
			t.Fatalf("after packet %d the log holds %d bytes, over the cap %d", index(p), got, capBytes)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := dirBytes(t, dir); got > capBytes || got < capBytes-2*chunk {
		t.Errorf("log holds %d bytes, want between %d and the cap %d", got, capBytes-2*chunk, capBytes)
	}
	// What is left is the newest packets, oldest evicted first.
	got := indices(readAll(t, NewReader(dir, Options{}), Window{}))
	if len(got) == 0 || len(got) >= len(ps) {
		t.Fatalf("%d packets left of %d", len(got), len(ps))
	}
	if want := seq(len(ps)-len(got), len(ps)); !slices.Equal(got, want) {
		t.Errorf("packets left %v, want the newest ones %v", got, want)
	}
	b, err := NewReader(dir, Options{}).Boundaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !b.Oldest.Equal(ps[got[0]].Timestamp) || !b.Newest.Equal(ps[len(ps)-1].Timestamp) || b.Packets != int64(len(got)) {
		t.Errorf("Boundaries = %+v, want %v..%v with %d packets", b, ps[got[0]].Timestamp, ps[len(ps)-1].Timestamp, len(got))
	}

	// Reopening with a smaller cap trims the log at once.
	w = openLog(t, dir, Options{ChunkSize: chunk, MaxBytes: 4 << 10})
	defer w.Close()
	if got := dirBytes(t, dir); got > 4<<10 {
		t.Errorf("after reopening with a 4 KiB cap the log holds %d bytes", got)
	}
}

func TestCrashRecovery(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// damage changes the open chunk a crashed writer left behind.
		damage func(t *testing.T, path string)
		kept   int // of the 20 packets written
	}{
		{"clean", func(*testing.T, string) {}, 20},
		{"cut in the last block", func(t *testing.T, path string) {
			if err := os.Truncate(path, fileSize(t, path)-7); err != nil {
				t.Fatal(err)
			}
		}, 19},
		{"cut in the last block header", func(t *testing.T, path string) {
			// Each packet block is 32+100 bytes; leave 4 bytes of the last.
			if err := os.Truncate(path, fileSize(t, path)-132+4); err != nil {
				t.Fatal(err)
			}
		}, 19},
		{"zeros after the last block", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(make([]byte, 4096)); err != nil {
				t.Fatal(err)
			}
		}, 20},
		{"cut in the section header", func(t *testing.T, path string) {
			if err := os.Truncate(path, 10); err != nil {
				t.Fatal(err)
			}
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w := openLog(t, dir, Options{ChunkSize: 1 << 20, MaxBytes: 4 << 20})
			ps := make([]capture.Packet, 20)
			for i := range ps {
				ps[i] = pkt(i, layers.LinkTypeEthernet, 100)
			}
			write(t, w, ps...)
			crash(t, w)
			path := openChunkPath(t, dir)
			clean := fileSize(t, path)
			tc.damage(t, path)

			// A reader copes with the damaged open chunk as it is.
			if got := indices(readAll(t, NewReader(dir, Options{}), Window{})); !slices.Equal(got, seq(0, tc.kept)) {
				t.Errorf("before recovery read %v, want %v", got, seq(0, tc.kept))
			}

			// The next writer seals what is intact and carries on.
			w2 := openLog(t, dir, Options{ChunkSize: 1 << 20, MaxBytes: 4 << 20})
			cs := chunkFiles(t, dir)
			if tc.kept == 0 {
				if len(cs) != 0 {
					t.Fatalf("chunks after recovering an empty one: %v", cs)
				}
			} else {
				if len(cs) != 1 || cs[0].open || cs[0].packets != int64(tc.kept) {
					t.Fatalf("chunks after recovery: %+v, want one sealed with %d packets", cs, tc.kept)
				}
				// Exactly the damaged tail is cut: each block is 132 bytes.
				if want := clean - int64(20-tc.kept)*132; cs[0].size != want {
					t.Errorf("recovered chunk is %d bytes, want %d", cs[0].size, want)
				}
				// The sealed chunk is a clean pcapng to the project's reader.
				src, err := capture.OpenFile(cs[0].path)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for {
					_, err := src.Next(ctx)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("recovered chunk: %v", err)
					}
					n++
				}
				src.Close()
				if n != tc.kept {
					t.Errorf("recovered chunk holds %d packets, want %d", n, tc.kept)
				}
			}
			write(t, w2, pkt(100, layers.LinkTypeEthernet, 100))
			if err := w2.Close(); err != nil {
				t.Fatal(err)
			}
			want := append(seq(0, tc.kept), 100)
			if got := indices(readAll(t, NewReader(dir, Options{}), Window{})); !slices.Equal(got, want) {
				t.Errorf("after recovery and a write read %v, want %v", got, want)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	dir := t.TempDir()
	w := openLog(t, dir, Options{ChunkSize: 1 << 10, MaxBytes: 1 << 20})
	// Two imports, the second of older traffic: chunks are not in time
	// order, and one straddles both.
	var ps []capture.Packet
	for i := 100; i < 200; i++ {
		ps = append(ps, pkt(i, layers.LinkTypeEthernet, 30))
	}
	for i := 0; i < 100; i++ {
		ps = append(ps, pkt(i, layers.LinkTypeRaw, 30))
	}
	write(t, w, ps...)
	r := w.Reader()
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) }
	tests := []struct {
		name string
		win  Window
		want []int
	}{
		{"all", Window{}, append(seq(100, 200), seq(0, 100)...)},
		{"across both imports", Window{Since: at(50), Until: at(150)}, append(seq(100, 150), seq(50, 100)...)},
		{"since only", Window{Since: at(190)}, seq(190, 200)},
		{"until only", Window{Until: at(10)}, seq(0, 10)},
		{"until is exclusive", Window{Since: at(42), Until: at(43)}, []int{42}},
		{"empty", Window{Since: at(300)}, []int{}},
		{"before everything", Window{Until: at(0)}, []int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := indices(readAll(t, r, tc.win)); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			// Export selects the same packets, further filtered by match.
			var buf bytes.Buffer
			even := func(p capture.Packet) bool { return index(p)%2 == 0 }
			n, err := r.Export(context.Background(), &buf, tc.win, even)
			if err != nil {
				t.Fatal(err)
			}
			want := []int{}
			for _, i := range tc.want {
				if i%2 == 0 {
					want = append(want, i)
				}
			}
			if got := indices(readNg(t, buf.Bytes())); n != len(want) || !slices.Equal(got, want) {
				t.Errorf("Export wrote %d: %v, want %v", n, got, want)
			}
		})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWindowChunkSelection(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name   string
		win    Window
		lo, hi time.Time
		want   bool
	}{
		{"inside", Window{at(0), at(10)}, at(2), at(3), true},
		{"straddles since", Window{at(5), at(10)}, at(2), at(6), true},
		{"ends at since", Window{at(5), at(10)}, at(2), at(5), true},
		{"ends before since", Window{at(5), at(10)}, at(2), at(4), false},
		{"starts at until", Window{at(5), at(10)}, at(10), at(12), false},
		{"covers the window", Window{at(5), at(10)}, at(0), at(20), true},
		{"unbounded", Window{}, at(0), at(0), true},
	}
	for _, tc := range tests {
		if got := tc.win.overlaps(tc.lo, tc.hi); got != tc.want {
			t.Errorf("%s: overlaps = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBoundaries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := openLog(t, dir, Options{ChunkSize: 1 << 10, MaxBytes: 1 << 20})
	b, err := w.Reader().Boundaries(ctx)
	if err != nil || b != (Bounds{}) {
		t.Fatalf("empty log: Boundaries = %+v, %v", b, err)
	}
	// Out of order: the oldest packet is written last.
	write(t, w, mixed(50, 40)[10:]...)
	write(t, w, pkt(3, layers.LinkTypeEthernet, 40))
	for _, r := range []*Reader{w.Reader(), NewReader(dir, Options{})} {
		b, err := r.Boundaries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := Bounds{Oldest: pkt(3, 0, 0).Timestamp, Newest: pkt(49, 0, 0).Timestamp, Packets: 41, Bytes: dirBytes(t, dir), Chunks: len(chunkFiles(t, dir))}
		if b != want {
			t.Errorf("Boundaries = %+v, want %+v", b, want)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReopenContinues(t *testing.T) {
	dir := t.TempDir()
	w := openLog(t, dir, Options{ChunkSize: 1 << 10, MaxBytes: 1 << 20})
	write(t, w, mixed(40, 40)...)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(pkt(1, layers.LinkTypeEthernet, 10)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
	before := chunkFiles(t, dir)
	w = openLog(t, dir, Options{ChunkSize: 1 << 10, MaxBytes: 1 << 20})
	write(t, w, pkt(40, layers.LinkTypeEthernet, 40))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	after := chunkFiles(t, dir)
	if len(after) != len(before)+1 || after[len(after)-1].seq <= before[len(before)-1].seq {
		t.Errorf("reopened log did not append a new chunk: before %d chunks, after %d", len(before), len(after))
	}
	if got := indices(readAll(t, NewReader(dir, Options{}), Window{})); !slices.Equal(got, seq(0, 41)) {
		t.Errorf("read %v, want 0..40", got)
	}
}

func TestOptions(t *testing.T) {
	_, err := Open(context.Background(), t.TempDir(), Options{ChunkSize: 2 << 20, MaxBytes: 1 << 20})
	if err == nil || !strings.Contains(err.Error(), "below ChunkSize") {
		t.Errorf("Open with MaxBytes < ChunkSize: %v", err)
	}
	o, err := Options{}.withDefaults()
	if err != nil || o.ChunkSize != DefaultChunkSize || o.MaxBytes != DefaultMaxBytes || o.Logger == nil {
		t.Errorf("defaults = %+v, %v", o, err)
	}
}

func TestEmptyExport(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	n, err := NewReader(dir, Options{}).Export(context.Background(), &buf, Window{}, nil)
	if err != nil || n != 0 {
		t.Fatalf("Export of an empty log = %d, %v", n, err)
	}
	if got := readNg(t, buf.Bytes()); len(got) != 0 {
		t.Errorf("empty export holds %d packets", len(got))
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		name string
		want chunkInfo
		ok   bool
	}{
		{"chunk_0000000007.open.pcapng", chunkInfo{seq: 7, open: true}, true},
		{"chunk_0000000007_1000_2000_3.pcapng", chunkInfo{seq: 7, min: time.Unix(0, 1000).UTC(), max: time.Unix(0, 2000).UTC(), packets: 3}, true},
		{"chunk_0000000007_-1000_2000_3.pcapng", chunkInfo{seq: 7, min: time.Unix(0, -1000).UTC(), max: time.Unix(0, 2000).UTC(), packets: 3}, true},
		{"chunk_0000000007_1000_2000_0.pcapng", chunkInfo{}, false},
		{"chunk_0000000007_1000_2000.pcapng", chunkInfo{}, false},
		{"chunk_x.open.pcapng", chunkInfo{}, false},
		{"notes.txt", chunkInfo{}, false},
		{"chunk_0000000007_1000_2000_3.pcapng.tmp", chunkInfo{}, false},
	}
	for _, tc := range tests {
		got, ok := parseName(tc.name)
		if ok != tc.ok || (ok && (got.seq != tc.want.seq || got.open != tc.want.open || !got.min.Equal(tc.want.min) || !got.max.Equal(tc.want.max) || got.packets != tc.want.packets)) {
			t.Errorf("parseName(%q) = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	// A sealed name parses back to what it was made from.
	c := chunkInfo{seq: 12, min: t0, max: t0.Add(time.Hour), packets: 99}
	if got, ok := parseName(sealedName(c)); !ok || got.seq != c.seq || !got.min.Equal(c.min) || !got.max.Equal(c.max) || got.packets != c.packets {
		t.Errorf("round trip of %q = %+v, %v", sealedName(c), got, ok)
	}
}

func TestConcurrentWritersAndReaders(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := openLog(t, dir, Options{ChunkSize: 2 << 10, MaxBytes: 1 << 20})
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g * 1000; i < g*1000+200; i++ {
				if err := w.Write(pkt(i, layers.LinkTypeEthernet, 40)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			var buf bytes.Buffer
			if _, err := w.Reader().Export(ctx, &buf, Window{}, nil); err != nil {
				t.Error(err)
				return
			}
			// Every export is a readable file whatever the writers do.
			readNg(t, buf.Bytes())
		}
	}()
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := indices(readAll(t, NewReader(dir, Options{}), Window{}))
	slices.Sort(got)
	want := append(append(seq(0, 200), seq(1000, 1200)...), seq(2000, 2200)...)
	if !slices.Equal(got, want) {
		t.Errorf("read %d packets, want the %d written", len(got), len(want))
	}
}

// TestExportWhileEvicting reads while writers roll and evict chunks under
// it: chunks listed but gone by the time they are opened are skipped.
func TestExportWhileEvicting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := openLog(t, dir, Options{ChunkSize: 1 << 10, MaxBytes: 4 << 10})
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range 3000 {
			if err := w.Write(pkt(i, layers.LinkTypeEthernet, 40)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for _, r := range []*Reader{w.Reader(), NewReader(dir, Options{})} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				var buf bytes.Buffer
				if _, err := r.Export(ctx, &buf, Window{}, nil); err != nil {
					t.Error(err)
					return
				}
				got := indices(readNg(t, buf.Bytes()))
				if !slices.IsSorted(got) {
					t.Errorf("export out of write order: %v", got)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// A directory nothing was ever logged to reads as an empty log.
func TestReaderOfAMissingDirectoryIsEmpty(t *testing.T) {
	r := NewReader(filepath.Join(t.TempDir(), "never-written"), Options{})
	b, err := r.Boundaries(context.Background())
	if err != nil || b.Packets != 0 || !b.Oldest.IsZero() {
		t.Fatalf("Boundaries = %+v, %v; want an empty log", b, err)
	}
	n, err := r.Export(context.Background(), io.Discard, Window{}, nil)
	if err != nil || n != 0 {
		t.Fatalf("Export = %d, %v", n, err)
	}
}
