package storage

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Resolver names the endpoints of what a store returns: it fills an
// endpoint's Kubernetes context (Name, Namespace, sdk.K8s) from what held
// its address at time at. cgroupID is the socket's cgroup when live capture
// knew it, 0 otherwise. Package kube implements it from a history kept with
// the store (PutAux); storage knows nothing of Kubernetes.
//
// Resolution happens when records and flows are read, not when they are
// stored, so that a record captured before the cluster's state reached the
// history (an informer that had not synced, a kubeconfig given only at a
// later import) still resolves once it has (RATIONALE.md).
type Resolver interface {
	ResolveEndpoint(e *sdk.Endpoint, cgroupID uint64, at time.Time)
	// Generation changes whenever the history changes in a way that can
	// rename records already stored; values derived from records
	// (GetDerived) are kept per generation.
	Generation() uint64
}

type resolverBox struct{ r Resolver }

// SetResolver makes every record, summary and flow the store returns from
// now on carry the endpoint names r gives; nil removes it.
func (s *Store) SetResolver(r Resolver) {
	if r == nil {
		s.resolver.Store(nil)
		return
	}
	s.resolver.Store(&resolverBox{r})
}

func (s *Store) currentResolver() Resolver {
	if b := s.resolver.Load(); b != nil {
		return b.r
	}
	return nil
}

// resolveRecord names both ends of rec, a no-op without a resolver.
func (s *Store) resolveRecord(rec *sdk.Record) {
	if r := s.currentResolver(); r != nil && rec != nil {
		r.ResolveEndpoint(&rec.Src, cgroupOf(&rec.Src), rec.Timestamp)
		r.ResolveEndpoint(&rec.Dst, cgroupOf(&rec.Dst), rec.Timestamp)
	}
}

// resolveFlow names both ends of f at the flow's start.
func (s *Store) resolveFlow(f *sdk.Flow) {
	if r := s.currentResolver(); r != nil && f != nil {
		r.ResolveEndpoint(&f.Client, cgroupOf(&f.Client), f.Start)
		r.ResolveEndpoint(&f.Server, cgroupOf(&f.Server), f.Start)
	}
}

// cgroupOf is the cgroup of the socket behind an end, which live capture
// learns from the kernel (0 for a remote end or an imported capture): it
// tells apart pods that share an address, such as the node's.
func cgroupOf(e *sdk.Endpoint) uint64 {
	if e.Process != nil {
		return e.Process.CgroupID
	}
	return 0
}

// derivedName keeps derived values apart per resolver generation, since
// they may hold workload names.
func (s *Store) derivedName(name string) string {
	if r := s.currentResolver(); r != nil {
		return fmt.Sprintf("%s@g%d", name, r.Generation())
	}
	return name
}

// Aux entries: 'k' key -> value, caller-owned data kept with the records
// (the workload history of package kube). Snapshots copy them whole.
const prefixAux = 'k'

func auxKey(key string) []byte { return append([]byte{prefixAux}, key...) }

// PutAux stores val under key in the caller-owned key space, replacing any
// previous value. Keys sort bytewise, so a caller can lay out ranges.
func (s *Store) PutAux(ctx context.Context, key string, val []byte) error {
	return s.auxBatch(ctx, "put", func(w *badger.WriteBatch) error {
		return w.Set(auxKey(key), bytes.Clone(val))
	})
}

// PutAuxBatch stores several entries in one write.
func (s *Store) PutAuxBatch(ctx context.Context, entries map[string][]byte) error {
	return s.auxBatch(ctx, "put", func(w *badger.WriteBatch) error {
		for k, v := range entries {
			if err := w.Set(auxKey(k), bytes.Clone(v)); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteAux removes key from the caller-owned key space.
func (s *Store) DeleteAux(ctx context.Context, key string) error {
	return s.auxBatch(ctx, "delete", func(w *badger.WriteBatch) error { return w.Delete(auxKey(key)) })
}

// DeleteAuxBatch removes several keys in one write; absent keys are no
// error.
func (s *Store) DeleteAuxBatch(ctx context.Context, keys []string) error {
	return s.auxBatch(ctx, "delete", func(w *badger.WriteBatch) error {
		for _, k := range keys {
			if err := w.Delete(auxKey(k)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) auxBatch(ctx context.Context, what string, fn func(*badger.WriteBatch) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: %s aux: %w", what, err)
	}
	if s.db.IsClosed() {
		return fmt.Errorf("storage: %s aux: %w", what, ErrClosed)
	}
	w := s.db.NewWriteBatch()
	defer w.Cancel()
	if err := fn(w); err != nil {
		return fmt.Errorf("storage: %s aux: %w", what, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("storage: %s aux: %w", what, err)
	}
	return nil
}

// ScanAux calls fn for every aux entry whose key starts with prefix, in key
// order; fn must not keep val.
func (s *Store) ScanAux(ctx context.Context, prefix string, fn func(key string, val []byte) error) error {
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = auxKey(prefix)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := string(it.Item().Key()[1:])
			if err := it.Item().Value(func(v []byte) error { return fn(k, v) }); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: scan aux %q: %w", prefix, err)
	}
	return nil
}

// CopyAux copies every aux entry of s into dst (a snapshot being built).
func (s *Store) CopyAux(ctx context.Context, dst *Store) error {
	batch := map[string][]byte{}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := dst.PutAuxBatch(ctx, batch)
		clear(batch)
		return err
	}
	err := s.ScanAux(ctx, "", func(k string, v []byte) error {
		batch[strings.Clone(k)] = bytes.Clone(v)
		if len(batch) >= 1000 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}
