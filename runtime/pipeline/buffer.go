package pipeline

// streamBuf is the host-owned reassembly buffer of one direction: the bytes
// a dissector has not consumed yet, with the capture time of each arrival so
// that the head's timestamp stays exact as the dissector consumes.
type streamBuf struct {
	data []byte
	off  int
	segs []segMark
}

type segMark struct {
	end int // offset in data just past this arrival
	ts  int64
}

func (b *streamBuf) len() int { return len(b.data) - b.off }

func (b *streamBuf) bytes() []byte { return b.data[b.off:] }

func (b *streamBuf) append(p []byte, ts int64) {
	if b.off > 0 && b.off >= len(b.data)/2 {
		n := copy(b.data, b.data[b.off:])
		b.data = b.data[:n]
		for i := range b.segs {
			b.segs[i].end -= b.off
		}
		b.off = 0
	}
	b.data = append(b.data, p...)
	if k := len(b.segs); k > 0 && b.segs[k-1].ts == ts {
		b.segs[k-1].end = len(b.data)
	} else {
		b.segs = append(b.segs, segMark{end: len(b.data), ts: ts})
	}
}

// first and last are the capture times of the oldest and newest pending byte.
func (b *streamBuf) first() int64 {
	if len(b.segs) == 0 {
		return 0
	}
	return b.segs[0].ts
}

func (b *streamBuf) last() int64 {
	if len(b.segs) == 0 {
		return 0
	}
	return b.segs[len(b.segs)-1].ts
}

// lastWithin is the capture time of the newest byte among the first n.
func (b *streamBuf) lastWithin(n int) int64 {
	limit := b.off + n
	for _, s := range b.segs {
		if s.end >= limit {
			return s.ts
		}
	}
	return b.last()
}

func (b *streamBuf) consume(n int) {
	b.off += n
	i := 0
	for i < len(b.segs) && b.segs[i].end <= b.off {
		i++
	}
	if i > 0 {
		b.segs = append(b.segs[:0], b.segs[i:]...)
	}
	if b.off == len(b.data) {
		b.reset()
	}
}

func (b *streamBuf) reset() {
	b.data = b.data[:0]
	b.off = 0
	b.segs = b.segs[:0]
}
