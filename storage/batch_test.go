package storage

import (
	"fmt"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// TestPutAcrossTransactions: a batch is committed putTxnRecords records at
// a time, badger writing one transaction while Put fills the next, and
// its keys and values are cut from chunks that later Puts reuse. Every
// record of every size of batch reads back whole once Put returns, after
// later batches have reused the chunks, and storing a batch again counts
// every record as replaced.
func TestPutAcrossTransactions(t *testing.T) {
	sizes := []int{1, putTxnRecords - 1, putTxnRecords, putTxnRecords + 1, 3*putTxnRecords + 5}
	for _, disk := range []bool{false, true} {
		t.Run(fmt.Sprintf("disk=%v", disk), func(t *testing.T) {
			var s *Store
			if disk {
				s = openDir(t, t.TempDir(), Options{})
				defer s.Close()
			} else {
				s = openMem(t)
			}
			var stored [][]*sdk.Record
			from := 0
			for _, n := range sizes {
				batch := synthN(from, n)
				from += n
				before := s.Writes()
				mustPut(t, s, batch)
				if got := s.Writes().Sub(before); got.Records != int64(n) || got.RecordsReplaced != 0 {
					t.Fatalf("batch of %d: writes %+v, want %d new", n, got, n)
				}
				// Every record so far, whole: the chunks of the
				// earlier batches were reused by this one.
				stored = append(stored, batch)
				holdsExactly(t, s, stored...)
			}
			// The same records again: every one replaced, none added.
			for _, recs := range stored {
				before := s.Writes()
				mustPut(t, s, recs)
				if got := s.Writes().Sub(before); got.Records != 0 || got.RecordsReplaced != int64(len(recs)) {
					t.Fatalf("batch of %d stored again: writes %+v, want %d replaced", len(recs), got, len(recs))
				}
			}
			holdsExactly(t, s, stored...)
		})
	}
}
