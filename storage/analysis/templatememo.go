package analysis

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/kubeshark-wasm/kubeshark/storage/templates"
)

// TemplateMemo gives the templates Templates learns, learning them again
// only when the data they come from changed. Learning reads the endpoint
// rollups of up to TemplateSpan of data, tens of milliseconds over a large
// store, and every listing of calls needs the templates: without the memo
// that was most of an MCP listing's time. The memo is keyed by the span
// of the stored data and the epoch of every minute in it (MinuteEpochs),
// which change whenever a minute's records do, so a memoized set is never
// stale. A Source that is not a MinuteCache (a fan-out over workers) has
// no epochs and learns every time. The zero value is ready; safe for
// concurrent use.
type TemplateMemo struct {
	mu  sync.Mutex
	key uint64
	set *templates.Set
}

// Templates returns the templates of src, as Templates would.
func (m *TemplateMemo) Templates(ctx context.Context, src Source) (*templates.Set, error) {
	mc, ok := src.(MinuteCache)
	if m == nil || !ok {
		return Templates(ctx, src)
	}
	key, err := templatesKey(ctx, mc)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.set != nil && m.key == key {
		set := m.set
		m.mu.Unlock()
		return set, nil
	}
	m.mu.Unlock()
	// Learned outside the lock: two callers that miss at once both learn,
	// which costs what a memo-less call did and blocks nobody.
	set, err := Templates(ctx, src)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.key, m.set = key, set
	m.mu.Unlock()
	return set, nil
}

// templatesKey fingerprints what Templates learns from: the span of the
// stored records and the epochs of the minutes it covers. The epochs are
// read before Templates reads the records, so a change in between gives a
// key that no longer matches the next time.
func templatesKey(ctx context.Context, mc MinuteCache) (uint64, error) {
	w, err := resolve(ctx, mc, Window{})
	if err != nil {
		return 0, err
	}
	h := fnv.New64a()
	var b [16]byte
	if w.Start.IsZero() {
		return h.Sum64(), nil
	}
	binary.LittleEndian.PutUint64(b[:8], uint64(w.Start.UnixNano()))
	binary.LittleEndian.PutUint64(b[8:], uint64(w.End.UnixNano()))
	h.Write(b[:])
	from := w.Start
	if w.Duration() > TemplateSpan {
		from = w.End.Add(-TemplateSpan)
	}
	epochs, err := mc.MinuteEpochs(ctx, from, w.End.Add(time.Nanosecond))
	if err != nil {
		return 0, err
	}
	mins := make([]int64, 0, len(epochs))
	for m := range epochs {
		mins = append(mins, m)
	}
	slices.Sort(mins)
	for _, m := range mins {
		binary.LittleEndian.PutUint64(b[:8], uint64(m))
		binary.LittleEndian.PutUint64(b[8:], epochs[m])
		h.Write(b[:])
	}
	return h.Sum64(), nil
}
