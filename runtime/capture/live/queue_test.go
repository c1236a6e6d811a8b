package live

import (
	"errors"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/bpf/packets"
)

// The queue keeps chunks in order with the data they were given, makes
// the reader wait when full (never dropping), lets it go when the consumer
// closes, and reports the reader's end and error after the last chunk.
func TestChunkQueue(t *testing.T) {
	q := newChunkQueue(2 * (100 + chunkOverhead))
	for i := range 2 {
		buf := make([]byte, 100)
		buf[0] = byte(i)
		c := packets.Chunk{Seq: uint64(i), Data: buf}
		if !q.push(&c, nil) {
			t.Fatal("push refused")
		}
	}
	third := make(chan bool)
	go func() {
		c := packets.Chunk{Seq: 2, Data: make([]byte, 100)}
		third <- q.push(&c, nil)
	}()
	select {
	case <-third:
		t.Fatal("a push into a full queue did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	var c packets.Chunk
	if _, ok, _, _ := q.pop(&c); !ok || c.Seq != 0 || c.Data[0] != 0 {
		t.Fatalf("first pop: ok %v seq %d data[0] %d", ok, c.Seq, c.Data[0])
	}
	if !<-third {
		t.Fatal("the waiting push was refused after space was made")
	}
	boom := errors.New("boom")
	q.finish(boom)
	for want := uint64(1); want <= 2; want++ {
		if _, ok, _, _ := q.pop(&c); !ok || c.Seq != want {
			t.Fatalf("pop: ok %v seq %d, want %d", ok, c.Seq, want)
		}
	}
	if _, ok, done, err := q.pop(&c); ok || !done || !errors.Is(err, boom) {
		t.Fatalf("after the last chunk: ok %v done %v err %v, want the reader's end and error", ok, done, err)
	}
	if q.peakBytes() != 2*(100+chunkOverhead) {
		t.Errorf("peak %d bytes", q.peakBytes())
	}

	// A reader waiting on a full queue is released when the consumer goes.
	q = newChunkQueue(1)
	small := packets.Chunk{Data: make([]byte, 10)}
	q.push(&small, nil)
	released := make(chan bool)
	go func() { released <- q.push(&small, nil) }()
	time.Sleep(20 * time.Millisecond)
	q.close()
	if <-released {
		t.Fatal("push into a closed queue succeeded")
	}
}
