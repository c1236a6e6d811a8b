package storage

import (
	"context"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// TestStartWriteback: starting the value log's writeback while records
// are still being stored, and again before closing, changes nothing they
// read back as, before and after the store is opened again.
func TestStartWriteback(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openDir(t, dir, Options{})
	var all [][]*sdk.Record
	for i := range 3 {
		batch := synthN(i*500, 500)
		mustPut(t, s, batch)
		s.StartWriteback()
		all = append(all, batch)
	}
	check := func(s *Store) {
		t.Helper()
		n := 0
		for _, b := range all {
			for _, r := range b {
				got, err := s.Get(ctx, r.ID)
				if err != nil {
					t.Fatalf("get %s: %v", r.ID, err)
				}
				sameRecord(t, r, got)
				n++
			}
		}
		if c, err := s.Count(ctx); err != nil || c != n {
			t.Fatalf("count %d (%v), want %d", c, err, n)
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDir(t, dir, Options{})
	defer s.Close()
	check(s)
	openMem(t).StartWriteback() // no value log: nothing to do
}
