package packetlog

import (
	"cmp"
	"context"
	"errors"
	"hash/maphash"
	"io"
	"os"
	"slices"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

// maxCachedKeys bounds the keys of sealed chunks kept in memory for
// duplicate checks: 2M keys of 16 bytes, 32 MiB, which holds every key of
// a full 1 GiB log of packets averaging 512 bytes or more, so the usual
// re-import reads each chunk once. The open chunk's keys (at most one
// chunk's packets) come on top.
const maxCachedKeys = 2 << 20

// packetKey identifies a packet by what it is, not by where it came from:
// its time to the nanosecond and a hash of its link type, length and
// bytes. The same packet imported twice (the same file again, or two
// captures of the same traffic) has the same key; two different packets
// share one only on a 64-bit hash collision at the same nanosecond.
type packetKey struct {
	nanos int64
	hash  uint64
}

// keySet is a set of packet keys.
type keySet map[packetKey]struct{}

// openKeys is the keys of the packets of the open chunk. Packets come in
// time order from nearly every capture, so the keys are kept as a list in
// the order written, which is then ordered by time: a key newer than the
// last is new without a lookup, one at the same nanosecond is looked for
// among the last few, and sealing the chunk sorts only the runs of keys
// at one nanosecond. A hash set cost a map insertion and lookup for every
// packet and a full sort at each seal (5% of a small-message import's CPU,
// on the reader's goroutine; BENCHMARKS.md). The first key out of time
// order turns the list into that set, which then serves the chunk's
// remaining packets.
type openKeys struct {
	keys []packetKey
	// set holds every key of keys once they left time order; nil while
	// they are in it.
	set keySet
}

// has reports whether k is among the keys.
func (o *openKeys) has(k packetKey) bool {
	if o.set != nil {
		_, ok := o.set[k]
		return ok
	}
	n := len(o.keys)
	if n == 0 || k.nanos > o.keys[n-1].nanos {
		return false
	}
	i, _ := slices.BinarySearchFunc(o.keys, k.nanos, func(e packetKey, t int64) int { return cmp.Compare(e.nanos, t) })
	for ; i < n && o.keys[i].nanos == k.nanos; i++ {
		if o.keys[i].hash == k.hash {
			return true
		}
	}
	return false
}

// add adds a key that has reported absent.
func (o *openKeys) add(k packetKey) {
	if o.set == nil && len(o.keys) > 0 && k.nanos < o.keys[len(o.keys)-1].nanos {
		o.set = make(keySet, len(o.keys)+1)
		for _, k := range o.keys {
			o.set[k] = struct{}{}
		}
	}
	if o.set != nil {
		o.set[k] = struct{}{}
	}
	o.keys = append(o.keys, k)
}

// len is the number of keys.
func (o *openKeys) len() int { return len(o.keys) }

// take returns the keys sorted and empties o.
func (o *openKeys) take() sortedKeys {
	ks := sortedKeys(o.keys)
	if o.set != nil {
		slices.SortFunc(ks, cmpKey)
	} else {
		// In time order already: sort each run of one nanosecond by hash.
		for i := 0; i < len(ks); {
			j := i + 1
			for j < len(ks) && ks[j].nanos == ks[i].nanos {
				j++
			}
			if j-i > 1 {
				slices.SortFunc(ks[i:j], cmpKey)
			}
			i = j
		}
	}
	// The list is cached while the chunk's time range is imported into:
	// no room to spare in it. The next chunk's list starts with room for
	// as many keys as this one held, so that it seldom grows.
	n := len(ks)
	if cap(ks) > n+n/8 {
		ks = slices.Clone(ks)
	}
	*o = openKeys{keys: make([]packetKey, 0, n+n/8)}
	return ks
}

// sortedKeys is the keys of a sealed chunk, sorted: 16 bytes a packet.
type sortedKeys []packetKey

func cmpKey(a, b packetKey) int {
	return cmp.Or(cmp.Compare(a.nanos, b.nanos), cmp.Compare(a.hash, b.hash))
}

func (ks sortedKeys) has(k packetKey) bool {
	_, ok := slices.BinarySearchFunc(ks, k, cmpKey)
	return ok
}

// dedupe remembers which packets the log holds, so that Write can skip
// one it already has. Keys live only in memory: the open chunk's are
// added as it is written; a sealed chunk's are read back from its file
// when a packet falls in its time range, and at most maxCachedChunks of
// those sets are kept, up to maxCachedKeys. The hash seed is per process, which is fine since
// nothing derived from it is stored.
type dedupe struct {
	seed   maphash.Seed
	cur    openKeys
	cached map[uint64]sortedKeys // by chunk seq
	lru    []uint64              // cached seqs, least recently used first
	nkeys  int                   // keys in cached
	// maxKeys is maxCachedKeys; tests lower it to exercise eviction.
	maxKeys int
	// lo and hi bound the packet times of all sealed chunks (Unix nanos),
	// so that packets newer than everything held (a live capture, an
	// import of new traffic) are checked against the open chunk alone.
	lo, hi int64
	any    bool
}

func newDedupe() dedupe {
	return dedupe{seed: maphash.MakeSeed(), cached: map[uint64]sortedKeys{}, maxKeys: maxCachedKeys}
}

func (d *dedupe) key(p capture.Packet) packetKey {
	var h maphash.Hash
	h.SetSeed(d.seed)
	var meta [12]byte
	lt, n := uint32(p.LinkType), uint64(max(p.Length, len(p.Data)))
	for i := range 4 {
		meta[i] = byte(lt >> (8 * i))
	}
	for i := range 8 {
		meta[4+i] = byte(n >> (8 * i))
	}
	h.Write(meta[:])
	h.Write(p.Data)
	return packetKey{nanos: p.Timestamp.UnixNano(), hash: h.Sum64()}
}

// bounds recomputes lo and hi after the sealed chunks changed.
func (d *dedupe) bounds(sealed []chunkInfo) {
	d.any = false
	for _, c := range sealed {
		if c.packets == 0 {
			continue
		}
		lo, hi := c.min.UnixNano(), c.max.UnixNano()
		if !d.any || lo < d.lo {
			d.lo = lo
		}
		if !d.any || hi > d.hi {
			d.hi = hi
		}
		d.any = true
	}
}

// sealed moves the open chunk's keys to the cache under its seq.
func (d *dedupe) sealed(seq uint64) {
	d.put(seq, d.cur.take())
}

// evicted forgets a chunk that left the log.
func (d *dedupe) evicted(seq uint64) {
	if ks, ok := d.cached[seq]; ok {
		d.nkeys -= len(ks)
		delete(d.cached, seq)
		d.lru = slices.DeleteFunc(d.lru, func(s uint64) bool { return s == seq })
	}
}

func (d *dedupe) put(seq uint64, ks sortedKeys) {
	for len(d.lru) > 0 && d.nkeys+len(ks) > d.maxKeys {
		d.nkeys -= len(d.cached[d.lru[0]])
		delete(d.cached, d.lru[0])
		d.lru = d.lru[1:]
	}
	d.cached[seq] = ks
	d.nkeys += len(ks)
	d.lru = append(d.lru, seq)
}

func (d *dedupe) touch(seq uint64) {
	if i := slices.Index(d.lru, seq); i >= 0 && i != len(d.lru)-1 {
		d.lru = append(slices.Delete(d.lru, i, i+1), seq)
	}
}

// holds reports whether the log already has the packet of key k: in the
// open chunk, or in a sealed chunk whose time range covers it.
func (w *Writer) holds(ctx context.Context, k packetKey) bool {
	d := &w.dedupe
	if d.cur.has(k) {
		return true
	}
	if !d.any || k.nanos < d.lo || k.nanos > d.hi {
		return false
	}
	for _, c := range w.sealed {
		if c.packets == 0 || k.nanos < c.min.UnixNano() || k.nanos > c.max.UnixNano() {
			continue
		}
		ks, ok := d.cached[c.seq]
		if ok {
			d.touch(c.seq)
		} else {
			ks = w.loadKeys(ctx, c)
			d.put(c.seq, ks)
		}
		if ks.has(k) {
			return true
		}
	}
	return false
}

// loadKeys reads a sealed chunk's packets for their keys. A chunk that
// cannot be read (evicted by another writer, damaged) yields what could be
// read: at worst a packet is logged twice, never lost.
func (w *Writer) loadKeys(ctx context.Context, c chunkInfo) (ks sortedKeys) {
	ks = make(sortedKeys, 0, c.packets)
	defer func() { slices.SortFunc(ks, cmpKey) }()
	if w.ops != nil {
		w.ops.drain() // the chunk's writes and rename may still be queued
	}
	cr, err := openChunk(c.path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			w.log.Warn("packetlog: reading chunk for duplicate checks", "path", c.path, "err", err)
		}
		return ks
	}
	defer cr.close()
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ks
		}
		p, err := cr.next()
		if errors.Is(err, io.EOF) {
			return ks
		}
		if err != nil {
			w.log.Warn("packetlog: reading chunk for duplicate checks", "path", c.path, "err", err)
			return ks
		}
		ks = append(ks, w.dedupe.key(p))
	}
}
