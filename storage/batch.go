package storage

import (
	"errors"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// op is one key write or delete.
type op struct {
	key []byte
	val []byte
	del bool
}

// batchWriter applies groups of ops (one group per record) in as few badger
// transactions as possible. A group never straddles two commits: when a
// transaction fills up mid-group, the full transaction is committed and the
// whole group is replayed in the next one. Groups order their ops so that a
// committed prefix of a group is harmless (the primary key comes last when
// writing and when deleting), and the replay makes the group whole again.
//
// A pipelined writer (newPipelinedWriter) hands each full transaction to
// badger without waiting for it to be written, so that the caller encodes
// the next records while badger's writer goroutine writes the last ones;
// commit (and discard) wait for every transaction handed over. Badger
// writes transactions in the order they were committed, so a pipelined
// writer's commits land in order, as a waiting one's do.
type batchWriter struct {
	db  *badger.DB
	txn *badger.Txn
	ops int // ops in txn

	pipelined bool
	pending   sync.WaitGroup
	mu        sync.Mutex
	err       error // the first failed background commit's
}

func newBatchWriter(db *badger.DB) *batchWriter {
	return &batchWriter{db: db, txn: db.NewTransaction(true)}
}

// newPipelinedWriter is a batchWriter whose full transactions are written
// in the background (see batchWriter).
func newPipelinedWriter(db *badger.DB) *batchWriter {
	w := newBatchWriter(db)
	w.pipelined = true
	return w
}

func (w *batchWriter) apply(ops []op) error {
	for _, o := range ops {
		var err error
		if o.del {
			err = w.txn.Delete(o.key)
		} else {
			err = w.txn.Set(o.key, o.val)
		}
		if err != nil {
			return err
		}
	}
	w.ops += len(ops)
	return nil
}

func (w *batchWriter) add(ops []op) error {
	err := w.apply(ops)
	if !errors.Is(err, badger.ErrTxnTooBig) {
		return err
	}
	if err := w.send(); err != nil {
		return err
	}
	return w.apply(ops)
}

// cut ends the current transaction after the groups added so far, as a
// full one would be: a pipelined writer's caller cuts every few hundred
// records, so that badger writes them while the next are encoded.
func (w *batchWriter) cut() error {
	if w.ops == 0 {
		return nil
	}
	return w.send()
}

// send commits the current transaction (in the background for a
// pipelined writer) and starts the next.
func (w *batchWriter) send() error {
	// The next transaction is begun before this one is committed: badger
	// begins a transaction by waiting until every commit before it is
	// written, so begun after, it would wait for this one, and nothing
	// would overlap. Begun before, it waits only for the commit before
	// this one (none for a waiting writer): badger writes one
	// transaction while the caller fills the next. Transactions here
	// only write, and conflicts are not detected, so their read time
	// matters to nothing.
	txn := w.txn
	w.txn, w.ops = w.db.NewTransaction(true), 0
	if !w.pipelined {
		return txn.Commit()
	}
	w.pending.Add(1)
	txn.CommitWith(func(err error) {
		if err != nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = err
			}
			w.mu.Unlock()
		}
		w.pending.Done()
	})
	return w.backgroundErr()
}

func (w *batchWriter) backgroundErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// commit commits what is left and, for a pipelined writer, waits until
// every transaction handed over is written; it returns the first error.
func (w *batchWriter) commit() error {
	err := w.txn.Commit()
	w.txn = nil
	w.pending.Wait()
	return errors.Join(w.backgroundErr(), err)
}

// discard drops uncommitted ops and waits for the transactions already
// handed over, so that nothing is written after the caller returns;
// harmless after commit.
func (w *batchWriter) discard() {
	if w.txn != nil {
		w.txn.Discard()
		w.txn = nil
	}
	w.pending.Wait()
}
