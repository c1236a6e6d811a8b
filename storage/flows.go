package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Flows live in two key families of their own:
//
//	'l' start(8 bytes big-endian Unix ns) flow-id -> JSON sdk.Flow
//	'L' flow-id                                -> start (8 bytes)
//
// The first orders flows by start time so that a window is a range scan; the
// second finds a flow by the id records carry in Stream. Flows are few next
// to records (one per connection) and are read whole, so JSON costs little
// and keeps them readable with any badger tool.
const (
	prefixFlow   = 'l'
	prefixFlowID = 'L'
)

func flowKey(start time.Time, id string) []byte {
	k := make([]byte, 0, 9+len(id))
	k = append(k, prefixFlow)
	k = binary.BigEndian.AppendUint64(k, idNanos(start))
	return append(k, id...)
}

func flowIDKey(id string) []byte { return append([]byte{prefixFlowID}, id...) }

// PutFlows stores flows, replacing any stored flow with the same ID (so a
// capture imported twice stores each connection once). It implements
// pipeline.FlowSink.
func (s *Store) PutFlows(ctx context.Context, flows []*sdk.Flow) error {
	if len(flows) == 0 {
		return nil
	}
	if s.db.IsClosed() {
		return fmt.Errorf("storage: put flows: %w", ErrClosed)
	}
	w := newBatchWriter(s.db)
	defer w.discard()
	replaced := 0
	err := s.db.View(func(txn *badger.Txn) error {
		for i, f := range flows {
			if f == nil || f.ID == "" {
				return fmt.Errorf("storage: put flows: flow %d has no id", i)
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("storage: put flows: %w", err)
			}
			val, err := json.Marshal(f)
			if err != nil {
				return fmt.Errorf("storage: put flow %s: %w", f.ID, err)
			}
			var ops []op
			// A flow stored before under another start (a longer capture
			// of the same connection) must not linger under the old key.
			if item, err := txn.Get(flowIDKey(f.ID)); err == nil {
				replaced++
				old, err := item.ValueCopy(nil)
				if err == nil && len(old) == 8 && binary.BigEndian.Uint64(old) != idNanos(f.Start) {
					ops = append(ops, op{key: flowKey(time.Unix(0, int64(binary.BigEndian.Uint64(old))), f.ID), del: true})
				}
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return fmt.Errorf("storage: put flow %s: %w", f.ID, err)
			}
			ops = append(ops,
				op{key: flowIDKey(f.ID), val: binary.BigEndian.AppendUint64(nil, idNanos(f.Start))},
				op{key: flowKey(f.Start, f.ID), val: val})
			if err := w.add(ops); err != nil {
				return fmt.Errorf("storage: put flows: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := w.commit(); err != nil {
		return fmt.Errorf("storage: put %d flows: %w", len(flows), err)
	}
	s.writes.flows.Add(int64(len(flows) - replaced))
	s.writes.flowsReplaced.Add(int64(replaced))
	return nil
}

// Flow returns the flow with the given id (a record's Stream), or an error
// wrapping ErrNotFound.
func (s *Store) Flow(ctx context.Context, id string) (*sdk.Flow, error) {
	var f *sdk.Flow
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(flowIDKey(id))
		if err != nil {
			return err
		}
		start, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if len(start) != 8 {
			return fmt.Errorf("flow index entry is %d bytes, want 8", len(start))
		}
		item, err = txn.Get(flowKey(time.Unix(0, int64(binary.BigEndian.Uint64(start))), id))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			f = new(sdk.Flow)
			if err := json.Unmarshal(v, f); err != nil {
				return err
			}
			s.resolveFlow(f)
			return nil
		})
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("storage: flow %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: flow %q: %w", id, err)
	}
	return f, nil
}

// FlowQuery selects flows for Store.Flows.
type FlowQuery struct {
	// Since and Until bound the flow's activity: a flow is in the window
	// when it started before Until and ended at or after Since. A zero
	// time leaves that side open.
	Since, Until time.Time
	// Match, when set, keeps only the flows it returns true for.
	Match func(*sdk.Flow) bool
	// Limit caps the page size; 0 returns every match.
	Limit int
	// Cursor continues from a previous FlowPage.Next.
	Cursor string
}

// FlowPage is one page of flows in start-time order.
type FlowPage struct {
	Flows []*sdk.Flow
	// Next is the cursor for the following page, "" when there is none.
	Next string
}

// Flows returns the flows matching q in start-time order, one page at a time.
func (s *Store) Flows(ctx context.Context, q FlowQuery) (FlowPage, error) {
	var page FlowPage
	seek := []byte{prefixFlow}
	if q.Cursor != "" {
		c, err := decodeFlowCursor(q.Cursor)
		if err != nil {
			return FlowPage{}, fmt.Errorf("storage: flows: %w: %w", ErrBadCursor, err)
		}
		seek = append(c, 0) // just after the last key of the previous page
	}
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{prefixFlow}
		it := txn.NewIterator(opts)
		defer it.Close()
		var lastKey []byte
		n := 0
		for it.Seek(seek); it.ValidForPrefix(opts.Prefix); it.Next() {
			if n&255 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			n++
			k := it.Item().Key()
			if len(k) < 9 {
				continue
			}
			start := int64(binary.BigEndian.Uint64(k[1:9]))
			if !q.Until.IsZero() && start >= q.Until.UnixNano() {
				break
			}
			var f sdk.Flow
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &f) }); err != nil {
				return fmt.Errorf("flow %s: %w", k[9:], err)
			}
			s.resolveFlow(&f)
			if !q.Since.IsZero() && f.End.Before(q.Since) {
				continue
			}
			if q.Match != nil && !q.Match(&f) {
				continue
			}
			if q.Limit > 0 && len(page.Flows) == q.Limit {
				page.Next = encodeFlowCursor(lastKey)
				return nil
			}
			page.Flows = append(page.Flows, &f)
			lastKey = append(lastKey[:0], k...)
		}
		return nil
	})
	if err != nil {
		return FlowPage{}, fmt.Errorf("storage: flows: %w", err)
	}
	return page, nil
}

