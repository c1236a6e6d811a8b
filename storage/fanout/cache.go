package fanout

import "sync"

// derivedCacheEntries bounds the hub's cache of derived values (rollups of
// merged minutes): a few kilobytes each, so a few hundred megabytes at
// most, and a week of minutes for one grouping.
const derivedCacheEntries = 20000

// derivedCache keeps values derived from merged minutes in memory. The
// hub has no store of its own to keep them in, and the workers' epochs
// tell when one is stale, so losing them on restart costs only their
// recomputation.
type derivedCache struct {
	mu  sync.Mutex
	max int
	m   map[derivedKey]derivedVal
}

type derivedKey struct {
	name   string
	minute int64
}

type derivedVal struct {
	epoch uint64
	val   []byte
}

func newDerivedCache(max int) *derivedCache {
	return &derivedCache{max: max, m: map[derivedKey]derivedVal{}}
}

func (c *derivedCache) get(name string, minute int64) (uint64, []byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[derivedKey{name, minute}]
	return v.epoch, v.val, ok
}

func (c *derivedCache) put(name string, minute int64, epoch uint64, val []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		// Evict the oldest minute's entries: the newest minutes are the
		// ones asked about most.
		oldest := int64(1<<63 - 1)
		for k := range c.m {
			oldest = min(oldest, k.minute)
		}
		for k := range c.m {
			if k.minute == oldest {
				delete(c.m, k)
			}
		}
	}
	c.m[derivedKey{name, minute}] = derivedVal{epoch: epoch, val: append([]byte(nil), val...)}
}
