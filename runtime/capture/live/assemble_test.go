package live

import (
	"bytes"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/bpf/packets"
)

// The reader joins a packet's chunks into one buffer of its own, drops a
// packet one of whose chunks never came (and says so), passes a
// one-chunk packet as a copy, and makes large packets in buffers Next
// handed back.
func TestAssembler(t *testing.T) {
	free := make(chan []byte, 1)
	a := assembler{room: packets.MaxSnapLen, partial: map[uint64]*partial{}, free: free}
	now := time.Now()
	body := bytes.Repeat([]byte("0123456789abcdef"), 40<<10/16) // 40 KiB
	chunk := func(seq uint64, off, n int, last bool) *packets.Chunk {
		return &packets.Chunk{Seq: seq, Len: uint32(len(body)), Off: uint32(off), Last: last, Dir: packets.Egress, Cgroup: 7,
			Data: append([]byte(nil), body[off:off+n]...)}
	}

	recycled := make([]byte, 0, 64<<10)
	free <- recycled
	for _, c := range []*packets.Chunk{chunk(1, 0, 16<<10, false), chunk(1, 16<<10, 16<<10, false)} {
		if _, ok, inc := a.add(c, now); ok || inc {
			t.Fatalf("chunk at %d completed a packet", c.Off)
		}
	}
	p, ok, inc := a.add(chunk(1, 32<<10, 8<<10, true), now)
	if !ok || inc || !bytes.Equal(p.Data, body) || p.Cgroup != 7 || p.Dir != packets.Egress || !p.Last || p.Off != 0 {
		t.Fatalf("joined packet: ok %v incomplete %v, %d bytes, %+v", ok, inc, len(p.Data), p)
	}
	if &p.Data[:1][0] != &recycled[:1][0] {
		t.Error("the packet was not made in the buffer handed back")
	}

	// The middle chunk is lost: the packet is dropped, counted.
	a.add(chunk(2, 0, 16<<10, false), now)
	if _, ok, inc := a.add(chunk(2, 32<<10, 8<<10, true), now); ok || !inc {
		t.Fatalf("a packet missing a chunk: ok %v incomplete %v, want dropped and counted", ok, inc)
	}
	// A packet whose first chunk was lost is ignored (the kernel counted it).
	if _, ok, inc := a.add(chunk(3, 16<<10, 16<<10, false), now); ok || inc {
		t.Fatal("a chunk without its start began a packet")
	}

	// A one-chunk packet is a copy: the reader's record is reused.
	one := &packets.Chunk{Seq: 4, Len: 5, Last: true, Data: []byte("hello")}
	p, ok, _ = a.add(one, now)
	one.Data[0] = 'j'
	if !ok || string(p.Data) != "hello" {
		t.Fatalf("one-chunk packet: ok %v %q", ok, p.Data)
	}

	// A packet left half-way is forgotten a second later.
	a.add(chunk(5, 0, 16<<10, false), now)
	if n := a.sweep(now.Add(3 * time.Second)); n != 1 {
		t.Errorf("sweep forgot %d packets, want 1", n)
	}
}
