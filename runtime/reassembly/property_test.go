package reassembly

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// TestPropertyShuffled cuts two known byte streams into random segments,
// duplicates and re-slices some, drops some, shuffles everything, and checks
// that exactly the surviving bytes come out in order with every lost byte
// accounted for by a Gap.
func TestPropertyShuffled(t *testing.T) {
	lost := 0
	for seed := uint64(1); seed <= 300; seed++ {
		for _, lossy := range []bool{false, true} {
			lost += runProperty(t, seed, lossy)
		}
	}
	if lost == 0 {
		t.Error("no run lost anything; the lossy half tests nothing")
	}
}

type propDir struct {
	src, dst [2]byte
	isn      uint32
	stream   []byte
	lost     []bool
}

func runProperty(t *testing.T, seed uint64, lossy bool) (lost int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var dirs [2]propDir
	var segs []*packet.Segment
	for d := range dirs {
		pd := &dirs[d]
		pd.isn = rng.Uint32()
		if rng.IntN(3) == 0 {
			pd.isn = -uint32(rng.IntN(5000)) // close to wrapping
		}
		pd.stream = make([]byte, rng.IntN(20000))
		for i := range pd.stream {
			pd.stream[i] = byte(rng.UintN(256))
		}
		pd.lost = make([]bool, len(pd.stream))
		src, dst := cli, srv
		if d == 1 {
			src, dst = srv, cli
		}
		mk := func(from, to int) *packet.Segment {
			return &packet.Segment{
				Transport: packet.TCP, Src: src, Dst: dst, Flags: packet.FlagPSH,
				Seq: pd.isn + 1 + uint32(from), Payload: pd.stream[from:to],
			}
		}
		for from := 0; from < len(pd.stream); {
			to := min(from+1+rng.IntN(1500), len(pd.stream))
			if lossy && rng.IntN(8) == 0 {
				for i := from; i < to; i++ {
					pd.lost[i] = true
				}
			} else {
				for range 1 + rng.IntN(2) {
					segs = append(segs, mk(from, to))
				}
			}
			from = to
		}
		// Re-sliced retransmissions spanning segment boundaries, only over
		// bytes that were not lost.
		for range rng.IntN(20) {
			if len(pd.stream) == 0 {
				break
			}
			from := rng.IntN(len(pd.stream))
			to := min(from+1+rng.IntN(3000), len(pd.stream))
			ok := true
			for i := from; i < to; i++ {
				ok = ok && !pd.lost[i]
			}
			if ok {
				segs = append(segs, mk(from, to))
			}
		}
	}
	rng.Shuffle(len(segs), func(i, j int) { segs[i], segs[j] = segs[j], segs[i] })

	k := newChecker(false, true)
	a := New(Config{}, k)
	now := t0
	add := func(s *packet.Segment) {
		now = now.Add(time.Microsecond)
		s.Timestamp = now
		a.Add(s)
	}
	add(&packet.Segment{Transport: packet.TCP, Src: cli, Dst: srv, Flags: packet.FlagSYN, Seq: dirs[0].isn})
	add(&packet.Segment{Transport: packet.TCP, Src: srv, Dst: cli, Flags: packet.FlagSYN | packet.FlagACK, Seq: dirs[1].isn, Ack: dirs[0].isn + 1})
	for _, s := range segs {
		add(s)
		if err := a.checkInvariants(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
	add(&packet.Segment{Transport: packet.TCP, Src: cli, Dst: srv, Flags: packet.FlagFIN, Seq: dirs[0].isn + 1 + uint32(len(dirs[0].stream))})
	add(&packet.Segment{Transport: packet.TCP, Src: srv, Dst: cli, Flags: packet.FlagFIN, Seq: dirs[1].isn + 1 + uint32(len(dirs[1].stream))})
	a.FlushAll(now)

	if len(k.errs) > 0 {
		t.Fatalf("seed %d lossy %v: %v", seed, lossy, k.errs)
	}
	if len(k.conns) != 1 {
		t.Fatalf("seed %d: %d conns", seed, len(k.conns))
	}
	c := k.conns[0]
	if r := k.closed[c]; r != CloseFIN {
		t.Errorf("seed %d: closed with %v, want fin", seed, r)
	}
	for d := range dirs {
		pd, got := &dirs[d], &k.streams[c][d]
		lostBytes := 0
		want := bytes.Clone(pd.stream)
		for i, l := range pd.lost {
			if l {
				want[i] = 0
				lostBytes++
			}
		}
		if !bytes.Equal(got.data, want) || !slices.Equal(got.lost, pd.lost) {
			t.Errorf("seed %d lossy %v dir %v: stream differs (got %d bytes, want %d)", seed, lossy, sdk.Direction(d), len(got.data), len(want))
		}
		if got.gaps != lostBytes {
			t.Errorf("seed %d dir %d: gaps sum to %d, lost %d", seed, d, got.gaps, lostBytes)
		}
		lost += lostBytes
	}
	return lost
}
