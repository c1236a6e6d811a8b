package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Summary describes the store's contents at a glance.
type Summary struct {
	// Total is the number of records.
	Total int
	// ByProtocol counts records per protocol name, lower-cased.
	ByProtocol map[string]int
	// Failed counts records marked failed.
	Failed int
	// First and Last are the oldest and newest record Timestamps; zero
	// when the store is empty.
	First, Last time.Time
}

// Summary counts the records without decoding them: totals come from the
// record keys and the index entries, and only the oldest
// and newest records are read.
func (s *Store) Summary(ctx context.Context) (Summary, error) {
	sum := Summary{ByProtocol: map[string]int{}}
	err := s.db.View(func(txn *badger.Txn) error {
		err := scanKeys(ctx, txn, []byte{prefixRecord}, func([]byte) error { sum.Total++; return nil })
		if err != nil {
			return err
		}
		err = scanValues(ctx, txn, []byte{prefixIndex}, func(v []byte) error {
			var e indexEntry
			if err := decodeIndexValue(v, &e); err != nil {
				return err
			}
			sum.ByProtocol[string(e.protocol)]++
			if e.flags&idxFailed != 0 {
				sum.Failed++
			}
			return nil
		})
		if err != nil {
			return err
		}
		sum.First, sum.Last, err = s.bounds(ctx, txn)
		return err
	})
	if err != nil {
		return Summary{}, fmt.Errorf("storage: summary: %w", err)
	}
	return sum, nil
}

// Bounds returns the Timestamps of the oldest and newest records, zero when
// the store is empty. Unlike Summary it counts nothing: two seeks.
func (s *Store) Bounds(ctx context.Context) (first, last time.Time, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		first, last, err = s.bounds(ctx, txn)
		return err
	})
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("storage: bounds: %w", err)
	}
	return first, last, nil
}

func (s *Store) bounds(ctx context.Context, txn *badger.Txn) (first, last time.Time, err error) {
	for _, newest := range []bool{false, true} {
		q := Query{Newest: newest}
		err := s.walk(ctx, txn, plan{prefix: []byte{prefixRecord}, primary: true}, q, nil, func(_ rawID, rec *sdk.Record) (bool, error) {
			if newest {
				last = rec.Timestamp
			} else {
				first = rec.Timestamp
			}
			return false, nil
		})
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
	}
	return first, last, nil
}
