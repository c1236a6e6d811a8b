package live

import (
	"bytes"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/bpf/packets"
)

// The reader joins a packet's chunks into one buffer of its own, carved
// from the arena, drops a packet one of whose chunks never came (and says
// so, giving its buffer back), passes a one-chunk packet as a copy, and
// gives back the buffer of a packet it forgets.
func TestAssembler(t *testing.T) {
	ar := &arena{}
	defer ar.close()
	a := assembler{room: packets.MaxSnapLen, partial: map[uint64]*partial{}, arena: ar}
	now := time.Now()
	body := bytes.Repeat([]byte("0123456789abcdef"), 40<<10/16) // 40 KiB
	chunk := func(seq uint64, off, n int, last bool) *packets.Chunk {
		return &packets.Chunk{Seq: seq, Len: uint32(len(body)), Off: uint32(off), Last: last, Dir: packets.Egress, Cgroup: 7,
			Data: append([]byte(nil), body[off:off+n]...)}
	}

	for _, c := range []*packets.Chunk{chunk(1, 0, 16<<10, false), chunk(1, 16<<10, 16<<10, false)} {
		if _, _, ok, inc := a.add(c, now); ok || inc {
			t.Fatalf("chunk at %d completed a packet", c.Off)
		}
	}
	p, blk, ok, inc := a.add(chunk(1, 32<<10, 8<<10, true), now)
	if !ok || inc || !bytes.Equal(p.Data, body) || p.Cgroup != 7 || p.Dir != packets.Egress || !p.Last || p.Off != 0 {
		t.Fatalf("joined packet: ok %v incomplete %v, %d bytes, %+v", ok, inc, len(p.Data), p)
	}
	if blk == nil || blk != ar.cur || blk.refs.Load() != 2 {
		t.Fatalf("the packet was not carved from the arena's block (%p, current %p)", blk, ar.cur)
	}
	ar.release(blk)

	// The middle chunk is lost: the packet is dropped, counted, and its
	// buffer given back.
	a.add(chunk(2, 0, 16<<10, false), now)
	if _, _, ok, inc := a.add(chunk(2, 32<<10, 8<<10, true), now); ok || !inc {
		t.Fatalf("a packet missing a chunk: ok %v incomplete %v, want dropped and counted", ok, inc)
	}
	// A packet whose first chunk was lost is ignored (the kernel counted it).
	if _, _, ok, inc := a.add(chunk(3, 16<<10, 16<<10, false), now); ok || inc {
		t.Fatal("a chunk without its start began a packet")
	}

	// A one-chunk packet is a copy: the reader's record is reused.
	one := &packets.Chunk{Seq: 4, Len: 5, Last: true, Data: []byte("hello")}
	p, blk, ok, _ = a.add(one, now)
	one.Data[0] = 'j'
	if !ok || string(p.Data) != "hello" {
		t.Fatalf("one-chunk packet: ok %v %q", ok, p.Data)
	}
	ar.release(blk)

	// A packet left half-way is forgotten a second later.
	a.add(chunk(5, 0, 16<<10, false), now)
	if n := a.sweep(now.Add(3 * time.Second)); n != 1 {
		t.Errorf("sweep forgot %d packets, want 1", n)
	}
	// Every buffer is back: only the block being carved holds a count.
	if n := ar.cur.refs.Load(); n != 1 {
		t.Errorf("the block holds %d references after every packet was released or dropped, want 1 (its own)", n)
	}
}

// Blocks are reused once every buffer carved from them is released; a
// burst's extra blocks go back to the kernel, all but keepBlocks; buffers
// larger than a quarter block come from the heap.
func TestArenaReusesAndReturnsBlocks(t *testing.T) {
	ar := &arena{}
	const n = 64 << 10
	var bufs [][]byte
	var blks []*block
	// A burst: 16 MiB outstanding, four blocks.
	for range 4 * blockSize / n {
		b, blk := ar.alloc(n)
		if blk == nil || len(b) != n || cap(b) != n {
			t.Fatalf("alloc(%d) = %d bytes (cap %d) from %p", n, len(b), cap(b), blk)
		}
		b[0], b[n-1] = 1, 2 // mapped and writable
		bufs, blks = append(bufs, b), append(blks, blk)
	}
	if m := ar.mapped.Load(); m != 4 {
		t.Fatalf("%d blocks mapped for 16 MiB of buffers, want 4", m)
	}
	// No two buffers share memory: each keeps what was written into it.
	for i, b := range bufs {
		b[0], b[n-1] = byte(i), byte(i>>8)
	}
	for i, b := range bufs {
		if b[0] != byte(i) || b[n-1] != byte(i>>8) {
			t.Fatalf("buffer %d was overwritten by another", i)
		}
	}
	for _, blk := range blks {
		ar.release(blk)
	}
	ar.retire()
	if m := ar.mapped.Load(); m != keepBlocks {
		t.Errorf("%d blocks mapped after the burst was released, want %d kept", m, keepBlocks)
	}
	// The kept blocks are reused before anything new is mapped.
	_, blk := ar.alloc(n)
	if m := ar.mapped.Load(); m != keepBlocks {
		t.Errorf("%d blocks mapped after reuse, want %d", m, keepBlocks)
	}
	ar.release(blk)
	if b, blk := ar.alloc(arenaMax + 1); blk != nil || len(b) != arenaMax+1 {
		t.Errorf("an oversized buffer came from block %p", blk)
	}
	ar.retire()
	ar.close()
	if m := ar.mapped.Load(); m != 0 {
		t.Errorf("%d blocks still mapped after close", m)
	}
}