// A flow cursor is the last key of the page, start time and id, in text.
func encodeFlowCursor(key []byte) string {
	return fmt.Sprintf("%d.%s", binary.BigEndian.Uint64(key[1:9]), key[9:])
}

func decodeFlowCursor(c string) ([]byte, error) {
	i := bytes.IndexByte([]byte(c), '.')
	if i <= 0 || i == len(c)-1 {
		return nil, fmt.Errorf("flow cursor %q is not start.id", c)
	}
	var ns uint64
	if _, err := fmt.Sscanf(c[:i], "%d", &ns); err != nil {
		return nil, fmt.Errorf("flow cursor %q: %w", c, err)
	}
	k := []byte{prefixFlow}
	k = binary.BigEndian.AppendUint64(k, ns)
	return append(k, c[i+1:]...), nil
}

// FlowBounds returns the earliest start and latest end of the stored flows
// and how many there are; zero times when there are none.
func (s *Store) FlowBounds(ctx context.Context) (first, last time.Time, count int, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{prefixFlow}
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if count&1023 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			count++
			var f sdk.Flow
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &f) }); err != nil {
				return err
			}
			if first.IsZero() || f.Start.Before(first) {
				first = f.Start
			}
			if f.End.After(last) {
				last = f.End
			}
		}
		return nil
	})
	if err != nil {
		return time.Time{}, time.Time{}, 0, fmt.Errorf("storage: flow bounds: %w", err)
	}
	return first, last, count, nil
}

// pruneFlows deletes the flows that ended before cutoff, so flows age out
// with the records they carried.
func (s *Store) pruneFlows(ctx context.Context, cutoff time.Time) (int, error) {
	var ops []op
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{prefixFlow}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Item().KeyCopy(nil)
			if int64(binary.BigEndian.Uint64(k[1:9])) >= cutoff.UnixNano() {
				break
			}
			var f sdk.Flow
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &f) }); err != nil {
				return err
			}
			if f.End.Before(cutoff) {
				ops = append(ops, op{key: flowIDKey(f.ID), del: true}, op{key: k, del: true})
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("storage: prune flows: %w", err)
	}
	w := newBatchWriter(s.db)
	defer w.discard()
	if err := w.add(ops); err != nil {
		return 0, fmt.Errorf("storage: prune flows: %w", err)
	}
	if err := w.commit(); err != nil {
		return 0, fmt.Errorf("storage: prune flows: %w", err)
	}
	return len(ops) / 2, nil
}
