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
	key, newest, err := templatesKey(ctx, mc)
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
	set, ok := loadTemplates(ctx, mc, key, newest)
	if !ok {
		// Learned outside the lock: two callers that miss at once both
		// learn, which costs what a memo-less call did and blocks nobody.
		if set, err = Templates(ctx, src); err != nil {
			return nil, err
		}
		storeTemplates(ctx, mc, key, newest, set)
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
func templatesKey(ctx context.Context, mc MinuteCache) (key uint64, newest minuteEpoch, err error) {
	w, err := resolve(ctx, mc, Window{})
	if err != nil {
		return 0, newest, err
	}
	h := fnv.New64a()
	var b [16]byte
	if w.Start.IsZero() {
		return h.Sum64(), newest, nil
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
		return 0, newest, err
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
	if len(mins) > 0 {
		last := mins[len(mins)-1]
		newest = minuteEpoch{minute: last, epoch: epochs[last], ok: true}
	}
	return h.Sum64(), newest, nil
}

// minuteEpoch is a minute and its epoch; ok is false for a store with no
// minute.
type minuteEpoch struct {
	minute int64
	epoch  uint64
	ok     bool
}

// templatesName is the derived value the learned set is cached under, in
// the newest minute of the data it was learned from (so it goes when that
// minute changes or retention drops it), with the key of the whole span
// in front, so a process that starts on an unchanged store (a hub after
// an import, each `kubeshark calls`) does not learn again.
const templatesName = "analysis/templates/v1"

func loadTemplates(ctx context.Context, mc MinuteCache, key uint64, newest minuteEpoch) (*templates.Set, bool) {
	if !newest.ok {
		return nil, false
	}
	epoch, val, err := mc.GetDerived(ctx, templatesName, newest.minute)
	if err != nil || epoch != newest.epoch || len(val) < 8 || binary.LittleEndian.Uint64(val) != key {
		return nil, false
	}
	set := &templates.Set{}
	if set.UnmarshalBinary(val[8:]) != nil {
		return nil, false // learned again, and overwritten
	}
	return set, true
}

// storeTemplates caches set; a failure only means the next process
// learns again, so it is not an error of the query.
func storeTemplates(ctx context.Context, mc MinuteCache, key uint64, newest minuteEpoch, set *templates.Set) {
	if !newest.ok {
		return
	}
	enc, err := set.MarshalBinary()
	if err != nil {
		return
	}
	val := binary.LittleEndian.AppendUint64(make([]byte, 0, 8+len(enc)), key)
	_, _ = mc.PutDerived(ctx, templatesName, newest.minute, newest.epoch, append(val, enc...))
}
