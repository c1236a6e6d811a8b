package storage

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// IDList is a list of record ids held in their binary form, 16 bytes
// each (a string id costs three times that), for HoldsExactly: a writer
// that saw every record it stored in a span of time asks whether the
// store holds exactly those records there. The zero value is empty.
type IDList struct {
	ids []idWords
}

// idWords is a raw id as two integers, its time and its uniqueness bits:
// sorting a list of them compares integers (a third faster than
// comparing bytes, at a minute of a million records).
type idWords struct{ hi, lo uint64 }

func wordsOf(id []byte) idWords {
	return idWords{binary.BigEndian.Uint64(id[:8]), binary.BigEndian.Uint64(id[8:])}
}

func (a idWords) cmp(b idWords) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

// Add appends id, a record id as Put sets it.
func (l *IDList) Add(id string) error {
	raw, err := parseID(id)
	if err != nil {
		return fmt.Errorf("storage: id list: %w", err)
	}
	l.ids = append(l.ids, wordsOf(raw[:]))
	return nil
}

// Len is the number of ids added.
func (l *IDList) Len() int { return len(l.ids) }

// HoldsExactly reports whether the records stored with times in [from,
// to) are exactly those of ids, each listed once: none of them missing,
// no other record, no id listed twice. It reads keys only, like CountIn,
// and sorts ids in place.
//
// Equal counts vouch for a span only when it held nothing before the
// writer started; the ids also vouch for one whose older records the
// writer replaced, as a capture imported a second time does (RATIONALE.md,
// "Re-imports vouched for by their ids").
func (s *Store) HoldsExactly(ctx context.Context, from, to time.Time, ids *IDList) (bool, error) {
	list := ids.ids
	slices.SortFunc(list, idWords.cmp)
	n := 0
	same := true
	err := s.recordKeysIn(ctx, from, to, func(key []byte) bool {
		// Keys are unique and sorted: the n-th key must be the n-th id,
		// so an id listed twice, or one missing, shows as the first key
		// that differs.
		if n == len(list) || len(key) != 1+idLen || wordsOf(key[1:]) != list[n] {
			same = false
			return false
		}
		n++
		return true
	})
	if err != nil {
		return false, fmt.Errorf("storage: compare the records in [%s, %s) with %d ids: %w", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), len(list), err)
	}
	return same && n == len(list), nil
}

// recordKeysIn calls fn with the key of each record whose time is in
// [from, to), in order, until fn returns false; it reads keys only.
func (s *Store) recordKeysIn(ctx context.Context, from, to time.Time, fn func(key []byte) bool) error {
	lo := binary.BigEndian.AppendUint64([]byte{prefixRecord}, idNanos(from))
	hi := binary.BigEndian.AppendUint64([]byte{prefixRecord}, idNanos(to))
	return s.db.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.PrefetchValues = false
		o.Prefix = []byte{prefixRecord}
		it := txn.NewIterator(o)
		defer it.Close()
		n := 0
		for it.Seek(lo); it.ValidForPrefix(o.Prefix) && bytes.Compare(it.Item().Key(), hi) < 0; it.Next() {
			if !fn(it.Item().Key()) {
				return nil
			}
			if n++; n&1023 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
