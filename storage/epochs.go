package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Minute epochs and derived data.
//
// Readers that summarise traffic (storage/analysis) cache one aggregate per
// minute of records so that a long window costs its minutes rather than its
// records. A cache entry is only as good as the records it was computed
// from, so the store keeps, for every minute that holds records, an epoch:
// a stamp that changes whenever a Put or retention changes the minute's
// records. A cached value is stored with the epoch its computation started
// from and is current exactly while the minute still has that epoch.
//
// Stamps are not per-minute counters but values of one store-wide clock
// that only grows (it is persisted with every stamp). A minute therefore
// never gets back an epoch it had before, even after retention dropped
// its epoch key and a later Put brought it back: a cache entry computed
// from an earlier state can never look current again.
//
// Ordering is what makes a cache entry sound. Writers change records first
// and stamp the minute after (in a later transaction); readers read the
// epoch first and the records after. A reader that saw epoch E before a
// change therefore either saw the change in its scan or will find its
// entry stale once the stamp lands. Two guards cover the gaps:
//
//   - a crash between the records and the stamp would leave a minute
//     changed under an old epoch, so a write first records the minutes it
//     is about to touch (an in-flight marker, written before any record);
//     Open stamps every minute that still has one;
//   - concurrent writers take stamps from the clock under epochs.mu, so
//     no two changes share a stamp.
//
// A minute without an epoch key holds no records: every Put stamps the
// minutes it writes, Open backfills stores written before epochs existed,
// and retention drops a minute's key only after checking, under
// epochs.mu, that no record and no write in flight is left in it.

// Key families of this file (see keys.go).
const (
	prefixEpoch     = 'e' // 'e' minute -> epoch
	prefixEpochMeta = 'E' // 'E' 'c' -> clock; 'E' 'w' minute -> in-flight marker
	prefixDerived   = 'a' // 'a' minute name -> uvarint(epoch) value
)

// epochClockKey holds the last epoch handed out.
func epochClockKey() []byte { return []byte{prefixEpochMeta, 'c'} }

// inflightTag is the prefix of the in-flight markers.
func inflightTag() []byte { return []byte{prefixEpochMeta, 'w'} }

// minuteNanos is the length of a minute in the units of an id's time part.
const minuteNanos = uint64(time.Minute)

// MinuteOf is the Unix minute a record with timestamp t belongs to, the
// unit of [Store.MinuteEpochs] and the derived-data cache. Times before
// 1970 belong to minute 0, as their ids sort there.
func MinuteOf(t time.Time) int64 { return int64(idNanos(t) / minuteNanos) }

// epochState is the in-process half of the epoch bookkeeping.
type epochState struct {
	// mu orders stamps, in-flight markers, derived writes and pruning
	// against each other.
	mu    sync.Mutex
	clock uint64
	// inflight counts the writes (Puts, retention chunks) currently
	// changing each minute; its marker key exists while the count is
	// above zero.
	inflight map[int64]int
}

func minuteBytes(m int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(m)) }

func epochKey(m int64) []byte { return append([]byte{prefixEpoch}, minuteBytes(m)...) }

func inflightKey(m int64) []byte { return append(inflightTag(), minuteBytes(m)...) }

func derivedPrefix(m int64) []byte { return append([]byte{prefixDerived}, minuteBytes(m)...) }

func derivedKey(name string, m int64) []byte { return append(derivedPrefix(m), name...) }

// minuteOfKey reads the minute after a key's tag of tagLen bytes.
func minuteOfKey(k []byte, tagLen int) (int64, bool) {
	if len(k) < tagLen+8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(k[tagLen:])), true
}

