package storage

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// TestStartWriteback: starting the value log's writeback while records
// are still being stored, and again before closing, changes nothing they
// read back as, before and after the store is opened again.
func TestStartWriteback(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir, Options{})
	var all [][]*sdk.Record
	for i := range 3 {
		batch := synthN(i*500, 500)
		mustPut(t, s, batch)
		s.StartWriteback()
		all = append(all, batch)
	}
	holdsExactly(t, s, all...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDir(t, dir, Options{})
	defer s.Close()
	holdsExactly(t, s, all...)
	openMem(t).StartWriteback() // no value log: nothing to do
}
