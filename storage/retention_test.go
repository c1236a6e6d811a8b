package storage

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// checkKeys asserts that exactly the given records have primary, body and
// index keys: nothing a deletion should have removed is left behind.
func checkKeys(t *testing.T, s *Store, kept []*sdk.Record) {
	t.Helper()
	wantIdx := 0
	for _, r := range kept {
		if _, err := parseID(r.ID); err != nil {
			t.Fatal(err)
		}
		wantIdx++
	}
	if n := countKeys(t, s, prefixRecord); n != len(kept) {
		t.Errorf("%d record keys, want %d", n, len(kept))
	}
	if n := countKeys(t, s, prefixBodyV2); n != 0 {
		t.Errorf("%d body keys of format 2", n)
	}
	if n := countKeys(t, s, prefixIndex); n != wantIdx {
		t.Errorf("%d index keys, want %d", n, wantIdx)
	}
}

func TestRetentionByAge(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{InMemory: true, RetentionAge: time.Hour, RetentionEvery: time.Hour, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	recs := synthN(0, 1000)
	for i, r := range recs {
		// Spread over the last two hours: the first half is too old.
		r.Timestamp = now.Add(-2*time.Hour + time.Duration(i)*(2*time.Hour/1000))
	}
	mustPut(t, s, recs)
	n, err := s.EnforceRetention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kept []*sdk.Record
	for _, r := range recs {
		if !r.Timestamp.Before(now.Add(-time.Hour)) {
			kept = append(kept, r)
		}
	}
	// Records within a few ms of the cutoff may fall either side, because
	// the cutoff is taken inside EnforceRetention.
	if d := len(recs) - len(kept) - n; d < -3 || d > 3 {
		t.Fatalf("deleted %d, want about %d", n, len(recs)-len(kept))
	}
	kept = recs[n:]
	checkKeys(t, s, kept)
	got := queryAll(t, s, Query{})
	if !slices.Equal(got, ids(kept)) {
		t.Fatalf("the records left are not the newest ones")
	}
	if n, _ := s.EnforceRetention(ctx); n > 3 {
		t.Fatalf("second pass deleted %d more", n)
	}
}

func TestRetentionBackground(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{InMemory: true, RetentionAge: time.Minute, RetentionEvery: 20 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	old := synthN(0, 10) // timestamps in 2025: far older than a minute
	fresh := synth(11)
	fresh.Timestamp = time.Now().Add(time.Hour)
	mustPut(t, s, append(old, fresh))
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := s.Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background retention left %d records", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRetentionBySize(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openDir(t, dir, Options{RetentionEvery: time.Hour})
	defer s.Close()
	recs := synthN(0, 1500)
	big := strings.Repeat("0123456789abcdef", 1024) // 16 KiB: goes to the value log
	for _, r := range recs {
		r.Response.Body = big
	}
	for i := 0; i < len(recs); i += 500 {
		mustPut(t, s, recs[i:i+500])
	}
	size, err := s.DiskSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if size < 20<<20 {
		t.Fatalf("disk size %d, expected the bodies to take over 20 MiB", size)
	}
	// No limit yet: nothing to do.
	if n, err := s.EnforceRetention(ctx); n != 0 || err != nil {
		t.Fatalf("without limits: deleted %d, %v", n, err)
	}
	s.opts.RetentionBytes = size / 2
	n, err := s.EnforceRetention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("disk %d bytes, limit %d: deleted %d of %d records", size, size/2, n, len(recs))
	// The target is 90% of the limit: somewhat over half the records go.
	if n < len(recs)/2 || n > len(recs)*8/10 {
		t.Fatalf("deleted %d records of %d", n, len(recs))
	}
	checkKeys(t, s, recs[n:])
	if got := queryAll(t, s, Query{Limit: 400}); !slices.Equal(got, ids(recs[n:])) {
		t.Fatal("size retention did not delete the oldest records")
	}
}

// TestApplyRetentionReports checks that a pass on demand, on a store opened
// without limits (as an import opens it), deletes by the limits given and
// says how many records and flows went: an old capture is entirely past a
// one-hour age limit measured from now.
func TestApplyRetentionReports(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	old := synthN(0, 20) // 2025: far older than an hour
	fresh := synth(21)
	fresh.Timestamp = time.Now()
	mustPut(t, s, append(old, fresh))
	flows := []*sdk.Flow{testFlow(0, base, time.Second), testFlow(1, base.Add(time.Minute), time.Second), testFlow(2, time.Now(), time.Second)}
	if err := s.PutFlows(ctx, flows); err != nil {
		t.Fatal(err)
	}
	rep, err := s.ApplyRetention(ctx, RetentionLimits{})
	if err != nil || rep.Records != 0 || rep.Flows != 0 || !rep.Cutoff.IsZero() {
		t.Fatalf("without limits: %+v, %v", rep, err)
	}
	before := time.Now()
	rep, err = s.ApplyRetention(ctx, RetentionLimits{Age: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != len(old) || rep.Flows != 2 {
		t.Fatalf("deleted %d records and %d flows, want %d and 2", rep.Records, rep.Flows, len(old))
	}
	if d := rep.Cutoff.Sub(before.Add(-time.Hour)); d < 0 || d > time.Minute {
		t.Fatalf("cutoff %v, want about %v", rep.Cutoff, before.Add(-time.Hour))
	}
	checkKeys(t, s, []*sdk.Record{fresh})
	if _, err := s.Flow(ctx, "f002"); err != nil {
		t.Fatalf("the fresh flow went too: %v", err)
	}
	if rep, err = s.ApplyRetention(ctx, RetentionLimits{Age: time.Hour}); err != nil || rep.Records != 0 || rep.Flows != 0 {
		t.Fatalf("second pass: %+v, %v", rep, err)
	}
}

// TestApplyRetentionBySizeDropsFlows checks that size retention reports
// the flows that go with the records it deletes.
func TestApplyRetentionBySizeDropsFlows(t *testing.T) {
	ctx := context.Background()
	s := openDir(t, t.TempDir(), Options{})
	defer s.Close()
	recs := synthN(0, 300)
	mustPut(t, s, recs)
	if err := s.PutFlows(ctx, []*sdk.Flow{testFlow(0, base.Add(-time.Hour), time.Second)}); err != nil {
		t.Fatal(err)
	}
	// A limit far below the store's size: every record goes, and the
	// flow that ended before them with them.
	rep, err := s.ApplyRetention(ctx, RetentionLimits{Bytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != len(recs) || rep.Flows != 1 {
		t.Fatalf("deleted %d records and %d flows, want %d and 1", rep.Records, rep.Flows, len(recs))
	}
}

func TestSavedRetention(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	if lim, ok, err := s.SavedRetention(ctx); err != nil || ok || !lim.IsZero() {
		t.Fatalf("fresh store: %+v %v %v", lim, ok, err)
	}
	want := RetentionLimits{Age: 90 * time.Minute, Bytes: 5 << 20}
	if err := s.SaveRetention(ctx, want); err != nil {
		t.Fatal(err)
	}
	if lim, ok, err := s.SavedRetention(ctx); err != nil || !ok || lim != want {
		t.Fatalf("saved %+v, read %+v %v %v", want, lim, ok, err)
	}
	if err := s.SaveRetention(ctx, RetentionLimits{}); err != nil {
		t.Fatal(err)
	}
	if lim, ok, err := s.SavedRetention(ctx); err != nil || !ok || !lim.IsZero() {
		t.Fatalf("cleared: %+v %v %v", lim, ok, err)
	}
}

// TestWritesTellNewFromReplaced checks the counts a re-import reports:
// storing the same records and flows again adds nothing.
func TestWritesTellNewFromReplaced(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	recs := synthN(0, 50)
	for i, r := range recs {
		r.ID = NewID(r.Timestamp, uint64(i))
	}
	flows := []*sdk.Flow{testFlow(0, base, time.Second), testFlow(1, base, time.Second)}
	w0 := s.Writes()
	mustPut(t, s, recs[:30])
	if err := s.PutFlows(ctx, flows[:1]); err != nil {
		t.Fatal(err)
	}
	w1 := s.Writes()
	if got := w1.Sub(w0); got != (WriteCounts{Records: 30, Flows: 1}) {
		t.Fatalf("first import: %+v", got)
	}
	// The same capture again, and a longer one that overlaps it.
	mustPut(t, s, recs)
	if err := s.PutFlows(ctx, flows); err != nil {
		t.Fatal(err)
	}
	if got := s.Writes().Sub(w1); got != (WriteCounts{Records: 20, RecordsReplaced: 30, Flows: 1, FlowsReplaced: 1}) {
		t.Fatalf("second import: %+v", got)
	}
	if n, _ := s.Count(ctx); n != 50 {
		t.Fatalf("%d records stored, want 50", n)
	}
}