// recordMinutes lists the distinct minutes of recs, ascending.
func recordMinutes(recs []*sdk.Record) []int64 {
	out := make([]int64, 0, 2)
	for _, r := range recs {
		m := MinuteOf(r.Timestamp)
		// Batches are mostly in time order: skip the common repeat cheaply.
		if n := len(out); n == 0 || out[n-1] != m {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// openEpochs loads the clock, stamps the minutes a crash left in flight,
// and backfills the epochs of a store written before they existed.
func (s *Store) openEpochs(ctx context.Context) error {
	s.epochs.inflight = map[int64]int{}
	var haveClock bool
	var pending []int64
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(epochClockKey())
		switch {
		case err == nil:
			haveClock = true
			if err := item.Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("epoch clock of %d bytes", len(v))
				}
				s.epochs.clock = binary.BigEndian.Uint64(v)
				return nil
			}); err != nil {
				return err
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		return scanKeys(ctx, txn, inflightTag(), func(k []byte) error {
			if m, ok := minuteOfKey(k, len(inflightTag())); ok {
				pending = append(pending, m)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("storage: open %s: read minute epochs: %w", s.dirDesc, err)
	}
	if haveClock && len(pending) == 0 {
		return nil
	}
	marked := make(map[int64]bool, len(pending))
	for _, m := range pending {
		marked[m] = true
	}
	if !haveClock {
		// Either a new store or one from before epochs: every minute that
		// holds a record needs a key, or readers would take it for empty.
		err = s.db.View(func(txn *badger.Txn) error {
			return scanKeys(ctx, txn, []byte{prefixRecord}, func(k []byte) error {
				if id, ok := idFromKey(k); ok {
					m := int64(id.nanos() / minuteNanos)
					if n := len(pending); n == 0 || pending[n-1] != m {
						pending = append(pending, m)
					}
				}
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("storage: open %s: backfill minute epochs: %w", s.dirDesc, err)
		}
		if len(pending) > len(marked) {
			s.log.Info("stamping the minute epochs of a store written before they existed", "minutes", len(pending)-len(marked))
		}
	}
	slices.Sort(pending)
	pending = slices.Compact(pending)
	if err := s.stamp(pending, func(m int64) bool { return marked[m] }); err != nil {
		return fmt.Errorf("storage: open %s: stamp minute epochs: %w", s.dirDesc, err)
	}
	return nil
}

// stamp gives mins a new epoch from the clock, dropping the in-flight
// marker of each minute for which dropMarker says so. The caller holds
// epochs.mu, or is Open.
func (s *Store) stamp(mins []int64, dropMarker func(m int64) bool) error {
	// The clock is reserved before writing and persisted in the first
	// transaction, ahead of any stamp: if a large stamp is split and only
	// its first part lands (a crash, a failed commit), no later stamp can
	// repeat the value those minutes got.
	s.epochs.clock++
	v := binary.BigEndian.AppendUint64(nil, s.epochs.clock)
	w := newBatchWriter(s.db)
	defer w.discard()
	if err := w.add([]op{{key: epochClockKey(), val: v}}); err != nil {
		return err
	}
	for _, m := range mins {
		ops := []op{{key: epochKey(m), val: v}}
		if dropMarker(m) {
			ops = append(ops, op{key: inflightKey(m), del: true})
		}
		if err := w.add(ops); err != nil {
			return err
		}
	}
	return w.commit()
}

// beginMinuteWrite announces a write that is about to change the records
// of mins, and returns the function to call once the write is over
// (whether it succeeded or not), which stamps them.
func (s *Store) beginMinuteWrite(ctx context.Context, mins []int64) (end func() error, err error) {
	if len(mins) == 0 {
		return func() error { return nil }, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.epochs.mu.Lock()
	defer s.epochs.mu.Unlock()
	var fresh []int64
	for _, m := range mins {
		if s.epochs.inflight[m] == 0 {
			fresh = append(fresh, m)
		}
	}
	if len(fresh) > 0 {
		w := newBatchWriter(s.db)
		defer w.discard()
		for _, m := range fresh {
			if err := w.add([]op{{key: inflightKey(m), val: []byte{}}}); err != nil {
				return nil, fmt.Errorf("storage: mark minutes in flight: %w", err)
			}
		}
		if err := w.commit(); err != nil {
			return nil, fmt.Errorf("storage: mark minutes in flight: %w", err)
		}
	}
	for _, m := range mins {
		s.epochs.inflight[m]++
	}
	return func() error { return s.endMinuteWrite(mins) }, nil
}

// endMinuteWrite stamps mins after a write and drops the in-flight markers
// no other write still needs. On failure the markers stay, so that the
// next Open stamps the minutes.
func (s *Store) endMinuteWrite(mins []int64) error {
	s.epochs.mu.Lock()
	defer s.epochs.mu.Unlock()
	err := s.stamp(mins, func(m int64) bool { return s.epochs.inflight[m] == 1 })
	if err != nil {
		return fmt.Errorf("storage: stamp minute epochs: %w", err)
	}
	for _, m := range mins {
		if s.epochs.inflight[m]--; s.epochs.inflight[m] <= 0 {
			delete(s.epochs.inflight, m)
		}
	}
	return nil
}

// pruneMinutes drops the epoch keys and derived data of the minutes before
// minute that hold no record any more, so that retention leaves no
// bookkeeping behind. A minute a write is changing, or that still holds a
// record (an old record Put during the retention pass), keeps them.
func (s *Store) pruneMinutes(ctx context.Context, before int64) error {
	s.epochs.mu.Lock()
	defer s.epochs.mu.Unlock()
	var drop [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		var mins []int64
		err := scanKeysUntil(ctx, txn, []byte{prefixEpoch}, epochKey(before), func(k []byte) error {
			if m, ok := minuteOfKey(k, 1); ok && s.epochs.inflight[m] == 0 {
				mins = append(mins, m)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, m := range mins {
			has, err := hasRecordIn(txn, m)
			if err != nil {
				return err
			}
			if has {
				continue
			}
			drop = append(drop, epochKey(m))
			err = scanKeys(ctx, txn, derivedPrefix(m), func(k []byte) error {
				drop = append(drop, bytes.Clone(k))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && len(drop) > 0 {
		w := newBatchWriter(s.db)
		defer w.discard()
		for _, k := range drop {
			if err = w.add([]op{{key: k, del: true}}); err != nil {
				break
			}
		}
		if err == nil {
			err = w.commit()
		}
	}
	if err != nil {
		return fmt.Errorf("storage: drop the epochs of minutes before %s: %w", time.Unix(int64(before)*60, 0).UTC().Format(time.RFC3339), err)
	}
	return nil
}

// hasRecordIn reports whether minute m holds a record.
func hasRecordIn(txn *badger.Txn, m int64) (bool, error) {
	o := badger.DefaultIteratorOptions
	o.PrefetchValues = false
	o.Prefix = []byte{prefixRecord}
	it := txn.NewIterator(o)
	defer it.Close()
	lo := recordKey(makeRawID(time.Unix(0, int64(uint64(m)*minuteNanos)), 0))
	it.Seek(lo)
	if !it.ValidForPrefix(o.Prefix) {
		return false, nil
	}
	id, ok := idFromKey(it.Item().Key())
	return ok && int64(id.nanos()/minuteNanos) == m, nil
}

// scanKeysUntil calls fn with each key under prefix that sorts before end.
func scanKeysUntil(ctx context.Context, txn *badger.Txn, prefix, end []byte, fn func(k []byte) error) error {
	err := scanKeys(ctx, txn, prefix, func(k []byte) error {
		if bytes.Compare(k, end) >= 0 {
			return errStopScan
		}
		return fn(k)
	})
	if errors.Is(err, errStopScan) {
		return nil
	}
	return err
}

// errStopScan ends a key scan early without being an error.
var errStopScan = errors.New("stop scan")

// MinuteEpochs returns the epochs of the minutes overlapping [from, to)
// that hold records (a zero side is open). A minute absent from the map
// holds no record; a minute present may hold none (retention emptied it
// lately). An epoch changes whenever the minute's records change, and
// never comes back once changed, so a value derived from a minute's
// records while it had epoch E is current exactly while the minute's
// epoch is still E. Read the epochs before the records they guard.
func (s *Store) MinuteEpochs(ctx context.Context, from, to time.Time) (map[int64]uint64, error) {
	lo := epochKey(MinuteOf(from))
	var hi []byte
	if !to.IsZero() {
		hi = epochKey(MinuteOf(to.Add(-time.Nanosecond)) + 1)
	}
	out := map[int64]uint64{}
	err := s.db.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.Prefix = []byte{prefixEpoch}
		it := txn.NewIterator(o)
		defer it.Close()
		n := 0
		for it.Seek(lo); it.ValidForPrefix(o.Prefix); it.Next() {
			if n++; n&1023 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			k := it.Item().Key()
			if hi != nil && bytes.Compare(k, hi) >= 0 {
				break
			}
			m, ok := minuteOfKey(k, 1)
			if !ok {
				continue
			}
			if err := it.Item().Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("epoch of minute %d has %d bytes", m, len(v))
				}
				out[m] = binary.BigEndian.Uint64(v)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: minute epochs in [%s, %s): %w", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), err)
	}
	return out, nil
}

// PutDerived caches val, a value computed from the records of minute
// while it had the given epoch, under name. It stores nothing, and
// reports false, when the minute's epoch is no longer that one (its
// records changed since, or it holds none): the value would be stale
// already. Entries are dropped with the minute by retention.
func (s *Store) PutDerived(ctx context.Context, name string, minute int64, epoch uint64, val []byte) (stored bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("storage: put derived %q of minute %d: %w", name, minute, err)
	}
	if epoch == 0 {
		return false, nil
	}
	name = s.derivedName(name)
	v := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(val)), epoch)
	v = append(v, val...)
	// Under the lock no stamp or prune can land between the check and the
	// write: an entry is never written for a minute retention just
	// dropped, where it would linger unpruned.
	s.epochs.mu.Lock()
	defer s.epochs.mu.Unlock()
	err = s.db.Update(func(txn *badger.Txn) error {
		cur, err := epochIn(txn, minute)
		if err != nil || cur != epoch {
			return err
		}
		stored = true
		return txn.Set(derivedKey(name, minute), v)
	})
	if err != nil {
		return false, fmt.Errorf("storage: put derived %q of minute %d: %w", name, minute, err)
	}
	return stored, nil
}

// epochIn reads one minute's epoch, 0 when it has none.
func epochIn(txn *badger.Txn, m int64) (uint64, error) {
	item, err := txn.Get(epochKey(m))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var e uint64
	err = item.Value(func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("epoch of minute %d has %d bytes", m, len(v))
		}
		e = binary.BigEndian.Uint64(v)
		return nil
	})
	return e, err
}

// GetDerived returns the value cached under name for minute and the epoch
// it was computed at, or an error wrapping ErrNotFound. The caller
// compares the epoch with the minute's current one (MinuteEpochs).
func (s *Store) GetDerived(ctx context.Context, name string, minute int64) (epoch uint64, val []byte, err error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, fmt.Errorf("storage: get derived %q of minute %d: %w", name, minute, err)
	}
	name = s.derivedName(name)
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(derivedKey(name, minute))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		e, n := binary.Uvarint(v)
		if n <= 0 {
			return fmt.Errorf("corrupt entry of %d bytes", len(v))
		}
		epoch, val = e, v[n:]
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("storage: get derived %q of minute %d: %w", name, minute, err)
	}
	return epoch, val, nil
}
