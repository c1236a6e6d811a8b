package storage

import (
	"context"
	"encoding/json"
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
		r, err := s.ApplyRetention(ctx, RetentionLimits{Age: s.opts.RetentionAge, Bytes: s.opts.RetentionBytes})
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("retention pass failed", "err", err)
		case r.Records > 0 || r.Flows > 0:
			s.log.Info("retention deleted records", "records", r.Records, "flows", r.Flows)
		}
	}
}

// RetentionLimits are the limits a retention pass enforces. The zero value
// enforces none.
type RetentionLimits struct {
	// Age drops records (and the flows that carried them) whose time is
	// older than Age before now, by the wall clock: an old capture
	// imported with a short Age is deleted as soon as it is stored.
	Age time.Duration `json:"age_ns"`
	// Bytes bounds the store's on-disk size; the oldest records are
	// deleted first.
	Bytes int64 `json:"bytes"`
}

// IsZero reports whether no limit is set.
func (l RetentionLimits) IsZero() bool { return l.Age <= 0 && l.Bytes <= 0 }

// RetentionReport says what one retention pass deleted.
type RetentionReport struct {
	// Records and Flows are how many were deleted.
	Records int `json:"records"`
	Flows   int `json:"flows"`
	// Cutoff is the age limit's boundary (now minus Age) the pass used;
	// zero without an age limit.
	Cutoff time.Time `json:"cutoff,omitzero"`
}

// EnforceRetention applies the limits the store was opened with (see
// ApplyRetention) and returns how many records it deleted. The background
// loop calls it every RetentionEvery.
func (s *Store) EnforceRetention(ctx context.Context) (deleted int, err error) {
	r, err := s.ApplyRetention(ctx, RetentionLimits{Age: s.opts.RetentionAge, Bytes: s.opts.RetentionBytes})
	return r.Records, err
}

// ApplyRetention deletes records beyond lim.Age, then the oldest records
// while the on-disk size exceeds lim.Bytes, and the flows that ended
// before what is kept, and reports what it deleted. A command that writes
// (an import, a live capture) calls it when it finishes: the background
// pass runs only every RetentionEvery, which a short import never reaches.
// It is safe to call concurrently with the background pass and with
// writes.
//
// Size retention works from an estimate: badger reclaims the space of
// deleted keys only when compaction and value-log GC get to them, so the
// size measured right after a deletion still includes it. The pass
// therefore measures once, and deletes the oldest records until their
// estimated stored bytes cover the excess down to 90% of the limit.
func (s *Store) ApplyRetention(ctx context.Context, lim RetentionLimits) (rep RetentionReport, err error) {
	s.retention.Lock()
	defer s.retention.Unlock()
	if s.db.IsClosed() {
		return rep, fmt.Errorf("storage: retention: %w", ErrClosed)
	}
	if lim.Age > 0 {
		rep.Cutoff = time.Now().Add(-lim.Age).UTC()
		n, err := s.deleteOldest(ctx, func(rec recordCost) bool { return rec.nanos < idNanos(rep.Cutoff) })
		rep.Records += n
		if err == nil {
			// Minutes emptied by earlier passes go too.
			err = s.pruneMinutes(ctx, MinuteOf(rep.Cutoff))
		}
		if err != nil {
			return rep, fmt.Errorf("storage: retention by age: %w", err)
		}
	}
	sizeDeleted := 0
	if lim.Bytes > 0 && !s.opts.InMemory {
		size, err := s.DiskSize(ctx)
		if err != nil {
			return rep, fmt.Errorf("storage: retention by size: %w", err)
		}
		if size > lim.Bytes {
			excess := size - lim.Bytes*sizeTargetPercent/100
			var freed int64
			n, err := s.deleteOldest(ctx, func(rec recordCost) bool {
				if freed >= excess {
					return false
				}
				freed += rec.bytes
				return true
			})
			rep.Records += n
			sizeDeleted = n
			if err != nil {
				return rep, fmt.Errorf("storage: retention by size: %w", err)
			}
			s.log.Debug("size retention", "size", size, "limit", lim.Bytes, "estimated_freed", freed, "records", n)
		}
	}
	if lim.Age > 0 {
		n, err := s.pruneFlows(ctx, rep.Cutoff)
		rep.Flows += n
		if err != nil {
			return rep, err
		}
	}
	if sizeDeleted > 0 {
		// Size retention removed the oldest records; flows that ended
		// before the oldest record left go with them (all of them when
		// no record is left).
		first, _, err := s.Bounds(ctx)
		if err != nil {
			return rep, err
		}
		if first.IsZero() {
			first = time.Now()
		}
		n, err := s.pruneFlows(ctx, first)
		rep.Flows += n
		if err != nil {
			return rep, err
		}
	}
	if rep.Records >= gcAfterDeletes {
		s.runValueLogGC()
	}
	return rep, nil
}

// retentionKey holds the limits set by the last command that was given
// them, so that later commands on the same store keep honouring them.
const retentionKey = "retention/limits"

// SavedRetention returns the limits stored with SaveRetention; ok is false
// when none were ever saved.
func (s *Store) SavedRetention(ctx context.Context) (lim RetentionLimits, ok bool, err error) {
	b, err := s.GetMeta(ctx, retentionKey)
	if errors.Is(err, ErrNotFound) {
		return lim, false, nil
	}
	if err != nil {
		return lim, false, err
	}
	if err := json.Unmarshal(b, &lim); err != nil {
		return lim, false, fmt.Errorf("storage: %s: %w", retentionKey, err)
	}
	return lim, true, nil
}

// SaveRetention stores lim as the store's retention limits; the zero value
// records that there are none.
func (s *Store) SaveRetention(ctx context.Context, lim RetentionLimits) error {
	b, err := json.Marshal(lim)
	if err != nil {
		return err
	}
	return s.PutMeta(ctx, retentionKey, b)
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
				cost := recordCost{nanos: id.nanos()}
				for _, k := range [][]byte{indexKey(id), recordKey(id)} {
					if item, err := txn.Get(k); err == nil {
						cost.bytes += item.EstimatedSize() + entryOverhead
					} else if !errors.Is(err, badger.ErrKeyNotFound) {
						return false, err
					}
				}
				if !del(cost) {
					done = true
					return false, nil
				}
				// Index first, primary last: a pass cut short leaves a
				// record that is still listed and will be deleted next
				// time, never an index entry without its record.
				ops := []op{{key: indexKey(id), del: true}, {key: recordKey(id), del: true}}
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
	// GC deletes, and so unmaps, value-log files (resident.go).
	s.vlogMu.Lock()
	defer s.vlogMu.Unlock()
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
