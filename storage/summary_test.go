package storage

import (
	"context"
	"testing"
)

func TestBoundsAreTheOldestAndNewestRecords(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	if f, l, err := s.Bounds(ctx); err != nil || !f.IsZero() || !l.IsZero() {
		t.Fatalf("empty store: %v %v %v", f, l, err)
	}
	recs := synthN(0, 5)
	mustPut(t, s, recs)
	f, l, err := s.Bounds(ctx)
	if err != nil || !f.Equal(recs[0].Timestamp) || !l.Equal(recs[4].Timestamp) {
		t.Fatalf("Bounds = %v %v %v; want %v %v", f, l, err, recs[0].Timestamp, recs[4].Timestamp)
	}
}
