package storage

import (
	"errors"

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
type batchWriter struct {
	db  *badger.DB
	txn *badger.Txn
}

func newBatchWriter(db *badger.DB) *batchWriter {
	return &batchWriter{db: db, txn: db.NewTransaction(true)}
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
	return nil
}

func (w *batchWriter) add(ops []op) error {
	err := w.apply(ops)
	if !errors.Is(err, badger.ErrTxnTooBig) {
		return err
	}
	if err := w.txn.Commit(); err != nil {
		return err
	}
	w.txn = w.db.NewTransaction(true)
	return w.apply(ops)
}

func (w *batchWriter) commit() error {
	err := w.txn.Commit()
	w.txn = nil
	return err
}

// discard drops uncommitted ops; harmless after commit.
func (w *batchWriter) discard() {
	if w.txn != nil {
		w.txn.Discard()
	}
}
