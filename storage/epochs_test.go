package storage

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// at returns a record at base plus d.
func at(d time.Duration) *sdk.Record {
	r := synth(0)
	r.Timestamp = base.Add(d)
	return r
}

func minute(d time.Duration) int64 { return MinuteOf(base.Add(d)) }

func epochsOf(t *testing.T, s *Store) map[int64]uint64 {
	t.Helper()
	e, err := s.MinuteEpochs(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRecordMinutes(t *testing.T) {
	tests := []struct {
		name string
		at   []time.Duration
		want []int64
	}{
		{"one", []time.Duration{0, time.Second, 59 * time.Second}, []int64{minute(0)}},
		{"boundary", []time.Duration{59*time.Second + 999*time.Millisecond, time.Minute}, []int64{minute(0), minute(time.Minute)}},
		{"unordered", []time.Duration{3 * time.Minute, 0, 3 * time.Minute, time.Minute, 0}, []int64{minute(0), minute(time.Minute), minute(3 * time.Minute)}},
	}
	for _, tt := range tests {
		var recs []*sdk.Record
		for _, d := range tt.at {
			recs = append(recs, at(d))
		}
		if got := recordMinutes(recs); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if m := MinuteOf(time.Time{}); m != 0 {
		t.Errorf("zero time in minute %d, want 0", m)
	}
}

func TestMinuteEpochsFollowWrites(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	if e := epochsOf(t, s); len(e) != 0 {
		t.Fatalf("empty store has epochs %v", e)
	}
	recs := []*sdk.Record{at(0), at(10 * time.Second), at(time.Minute), at(3 * time.Minute)}
	mustPut(t, s, recs)
	e1 := epochsOf(t, s)
	if len(e1) != 3 || e1[minute(0)] == 0 || e1[minute(time.Minute)] == 0 || e1[minute(3*time.Minute)] == 0 {
		t.Fatalf("epochs after the first Put: %v", e1)
	}

	// Replacing a record changes its minute only; so does a new record in
	// an old minute.
	r := *recs[2]
	r.Status = 599
	mustPut(t, s, []*sdk.Record{&r})
	e2 := epochsOf(t, s)
	if e2[minute(time.Minute)] <= e1[minute(time.Minute)] || e2[minute(0)] != e1[minute(0)] || e2[minute(3*time.Minute)] != e1[minute(3*time.Minute)] {
		t.Fatalf("after replacing a record of minute 1: %v, before %v", e2, e1)
	}
	mustPut(t, s, []*sdk.Record{at(5 * time.Second)})
	e3 := epochsOf(t, s)
	if e3[minute(0)] <= e2[minute(0)] || e3[minute(time.Minute)] != e2[minute(time.Minute)] {
		t.Fatalf("after a Put into minute 0: %v, before %v", e3, e2)
	}

	// The range selects the minutes overlapping [from, to).
	got, err := s.MinuteEpochs(ctx, base.Add(30*time.Second), base.Add(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int64]uint64{minute(0): e3[minute(0)], minute(time.Minute): e3[minute(time.Minute)]}; !reflect.DeepEqual(got, want) {
		t.Errorf("epochs in [0:30, 3:00) = %v, want %v", got, want)
	}
}

func TestDerived(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	mustPut(t, s, []*sdk.Record{at(0)})
	m := minute(0)
	e := epochsOf(t, s)[m]
	if _, _, err := s.GetDerived(ctx, "x", m); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get before put: %v, want ErrNotFound", err)
	}
	tests := []struct {
		name   string
		minute int64
		epoch  uint64
		stored bool
	}{
		{"current", m, e, true},
		{"stale epoch", m, e - 1, false},
		{"future epoch", m, e + 1, false},
		{"empty minute", m + 5, 0, false},
	}
	for _, tt := range tests {
		ok, err := s.PutDerived(ctx, "x", tt.minute, tt.epoch, []byte(tt.name))
		if err != nil || ok != tt.stored {
			t.Errorf("%s: stored %v, %v; want %v", tt.name, ok, err, tt.stored)
		}
	}
	ge, val, err := s.GetDerived(ctx, "x", m)
	if err != nil || ge != e || string(val) != "current" {
		t.Fatalf("get: epoch %d %q %v, want %d current", ge, val, err, e)
	}
	// Names are separate entries, and one name is not a prefix match of
	// another.
	if ok, err := s.PutDerived(ctx, "xy", m, e, []byte("other")); !ok || err != nil {
		t.Fatalf("put xy: %v %v", ok, err)
	}
	if _, val, _ := s.GetDerived(ctx, "x", m); string(val) != "current" {
		t.Errorf("x reads %q after xy was written", val)
	}
	// A write to the minute makes the entry stale and refuses the old
	// epoch from then on.
	mustPut(t, s, []*sdk.Record{at(time.Second)})
	if ne := epochsOf(t, s)[m]; ne == ge {
		t.Fatalf("epoch unchanged by a Put: %d", ne)
	}
	if ok, _ := s.PutDerived(ctx, "x", m, e, []byte("late")); ok {
		t.Error("a value computed at the old epoch was stored after a Put")
	}
}

// TestDerivedUnderConcurrentPuts runs the cache protocol (read the epoch,
// then the records, then store what was read at that epoch) against
// concurrent Puts into the same minute: whatever entry is current at the
// end must describe the final records.
func TestDerivedUnderConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	m := minute(0)
	count := func() (int, error) {
		p, err := s.Query(ctx, Query{Since: base, Until: base.Add(time.Minute)})
		return len(p.Records), err
	}
	const writers, puts = 4, 15
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readerErr error
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			e, err := s.MinuteEpochs(ctx, base, base.Add(time.Minute))
			if err == nil {
				var n int
				if n, err = count(); err == nil {
					_, err = s.PutDerived(ctx, "count", m, e[m], []byte(strconv.Itoa(n)))
				}
			}
			if err != nil {
				readerErr = err
				return
			}
		}
	}()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < puts; i++ {
				if err := s.Put(ctx, []*sdk.Record{at(time.Duration(w*puts+i) * time.Millisecond)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-readerDone
	if readerErr != nil {
		t.Fatal(readerErr)
	}
	// One more round of the protocol after the writers, as a query would.
	e := epochsOf(t, s)[m]
	ge, val, err := s.GetDerived(ctx, "count", m)
	if err == nil && ge == e {
		if string(val) != strconv.Itoa(writers*puts) {
			t.Fatalf("current entry says %s records, the minute holds %d", val, writers*puts)
		}
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if len(s.epochs.inflight) != 0 {
		t.Errorf("writes still in flight: %v", s.epochs.inflight)
	}
	if n := countKeys(t, s, inflightTag()...); n != 0 {
		t.Errorf("%d in-flight markers left", n)
	}
}

func TestRetentionDropsMinuteBookkeeping(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{InMemory: true, RetentionAge: time.Hour, RetentionEvery: time.Hour, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().Truncate(time.Minute)
	var recs []*sdk.Record
	for i := 0; i < 6; i++ {
		// Minutes 3h, 2h30 and 2h ago are too old; 30m, 20m, 10m are kept.
		for _, ago := range []time.Duration{3 * time.Hour, 150 * time.Minute, 2 * time.Hour, 30 * time.Minute, 20 * time.Minute, 10 * time.Minute} {
			r := synth(i)
			r.Timestamp = now.Add(-ago + time.Duration(i)*time.Second)
			recs = append(recs, r)
		}
	}
	mustPut(t, s, recs)
	before := epochsOf(t, s)
	if len(before) != 6 {
		t.Fatalf("epochs %v, want 6 minutes", before)
	}
	for m, e := range before {
		if ok, err := s.PutDerived(ctx, "agg", m, e, []byte("v")); !ok || err != nil {
			t.Fatalf("put derived of minute %d: %v %v", m, ok, err)
		}
	}
	if _, err := s.EnforceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	after := epochsOf(t, s)
	for m, e := range before {
		old := time.Unix(m*60, 0).Before(now.Add(-time.Hour))
		_, kept := after[m]
		_, _, derr := s.GetDerived(ctx, "agg", m)
		switch {
		case old && (kept || !errors.Is(derr, ErrNotFound)):
			t.Errorf("minute %s: epoch kept %v, derived %v; want both dropped", time.Unix(m*60, 0).UTC(), kept, derr)
		case !old && (after[m] != e || derr != nil):
			t.Errorf("minute %s: epoch %d → %d, derived %v; want both kept", time.Unix(m*60, 0).UTC(), e, after[m], derr)
		}
	}
}

func TestPruneKeepsMinutesWithRecords(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	mustPut(t, s, []*sdk.Record{at(0), at(time.Minute), at(2 * time.Minute), at(2*time.Minute + time.Second)})
	// Size-style retention: delete the two oldest records; minute 0 is
	// then empty and goes, minute 1 is the last deleted one's and stays
	// until a later pass.
	n := 0
	deleted, err := s.deleteOldest(ctx, func(recordCost) bool { n++; return n <= 2 })
	if err != nil || deleted != 2 {
		t.Fatalf("deleted %d, %v", deleted, err)
	}
	e := epochsOf(t, s)
	if _, ok := e[minute(0)]; ok || len(e) != 2 {
		t.Fatalf("epochs after deleting minutes 0 and 1: %v", e)
	}
	// A minute that still holds a record keeps its epoch even below the
	// bound (an old record Put during a retention pass).
	mustPut(t, s, []*sdk.Record{at(10 * time.Second)})
	if err := s.pruneMinutes(ctx, minute(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	e = epochsOf(t, s)
	if _, ok := e[minute(0)]; !ok {
		t.Error("pruning dropped the epoch of a minute holding a record")
	}
	if _, ok := e[minute(time.Minute)]; ok {
		t.Error("pruning kept the epoch of an empty minute")
	}
	if _, ok := e[minute(2*time.Minute)]; !ok {
		t.Error("pruning dropped the epoch of minute 2")
	}
}

// TestEpochsSurviveReopen covers the two repairs Open makes: minutes a
// crash left in flight get a new epoch, and a store written before epochs
// existed gets one for every minute holding records.
func TestEpochsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openDir(t, dir, Options{})
	mustPut(t, s, []*sdk.Record{at(0), at(time.Minute)})
	e1 := epochsOf(t, s)
	// A write that never ended: the process died between its records and
	// its stamp.
	if _, err := s.beginMinuteWrite(ctx, []int64{minute(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	mustPutRaw(t, s, at(time.Minute+time.Second))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDir(t, dir, Options{})
	e2 := epochsOf(t, s)
	if e2[minute(0)] != e1[minute(0)] || e2[minute(time.Minute)] == e1[minute(time.Minute)] || e2[minute(time.Minute)] == 0 {
		t.Fatalf("after a crash mid-write: %v, before %v", e2, e1)
	}
	if n := countKeys(t, s, inflightTag()...); n != 0 {
		t.Errorf("%d in-flight markers left after Open", n)
	}
	// Epochs stay unique across the restart.
	mustPut(t, s, []*sdk.Record{at(2 * time.Second)})
	if e3 := epochsOf(t, s); e3[minute(0)] <= e2[minute(time.Minute)] {
		t.Errorf("new stamp %d not above the last one %d", e3[minute(0)], e2[minute(time.Minute)])
	}

	// Forget every epoch, as a store from before them.
	err := s.db.Update(func(txn *badger.Txn) error {
		for _, p := range [][]byte{{prefixEpoch}, {prefixEpochMeta}} {
			var keys [][]byte
			if err := scanKeys(ctx, txn, p, func(k []byte) error { keys = append(keys, append([]byte(nil), k...)); return nil }); err != nil {
				return err
			}
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDir(t, dir, Options{})
	defer s.Close()
	if e := epochsOf(t, s); len(e) != 2 || e[minute(0)] == 0 || e[minute(time.Minute)] == 0 {
		t.Fatalf("backfilled epochs %v, want minutes 0 and 1", e)
	}
}

// mustPutRaw writes a record without any epoch bookkeeping, as the part
// of a Put that landed before a crash.
func mustPutRaw(t *testing.T, s *Store, r *sdk.Record) {
	t.Helper()
	id := s.ids.newRaw(r.Timestamp)
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(recordKey(id), s.codec.encode(nil, r))
	})
	if err != nil {
		t.Fatal(fmt.Errorf("raw put: %w", err))
	}
}
