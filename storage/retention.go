package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Retention tuning.
const (
	// retentionChunk is how many records one pass reads, then deletes, at a
	// time, bounding memory and transaction size.
	retentionChunk = 1000
	// sizeTargetPercent is where size retention aims once the limit is
	// exceeded: a little under it, so the next few Puts do not trigger
	// another pass straight away.
	sizeTargetPercent = 90
	// entryOverhead approximates per-key bookkeeping in the LSM (block
	// index, metadata, version) when estimating the bytes a deletion frees.
	entryOverhead = 16
	// gcAfterDeletes is how many deletions make a value-log GC worthwhile.
	gcAfterDeletes = 1000
)

// retentionLoop enforces retention every RetentionEvery until ctx ends.
func (s *Store) retentionLoop(ctx context.Context) {
	defer close(s.loopDone)
	t := time.NewTicker(s.opts.RetentionEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.EnforceRetention(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("retention pass failed", "err", err)
		case n > 0:
			s.log.Info("retention deleted records", "records", n)
		}
	}
}

// EnforceRetention deletes records beyond the configured age, then the
// oldest records while the on-disk size exceeds RetentionBytes, and returns
// how many it deleted. The background loop calls it every RetentionEvery;
// calling it directly is safe.
//
// Size retention works from an estimate: badger reclaims the space of
// deleted keys only when compaction and value-log GC get to them, so the
// size measured right after a deletion still includes it. The pass
// therefore measures once, and deletes the oldest records until their
// estimated stored bytes cover the excess down to 90% of the limit.
func (s *Store) EnforceRetention(ctx context.Context) (deleted int, err error) {
	s.retention.Lock()
	defer s.retention.Unlock()
	if s.db.IsClosed() {
		return 0, fmt.Errorf("storage: retention: %w", ErrClosed)
	}
	if s.opts.RetentionAge > 0 {
		cutoff := time.Now().Add(-s.opts.RetentionAge)
		n, err := s.deleteOldest(ctx, func(rec recordCost) bool { return rec.nanos < idNanos(cutoff) })
		deleted += n
		if err == nil {
			// Minutes emptied by earlier passes go too.
			err = s.pruneMinutes(ctx, MinuteOf(cutoff))
		}
		if err != nil {
			return deleted, fmt.Errorf("storage: retention by age: %w", err)
		}
	}
	if s.opts.RetentionBytes > 0 && !s.opts.InMemory {
		size, err := s.DiskSize(ctx)
		if err != nil {
			return deleted, fmt.Errorf("storage: retention by size: %w", err)
		}
		if size > s.opts.RetentionBytes {
			excess := size - s.opts.RetentionBytes*sizeTargetPercent/100
			var freed int64
			n, err := s.deleteOldest(ctx, func(rec recordCost) bool {
				if freed >= excess {
					return false
				}
				freed += rec.bytes
				return true
			})
			deleted += n
			if err != nil {
				return deleted, fmt.Errorf("storage: retention by size: %w", err)
			}
			s.log.Debug("size retention", "size", size, "limit", s.opts.RetentionBytes, "estimated_freed", freed, "records", n)
		}
	}
	if s.opts.RetentionAge > 0 {
		if _, err := s.pruneFlows(ctx, time.Now().Add(-s.opts.RetentionAge)); err != nil {
			return deleted, err
		}
	} else if deleted > 0 {
		// Size retention removed the oldest records; flows that ended
		// before the oldest record left go with them.
		first, _, err := s.Bounds(ctx)
		if err == nil && !first.IsZero() {
			if _, err := s.pruneFlows(ctx, first); err != nil {
				return deleted, err
			}
		}
	}
	if deleted >= gcAfterDeletes {
		s.runValueLogGC()
	}
	return deleted, nil
}

// recordCost is what the retention predicates see of a record.
type recordCost struct {
	nanos uint64 // time part of the id
	bytes int64  // estimated stored size: all keys and values
}

