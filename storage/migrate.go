package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Store format versions. The version is one byte under the 'V' key; a
// store being migrated holds two, the version it is leaving and the one it
// is going to, so that an interrupted migration resumes on the next open
// and a binary that knows only the old version refuses the half-migrated
// store instead of answering from half its indexes.
//
//	1  six secondary index keys per record under 'x' (kind, value, id)
//	2  one index entry per record under 'i' (keys.go)
//	3  a record's bodies inside its value (codec.go, storedTag) instead
//	   of under a 'b' key of their own
const (
	formatVersion    = 3
	oldestMigratable = 1
)

// prefixBodyV2 is the family of format 2's body values ('b' id).
const prefixBodyV2 = 'b'

// prefixIndexV1 is the family of format 1's secondary index keys.
const prefixIndexV1 = 'x'

// openFormat checks the store's format version, stamps a new store with
// the current one, and migrates an older store in place.
func (s *Store) openFormat(ctx context.Context) error {
	var v []byte
	err := s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte{prefixVersion})
		if errors.Is(err, badger.ErrKeyNotFound) {
			v = []byte{formatVersion}
			return txn.Set([]byte{prefixVersion}, v)
		}
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("storage: open %s: read format version: %w", s.dirDesc, err)
	}
	switch {
	case len(v) == 1 && v[0] == formatVersion:
		return nil
	case len(v) == 1 && v[0] > formatVersion, len(v) == 2 && v[1] > formatVersion:
		return fmt.Errorf("storage: open %s: %w: the store has format version %d and this build reads versions %d to %d; use a newer kubeshark",
			s.dirDesc, ErrFormatTooNew, v[len(v)-1], oldestMigratable, formatVersion)
	case len(v) == 1 && v[0] >= oldestMigratable,
		// Cut short, by this build or by an older one on its way to an
		// older version.
		len(v) == 2 && v[0] >= oldestMigratable && v[0] < v[1] && v[1] <= formatVersion:
		return s.migrate(ctx, v[0])
	}
	return fmt.Errorf("storage: open %s: %w: unknown format version %v (this build reads versions %d to %d)",
		s.dirDesc, ErrNotStore, v, oldestMigratable, formatVersion)
}

// migrate brings a store of format from up to formatVersion. Each step is
// idempotent, so a migration cut short (the version still says "from, to")
// is simply run again.
func (s *Store) migrate(ctx context.Context, from byte) error {
	start := time.Now()
	if err := s.setVersion(from, formatVersion); err != nil {
		return err
	}
	var n int
	var err error
	if from < 2 {
		n, err = s.migrateIndexV1(ctx)
	}
	if err == nil {
		n, err = s.migrateBodiesV2(ctx)
	}
	if err != nil {
		return fmt.Errorf("storage: open %s: migrate from format %d to %d (run again to resume): %w", s.dirDesc, from, formatVersion, err)
	}
	if err := s.setVersion(formatVersion); err != nil {
		return err
	}
	s.log.Info("store migrated", "from", from, "to", formatVersion, "records", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (s *Store) setVersion(v ...byte) error {
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte{prefixVersion}, bytes.Clone(v))
	})
	if err != nil {
		return fmt.Errorf("storage: open %s: write format version %v: %w", s.dirDesc, v, err)
	}
	return nil
}

// migrateIndexV1 writes format 2's index entry for every record, then
// drops format 1's index keys. Records, bodies, flows and everything
// derived from them are the same in both formats.
func (s *Store) migrateIndexV1(ctx context.Context) (int, error) {
	w := newBatchWriter(s.db)
	defer w.discard()
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		return eachRecordKey(ctx, txn, func(id rawID, item *badger.Item) error {
			var rec *sdk.Record
			err := item.Value(func(v []byte) error {
				// A migration to format 3 cut short left some values in
				// its layout.
				v, _, err := splitStored(v)
				if err != nil {
					return err
				}
				if s.codec.head != nil {
					rec, _, err = s.codec.head(v)
				} else {
					rec, err = s.codec.decode(v)
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("record %s: %w", id, err)
			}
			if err := w.add([]op{{key: indexKey(id), val: appendIndexValue(nil, rec)}}); err != nil {
				return err
			}
			n++
			return nil
		})
	})
	if err == nil {
		err = w.commit()
	}
	if err != nil {
		return n, err
	}
	if err := s.db.DropPrefix([]byte{prefixIndexV1}); err != nil {
		return n, fmt.Errorf("drop format %d index keys: %w", 1, err)
	}
	return n, nil
}

// migrateBodiesV2 moves each record's bodies from its 'b' key into its
// value (format 3), a record at a time: the new value and the body key's
// deletion commit together, and a value already in format 3 is left as
// it is, so a migration cut short resumes where it stopped.
func (s *Store) migrateBodiesV2(ctx context.Context) (int, error) {
	w := newBatchWriter(s.db)
	defer w.discard()
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		return eachRecordKey(ctx, txn, func(id rawID, item *badger.Item) error {
			n++
			var val []byte
			err := item.Value(func(v []byte) error {
				if len(v) > 0 && v[0] == storedTag {
					return nil
				}
				val = append([]byte{storedTag}, binary.AppendUvarint(nil, uint64(len(v)))...)
				val = append(val, v...)
				return nil
			})
			if err != nil {
				return fmt.Errorf("record %s: %w", id, err)
			}
			if val == nil {
				return nil
			}
			bk := append([]byte{prefixBodyV2}, id[:]...)
			ops := []op{{key: recordKey(id)}, {key: bk, del: true}}
			body, err := txn.Get(bk)
			switch {
			case errors.Is(err, badger.ErrKeyNotFound):
			case err != nil:
				return fmt.Errorf("record %s: bodies: %w", id, err)
			default:
				b, err := body.ValueCopy(nil)
				if err != nil {
					return fmt.Errorf("record %s: bodies: %w", id, err)
				}
				val = append(val, b...)
			}
			ops[0].val = val
			return w.add(ops)
		})
	})
	if err == nil {
		err = w.commit()
	}
	if err != nil {
		return n, err
	}
	// Bodies whose record is gone (none should be) go with the family.
	if err := s.db.DropPrefix([]byte{prefixBodyV2}); err != nil {
		return n, fmt.Errorf("drop format %d body keys: %w", 2, err)
	}
	return n, nil
}

// eachRecordKey calls fn with the id and item of every record key in txn,
// in key order, checking ctx every 1024 keys. Keys of the record family
// that are not a record's own (longer ones) are passed over.
func eachRecordKey(ctx context.Context, txn *badger.Txn, fn func(id rawID, item *badger.Item) error) error {
	o := badger.DefaultIteratorOptions
	o.Prefix = []byte{prefixRecord}
	it := txn.NewIterator(o)
	defer it.Close()
	seen := 0
	for it.Seek(o.Prefix); it.ValidForPrefix(o.Prefix); it.Next() {
		if seen&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		seen++
		id, ok := idFromKey(it.Item().Key())
		if !ok || len(it.Item().Key()) != 1+idLen {
			continue
		}
		if err := fn(id, it.Item()); err != nil {
			return err
		}
	}
	return nil
}
