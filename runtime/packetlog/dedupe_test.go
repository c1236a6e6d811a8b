package packetlog

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

// TestWriteSkipsPacketsHeld writes the same packets again, from the open
// chunk and from sealed ones, in another Writer (a later import) and as
// part of an overlapping capture, and checks the log holds each once.
func TestWriteSkipsPacketsHeld(t *testing.T) {
	dir := t.TempDir()
	// 600-byte packets in 8 KiB chunks: about 12 a chunk; the key cache
	// is cut to 30 keys, so 100 packets fill more chunks than it holds.
	opts := Options{ChunkSize: 8 << 10, MaxBytes: 1 << 30}
	w := openLog(t, dir, opts)
	w.dedupe.maxKeys = 30
	first := make([]int, 100)
	for i := range first {
		first[i] = i
		write(t, w, pkt(i, layers.LinkTypeEthernet, 600))
	}
	if c := w.Counts(); c != (Counts{Written: 100}) {
		t.Fatalf("first pass: %+v", c)
	}
	// Again in the same writer: the newest are in the open chunk, the
	// rest in sealed chunks.
	for i := range 100 {
		write(t, w, pkt(i, layers.LinkTypeEthernet, 600))
	}
	if c := w.Counts(); c != (Counts{Written: 100, Duplicates: 100}) {
		t.Fatalf("second pass: %+v", c)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// A later writer (the next import), given the packets in reverse
	// order and then a capture overlapping the first: 50..149.
	w = openLog(t, dir, opts)
	w.dedupe.maxKeys = 30
	for i := 99; i >= 0; i-- {
		write(t, w, pkt(i, layers.LinkTypeEthernet, 600))
	}
	for i := 50; i < 150; i++ {
		write(t, w, pkt(i, layers.LinkTypeEthernet, 600))
	}
	if c := w.Counts(); c != (Counts{Written: 50, Duplicates: 150}) {
		t.Fatalf("later writer: %+v", c)
	}
	// The same time with other bytes, another length or another link
	// type is another packet.
	other := pkt(5, layers.LinkTypeEthernet, 600)
	other.Data = bytes.Clone(other.Data)
	other.Data[100] ^= 0xff
	longer := pkt(6, layers.LinkTypeEthernet, 600)
	longer.Length++
	raw := pkt(7, layers.LinkTypeRaw, 600)
	write(t, w, other, longer, raw)
	if c := w.Counts(); c.Written != 53 {
		t.Fatalf("different packets at a held time were skipped: %+v", c)
	}
	if w.dedupe.nkeys > 30 {
		t.Fatalf("%d keys cached, over the bound of 30", w.dedupe.nkeys)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := indices(readAll(t, NewReader(dir, Options{}), Window{}))
	slices.Sort(got)
	want := make([]int, 0, 153)
	for i := range 150 {
		want = append(want, i)
	}
	want = append(want, 5, 6, 7)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("log holds %d packets %v, want %d", len(got), got, len(want))
	}
}

// TestWriteDedupeAfterEviction checks that a packet whose chunk was
// evicted is logged again (it is no longer held), and that eviction drops
// the evicted chunk's keys.
func TestWriteDedupeAfterEviction(t *testing.T) {
	dir := t.TempDir()
	w := openLog(t, dir, Options{ChunkSize: 4 << 10, MaxBytes: 12 << 10})
	defer w.Close()
	for i := range 60 {
		write(t, w, pkt(i, layers.LinkTypeEthernet, 600))
	}
	b, err := w.Reader().Boundaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	oldest := int(b.Oldest.Sub(t0) / time.Millisecond)
	if oldest == 0 {
		t.Fatal("nothing was evicted")
	}
	before := w.Counts()
	write(t, w, pkt(0, layers.LinkTypeEthernet, 600), pkt(59, layers.LinkTypeEthernet, 600))
	if c := w.Counts().Sub(before); c != (Counts{Written: 1, Duplicates: 1}) {
		t.Fatalf("evicted packet 0 and held packet 59: %+v", c)
	}
}

// TestDropBefore checks age retention of the log: chunks entirely older
// than the cutoff go, a chunk straddling it is rewritten without its older
// packets, and older packets in the open chunk go too.
func TestDropBefore(t *testing.T) {
	dir := t.TempDir()
	w := openLog(t, dir, Options{ChunkSize: 4 << 10, MaxBytes: 1 << 30})
	defer w.Close()
	for i := range 40 {
		write(t, w, pkt(i, layers.LinkTypeEthernet, 600))
	}
	r := w.Reader()
	b0, err := r.Boundaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 20 ms falls inside a chunk (about 6 packets each).
	d, err := w.DropBefore(t0.Add(20 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, 0, 20)
	for i := 20; i < 40; i++ {
		want = append(want, i)
	}
	if got := indices(readAll(t, r, Window{})); !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	b1, err := r.Boundaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Packets != 20 || d.Chunks == 0 || d.Bytes != b0.Bytes-b1.Bytes || b1.Packets != 20 || !b1.Oldest.Equal(t0.Add(20*time.Millisecond)) {
		t.Fatalf("dropped %+v; before %+v, after %+v", d, b0, b1)
	}
	// The same packets written again are logged again, since they are
	// no longer held; the kept ones are still recognised.
	before := w.Counts()
	write(t, w, pkt(3, layers.LinkTypeEthernet, 600), pkt(25, layers.LinkTypeEthernet, 600))
	if c := w.Counts().Sub(before); c != (Counts{Written: 1, Duplicates: 1}) {
		t.Fatalf("after the drop: %+v", c)
	}
	// A cutoff after every packet empties the log, the open chunk too.
	d, err = w.DropBefore(t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if d.Packets != 21 {
		t.Fatalf("second drop %+v, want 21 packets", d)
	}
	if got := readAll(t, r, Window{}); len(got) != 0 {
		t.Fatalf("%d packets left", len(got))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Nothing but chunk files is left behind, and a new writer opens the
	// directory cleanly.
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if _, ok := parseName(e.Name()); !ok {
			t.Errorf("stray file %s", e.Name())
		}
	}
	w = openLog(t, dir, Options{})
	defer w.Close()
	write(t, w, pkt(3, layers.LinkTypeEthernet, 600))
	if got := readAll(t, w.Reader(), Window{}); len(got) != 1 {
		t.Fatalf("%d packets after a new write", len(got))
	}
}

// BenchmarkWrite measures Write of new packets (each checked against the
// open chunk's keys) and of packets the log holds (a re-import).
func BenchmarkWrite(b *testing.B) {
	for _, again := range []bool{false, true} {
		name := "new"
		if again {
			name = "held"
		}
		b.Run(name, func(b *testing.B) {
			w, err := Open(context.Background(), b.TempDir(), Options{NoSync: true, MaxBytes: 1 << 40})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			ps := make([]capture.Packet, 4096)
			for i := range ps {
				ps[i] = pkt(i, layers.LinkTypeEthernet, 800)
			}
			if again {
				for _, p := range ps {
					if err := w.Write(p); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.SetBytes(800)
			b.ResetTimer()
			for i := range b.N {
				p := ps[i%len(ps)]
				if !again {
					p.Timestamp = t0.Add(time.Duration(i) * time.Microsecond)
				}
				if err := w.Write(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestOpenKeys holds the open chunk's key list to a set: for keys in time
// order, with runs at one nanosecond in any hash order, and leaving time
// order part way, each key is found once added and not before, and the
// sealed list is every key once, sorted.
func TestOpenKeys(t *testing.T) {
	k := func(nanos int64, hash uint64) packetKey { return packetKey{nanos: nanos, hash: hash} }
	tests := []struct {
		name string
		keys []packetKey // in the order written; repeats are duplicates
	}{
		{"in order", []packetKey{k(1, 5), k(2, 1), k(3, 9), k(10, 0)}},
		{"one nanosecond, hashes descending", []packetKey{k(1, 1), k(2, 9), k(2, 5), k(2, 7), k(2, 1), k(3, 0)}},
		{"repeats at one nanosecond", []packetKey{k(2, 9), k(2, 5), k(2, 9), k(2, 5), k(3, 1), k(2, 5)}},
		{"leaves time order", []packetKey{k(5, 1), k(6, 2), k(4, 3), k(6, 2), k(4, 3), k(7, 1), k(1, 1), k(5, 1)}},
		{"first key older than all later", []packetKey{k(9, 9), k(1, 1), k(2, 2), k(9, 9)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o openKeys
			want := keySet{}
			for i, key := range tt.keys {
				_, held := want[key]
				if got := o.has(key); got != held {
					t.Fatalf("key %d %+v: has %v, want %v", i, key, got, held)
				}
				// Same time, another hash: never held.
				if o.has(packetKey{nanos: key.nanos, hash: 1 << 63}) {
					t.Fatalf("key %d: a key never added is held", i)
				}
				if !held {
					o.add(key)
					want[key] = struct{}{}
				}
			}
			if o.len() != len(want) {
				t.Fatalf("len %d, want %d", o.len(), len(want))
			}
			got := o.take()
			sorted := make(sortedKeys, 0, len(want))
			for key := range want {
				sorted = append(sorted, key)
			}
			slices.SortFunc(sorted, cmpKey)
			if !slices.Equal(got, sorted) {
				t.Fatalf("sealed %v, want %v", got, sorted)
			}
			for key := range want {
				if !got.has(key) || o.has(key) {
					t.Fatalf("%+v: in the sealed list %v, still open %v", key, got.has(key), o.has(key))
				}
			}
		})
	}
}
