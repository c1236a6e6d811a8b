package storage

import (
	"context"
	"time"
)

// Value-log residency. Badger writes its value log through a shared
// memory mapping and keeps every value-log file mapped until it is
// deleted, so each page it ever wrote stays in the process's resident set
// (file-backed, clean once written back) until the kernel needs the
// memory: at a million records that was ~1 GB of RSS, three times the
// rest of the process. releaseLoop drops from the page tables the pages of
// the value-log files badger has finished writing (madvise MADV_DONTNEED,
// which for a shared file mapping only unmaps: the data stays in the page
// cache and in the file, and a later read faults the page back in). Only
// Linux is handled (resident_linux.go); elsewhere it does nothing.
//
// Badger unmaps a value-log file only when it deletes it (value-log GC)
// or closes, both of which hold vlogMu, as does a release pass, so a
// range read from /proc/self/maps is still that file's mapping when it is
// released.
//
// With Options.ReleaseTables (tap) the pass also releases badger's tables
// (.sst), which it writes through a mapping too and keeps mapped until
// compaction deletes them: every table written stays resident whole, and
// the tables grow with the store (RSS +6 MB a minute in tap's soak). No
// lock keeps a table mapped, so they get MADV_PAGEOUT, which is harmless
// on whatever reuses a range unmapped meanwhile (see releaseValueLogs); it
// also drops clean pages from the page cache, so a lookup or compaction
// reads them from disk again.

// releaseEvery is how often new finished value-log files are released (a
// pass reads /proc/self/maps, ~0.1 ms; an import fills a file in ~1 s);
// every releaseAllEvery all finished files are released again, dropping
// what reads brought back in. Reads can bring pages back much faster than
// that: a scan over old records (rebuilding the statistics of every
// minute a second import of the same capture touched, an MCP question
// over a whole store) faults the value log in at read speed, and the
// second import of a million records peaked at 922 MB, 741 MB of it
// file-backed. So all finished files are also released again as soon as
// the process's file-backed resident memory has grown releaseGrowth since
// the last such pass (RATIONALE.md, "Releasing value-log pages behind
// reads").
const (
	releaseEvery    = 250 * time.Millisecond
	releaseAllEvery = 30 * time.Second
	releaseGrowth   = 32 << 20
)

// releaseState is what releaseLoop keeps between passes.
type releaseState struct {
	// released names the finished files released since the last pass
	// over all of them.
	released map[string]bool
	// last is when all finished files were last released; base is the
	// file-backed resident bytes right after that pass (or the lowest
	// seen after a pass since), growth how far above base a pass
	// releases all again.
	last         time.Time
	base, growth int64
}

// releaseLoop releases finished value-log files until ctx ends.
func (s *Store) releaseLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(releaseEvery)
	defer t.Stop()
	st := &releaseState{released: map[string]bool{}, last: time.Now(), base: fileResident(), growth: releaseGrowth}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.releasePass(st, time.Now()); err != nil {
			s.log.Debug("releasing value-log pages", "err", err)
			return
		}
	}
}

// releasePass releases the finished value-log files not released yet, or
// all of them when releaseAllEvery has passed or reads have brought
// st.growth of file pages back in.
func (s *Store) releasePass(st *releaseState, now time.Time) error {
	all := now.Sub(st.last) >= releaseAllEvery || fileResident()-st.base >= st.growth
	if all {
		st.last = now
		clear(st.released)
	}
	if err := s.releaseValueLogs(st.released); err != nil {
		return err
	}
	if after := fileResident(); all || after < st.base {
		st.base = after
	}
	return nil
}
