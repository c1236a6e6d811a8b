package pipeline

// streamBuf is the host-owned reassembly buffer of one direction: the bytes
// a dissector has not consumed yet, with the capture time of each arrival so
// that the head's timestamp stays exact as the dissector consumes.
//
// Bytes that arrive in order while nothing is pending are lent, not copied
// (lend): the dissector is offered them where the batch holds them, and
// only what it leaves is copied in (settle) before the batch is reused.
// With bodies streamed through the dissector, that is one copy of every
// in-order byte fewer.
type streamBuf struct {
	data []byte
	off  int
	segs []segMark
	// lent says data is the caller's, not the buffer's; own is then the
	// buffer's storage, kept for settle.
	lent bool
	own  []byte
}

type segMark struct {
	end int // offset in data just past this arrival
	ts  int64
}

func (b *streamBuf) len() int { return len(b.data) - b.off }

func (b *streamBuf) bytes() []byte { return b.data[b.off:] }

// lend makes p the pending bytes without copying them when none are
// pending, and appends it otherwise. p must stay unchanged until settle.
func (b *streamBuf) lend(p []byte, ts int64) {
	if b.len() > 0 || b.lent {
		b.append(p, ts)
		return
	}
	b.reset()
	b.own, b.data, b.lent = b.data, p, true
	b.segs = append(b.segs, segMark{end: len(p), ts: ts})
}

// settle copies what is left of lent bytes into the buffer's own storage.
func (b *streamBuf) settle() {
	if !b.lent {
		return
	}
	rest := b.data[b.off:]
	for i := range b.segs {
		b.segs[i].end -= b.off
	}
	b.data = append(b.own[:0], rest...)
	b.own, b.off, b.lent = nil, 0, false
}

func (b *streamBuf) append(p []byte, ts int64) {
	b.settle()
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
	if b.lent {
		b.data, b.own, b.lent = b.own, nil, false
	}
	b.data = b.data[:0]
	b.off = 0
	b.segs = b.segs[:0]
}
