package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// PutMeta stores a small piece of metadata (an import's source, a capture's
// settings) under key, replacing any previous value.
func (s *Store) PutMeta(ctx context.Context, key string, val []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: put meta %q: %w", key, err)
	}
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(metaKey(key), bytes.Clone(val))
	})
	if err != nil {
		return fmt.Errorf("storage: put meta %q: %w", key, err)
	}
	return nil
}

// GetMeta returns the metadata stored under key, or an error wrapping
// ErrNotFound.
func (s *Store) GetMeta(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: get meta %q: %w", key, err)
	}
	var val []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaKey(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: get meta %q: %w", key, err)
	}
	return val, nil
}

// disabledKey holds the dissectors switched off for future imports.
const disabledKey = "dissection/disabled"

// DisabledDissectors returns the names of the dissectors that imports must
// not run (set by disable_dissection), sorted; "*" means all dissection
// is off.
func (s *Store) DisabledDissectors(ctx context.Context) ([]string, error) {
	b, err := s.GetMeta(ctx, disabledKey)
	if errors.Is(err, ErrNotFound) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return nil, fmt.Errorf("storage: %s: %w", disabledKey, err)
	}
	slices.Sort(names)
	return names, nil
}

// SetDisabledDissectors replaces the set of disabled dissectors.
func (s *Store) SetDisabledDissectors(ctx context.Context, names []string) error {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	if names == nil {
		names = []string{}
	}
	b, err := json.Marshal(names)
	if err != nil {
		return err
	}
	return s.PutMeta(ctx, disabledKey, b)
}