// deleteOldest deletes records oldest first for as long as del reports
// true for the next one.
func (s *Store) deleteOldest(ctx context.Context, del func(recordCost) bool) (total int, err error) {
	var last uint64 // time part of the newest record deleted
	defer func() {
		if total > 0 {
			// Every minute before the last deleted record's is empty now.
			err = errors.Join(err, s.pruneMinutes(ctx, int64(last/minuteNanos)))
		}
	}()
	for {
		var groups [][]op
		var mins []int64
		done := false
		err := s.db.View(func(txn *badger.Txn) error {
			q := Query{}
			return s.walk(ctx, txn, plan{prefix: []byte{prefixRecord}, primary: true}, q, nil, func(id rawID, rec *sdk.Record) (bool, error) {
				idx := indexKeys(rec, id)
				cost := recordCost{nanos: id.nanos(), bytes: int64(len(idx)) * (1 + 1 + idLen + entryOverhead)}
				if item, err := txn.Get(recordKey(id)); err == nil {
					cost.bytes += item.EstimatedSize() + entryOverhead
				}
				if item, err := txn.Get(bodyKey(id)); err == nil {
					cost.bytes += item.EstimatedSize() + entryOverhead
				} else if !errors.Is(err, badger.ErrKeyNotFound) {
					return false, err
				}
				if !del(cost) {
					done = true
					return false, nil
				}
				// Index and body first, primary last: a pass cut short
				// leaves a record that is still listed and will be deleted
				// next time, never an index entry without its record.
				ops := make([]op, 0, len(idx)+2)
				for _, k := range idx {
					ops = append(ops, op{key: k, del: true})
				}
				ops = append(ops, op{key: bodyKey(id), del: true}, op{key: recordKey(id), del: true})
				groups = append(groups, ops)
				if m := int64(id.nanos() / minuteNanos); len(mins) == 0 || mins[len(mins)-1] != m {
					mins = append(mins, m)
				}
				last = id.nanos()
				return len(groups) < retentionChunk, nil
			})
		})
		if err != nil {
			return total, err
		}
		if len(groups) == 0 {
			return total, nil
		}
		endMinutes, err := s.beginMinuteWrite(ctx, mins)
		if err != nil {
			return total, err
		}
		w := newBatchWriter(s.db)
		for _, g := range groups {
			if err = w.add(g); err != nil {
				break
			}
		}
		if err == nil {
			err = w.commit()
		}
		w.discard()
		if err = errors.Join(err, endMinutes()); err != nil {
			return total, err
		}
		total += len(groups)
		if done || len(groups) < retentionChunk {
			return total, nil
		}
	}
}

// runValueLogGC rewrites value-log files that are mostly garbage, until
// badger finds none left worth rewriting.
func (s *Store) runValueLogGC() {
	if s.opts.InMemory {
		return
	}
	for i := 0; i < 16; i++ {
		if err := s.db.RunValueLogGC(0.5); err != nil {
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				s.log.Warn("value log GC", "err", err)
			}
			return
		}
	}
}

// DiskSize returns the bytes the store occupies on disk: LSM tables, value
// logs and memtable write-ahead logs, counted by allocated blocks.
//
// Badger's own Size() is not used: it is refreshed only once a minute, it
// leaves out the memtable logs (where the newest 64 MiB of records live),
// and it counts the preallocated, sparse, active value-log file at its full
// apparent size. An in-memory store reports 0.
func (s *Store) DiskSize(ctx context.Context) (int64, error) {
	if s.opts.InMemory {
		return 0, nil
	}
	var total int64
	err := filepath.WalkDir(s.opts.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a table removed by compaction while we walked
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		switch filepath.Ext(path) {
		case ".sst", ".vlog", ".mem":
		default:
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		total += allocatedSize(fi)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("storage: measure %s: %w", s.dirDesc, err)
	}
	return total, nil
}
