package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Defaults for zero Options fields.
const (
	DefaultRetentionEvery = time.Minute
	DefaultMaxBodyBytes   = 64 << 10
)

// Options configures Open.
type Options struct {
	// Dir is the badger directory, created if missing. Ignored when
	// InMemory is set.
	Dir string
	// OnOpen, when set, is called on the store once open, before Open
	// returns (e.g. to give it the Resolver of the workload history it
	// holds); an error closes the store and fails Open.
	OnOpen func(ctx context.Context, st *Store) error
	// InMemory keeps everything in memory, for tests.
	InMemory bool
	// RetentionAge drops records whose Timestamp is older than this,
	// measured against time.Now(); 0 keeps them forever.
	RetentionAge time.Duration
	// RetentionBytes bounds the store's on-disk size; when it is exceeded the
	// oldest records are deleted first. 0 means unlimited. It has no effect
	// on an in-memory store.
	RetentionBytes int64
	// RetentionEvery is the background enforcement period, default 1m.
	RetentionEvery time.Duration
	// MaxBodyBytes caps each stored body preview, default 64 KiB; longer
	// bodies are cut and BodyTruncated set.
	MaxBodyBytes int
	// Logger receives the store's own logs and badger's warnings; default
	// slog.Default().
	Logger *slog.Logger
	// Small sizes badger's memory for a store that is written once and
	// then mostly read (a snapshot): 8 MiB memtables and block cache
	// instead of 64 MiB, so that many can be open at once.
	Small bool
	// ReleaseTables also takes badger's tables out of the resident set
	// (resident.go): for a store that runs for hours (tap), whose tables
	// otherwise stay resident whole from the moment they are written,
	// at the price of reading them from disk again.
	ReleaseTables bool
}

// Store is a record store. Its methods are safe for concurrent use.
type Store struct {
	db      *badger.DB
	opts    Options
	log     *slog.Logger
	ids     *idGen
	codec   valueCodec
	dirDesc string // for error messages

	// retention serialises EnforceRetention between the background loop and
	// direct callers, so two passes never delete the same records twice.
	retention sync.Mutex
	// epochs stamps the minutes writes change (epochs.go).
	epochs epochState

	// writes counts what Put and PutFlows stored, new and replaced.
	writes writeCounters
	// putChunks holds the chunks Put cuts keys and values from, for the
	// next Put once badger has written them (*[putChunk]byte).
	putChunks sync.Pool

	// resolver names endpoints as they are read (resolve.go).
	resolver atomic.Pointer[resolverBox]

	stop     context.CancelFunc
	loopDone chan struct{}

	// realDir is Dir, absolute with symlinks resolved, as /proc/self/maps
	// names the store's files; "" for an in-memory store. vlogMu is held
	// while value-log files may be unmapped (value-log GC, Close) and
	// while their pages are released (resident.go).
	realDir     string
	vlogMu      sync.Mutex
	releaseStop context.CancelFunc
	// tablesKept is set when the kernel cannot release tables' pages.
	tablesKept  atomic.Bool
	releaseDone chan struct{}
	closeOnce   sync.Once
	closeErr    error
}

// Open opens (or creates) the store described by opts and starts background
// retention when RetentionAge or RetentionBytes is set.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.RetentionEvery <= 0 {
		opts.RetentionEvery = DefaultRetentionEvery
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger.With("component", "storage")
	desc := "in-memory store"
	if !opts.InMemory {
		if opts.Dir == "" {
			return nil, fmt.Errorf("storage: open: no directory given")
		}
		desc = fmt.Sprintf("store %q", opts.Dir)
		if err := checkDir(opts.Dir); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", desc, err)
	}
	ids, err := newIDGen()
	if err != nil {
		return nil, err
	}
	db, err := badger.Open(badgerOptions(opts, log))
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", desc, err)
	}
	s := &Store{db: db, opts: opts, log: log, ids: ids, codec: wireCodec, dirDesc: desc}
	if err := s.openFormat(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.openEpochs(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if !opts.InMemory {
		if abs, err := filepath.Abs(opts.Dir); err == nil {
			if real, err := filepath.EvalSymlinks(abs); err == nil {
				s.realDir = real
			}
		}
		relCtx, cancel := context.WithCancel(context.Background())
		s.releaseStop, s.releaseDone = cancel, make(chan struct{})
		go s.releaseLoop(relCtx, s.releaseDone)
		// Best effort: the record only improves what waiting readers say.
		if err := writeHolder(opts.Dir); err != nil {
			log.Debug("recording the store's holder", "err", err)
		}
	}
	if opts.RetentionAge > 0 || opts.RetentionBytes > 0 {
		loopCtx, cancel := context.WithCancel(context.Background())
		s.stop = cancel
		s.loopDone = make(chan struct{})
		go s.retentionLoop(loopCtx)
	}
	if opts.OnOpen != nil {
		if err := opts.OnOpen(ctx, s); err != nil {
			s.Close()
			return nil, fmt.Errorf("storage: open %s: %w", desc, err)
		}
	}
	return s, nil
}

// badgerOptions picks settings for a write-heavy, append-mostly workload in
// bounded memory.
func badgerOptions(opts Options, log *slog.Logger) badger.Options {
	bo := badger.DefaultOptions(opts.Dir)
	if opts.InMemory {
		bo = badger.DefaultOptions("").WithInMemory(true)
	}
	// Each memtable is an arena allocated up front (plus its write-ahead
	// log), and up to NumMemtables of them live at once: 16 MiB instead of
	// 64 took 100 MB off an import's peak RSS for ~7% more CPU (more, smaller
	// level-0 tables to compact). The block cache fills only as queries read.
	// On disk a memtable holds keys and value pointers only (values above
	// the threshold below go to the value log), about a quarter of what it
	// held with summaries inline, so 8 MiB holds as many records as 32 did
	// (BENCHMARKS.md: ~15 MB less peak RSS, CPU unchanged within noise).
	memtable := int64(8 << 20)
	if opts.InMemory {
		memtable = 16 << 20
	}
	cache := int64(64 << 20)
	if opts.Small {
		memtable, cache = 8<<20, 8<<20
	}
	// Record summaries (~1 KiB) and bodies go to the value log; the LSM
	// holds keys, index entries and small values only. Its tables are then
	// a fraction of the data, so level-0 flushes and compaction rewrite
	// little (most of a million-record import's compaction was rewriting
	// summaries), and a time-ordered scan reads values from the
	// append-only log in the order they were written. 64 bytes rather
	// than 256 sends small-message bodies (a 100-byte JSON reply) there
	// too, while index entries (~25 bytes with IPv4 endpoints, ~50 with
	// IPv6 ones: addresses are kept in binary) stay in the tables, where
	// an index walk reads them without touching the log (only an entry
	// with long non-address endpoint text could exceed it: slower, still
	// right). At a
	// million small exchanges the tables went from 229 to ~130 MB; they
	// are mapped and resident, and compaction rewrites them (BENCHMARKS.md).
	// An in-memory store has no value log, and badger refuses values above
	// the threshold there, so it keeps everything in its tables.
	threshold := int64(64)
	if opts.InMemory {
		threshold = 1 << 20
	}
	return bo.
		WithLogger(badgerLogger{log}).
		WithLoggingLevel(badger.WARNING).
		// A Put returns once its entries are in the memory-mapped write-ahead
		// log. SIGKILL (the way an import usually dies) leaves the OS page
		// cache, and so those pages, intact, so every returned Put survives
		// without an fsync per batch; only a power cut or kernel crash can
		// lose the last moments, which is acceptable for captured traffic.
		WithSyncWrites(false).
		WithMemTableSize(memtable).
		WithNumMemtables(3).
		WithNumLevelZeroTables(3).
		WithNumLevelZeroTablesStall(8).
		WithBlockCacheSize(cache).
		WithNumVersionsToKeep(1).
		WithValueThreshold(threshold).
		// The file being appended to stays resident whole until badger
		// moves on to the next (finished ones are released, resident.go),
		// so smaller files mean less resident memory; 32 MiB files are
		// still few (about 30 per million records).
		WithValueLogFileSize(32 << 20).
		// Snappy saved disk but cost memory more than CPU: a table builder
		// starts with an arena of twice the table's size (32 MiB for a
		// 16 MiB memtable's level-0 table) and keeps each compressed
		// block beside its original, which made the arena double to 64
		// MiB chunks, and badger keeps up to eight such arenas for reuse.
		// A million-record import held 250 MB of them (Go heap, so live
		// for the collector); uncompressed, arenas stay at their first
		// size (RATIONALE.md, BENCHMARKS.md).
		WithCompression(options.None).
		// Four compactors, badger's default, is two per core here; each
		// running one holds a table builder's arena.
		WithNumCompactors(2).
		// Keys are written once by a single logical writer per record;
		// conflict detection would only cost memory.
		WithDetectConflicts(false)
}

// checkDir refuses paths that would make badger scatter files into the
// wrong place: a regular file, or a non-empty directory without a badger
// MANIFEST.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("storage: create store directory %q: %w", dir, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage: open store %q: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("storage: open store %q: %w: it is a file, not a directory", dir, ErrNotStore)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("storage: open store %q: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		return fmt.Errorf("storage: open store %q: %w: the directory is not empty and holds no badger MANIFEST", dir, ErrNotStore)
	}
	return nil
}

// Close stops background retention and closes the database. It is safe to
// call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stop != nil {
			s.stop()
			<-s.loopDone
		}
		if s.releaseStop != nil {
			s.releaseStop()
			<-s.releaseDone
		}
		s.vlogMu.Lock()
		defer s.vlogMu.Unlock()
		if !s.opts.InMemory {
			// While the lock is still held, so that no other holder's
			// record can be there yet.
			removeHolder(s.opts.Dir)
		}
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("storage: close %s: %w", s.dirDesc, err)
		}
	})
	return s.closeErr
}

// TakesEncodedFields says that Put takes records whose fields are still
// encoded (sdk.DecodeRecordLazy): it stores the text as it is, where it
// would otherwise encode the maps to JSON that reads back the same
// (pipeline.EncodedFieldsSink).
func (s *Store) TakesEncodedFields() bool { return true }

// putTxnRecords is how many records Put commits at once: badger writes
// them (value log, memtable) on its own goroutine while Put encodes the
// next ones, instead of after Put has encoded the whole batch.
const putTxnRecords = 256

// putChunk is the size of the chunks Put cuts a batch's keys and values
// from.
const putChunk = 64 << 10

// Put stores recs in one batch, assigning an ID (from the record's
// Timestamp) to each record that has none. A record that already has an ID
// must carry one from NewID whose time part is its Timestamp; storing it
// again replaces the earlier version.
//
// The batch is committed putTxnRecords records at a time (sooner when a
// transaction reaches badger's size limit, about 15% of the memtable),
// each commit holding whole records only, badger writing one while Put
// fills the next; Put returns once all are written. A reader may see part
// of a batch before the rest, as it may see one batch before the next;
// a Put that fails (or whose ctx ends) may have stored some of its
// records, and counts none of them in Writes.
func (s *Store) Put(ctx context.Context, recs []*sdk.Record) (err error) {
	if len(recs) == 0 {
		return nil
	}
	if s.db.IsClosed() {
		return fmt.Errorf("storage: put: %w", ErrClosed)
	}
	// Validate caller-provided ids before writing anything so that a bad
	// record fails the batch instead of half of it.
	ids := make([]rawID, len(recs))
	var given []int
	for i, r := range recs {
		if r == nil {
			return fmt.Errorf("storage: put: record %d is nil", i)
		}
		if r.ID == "" {
			continue
		}
		id, err := parseID(r.ID)
		if err != nil {
			return fmt.Errorf("storage: put record %d: %w", i, err)
		}
		if id.nanos() != idNanos(r.Timestamp) {
			return fmt.Errorf("storage: put record %d: %w: id %s is for %s, but the Timestamp is %s", i, ErrBadID,
				r.ID, time.Unix(0, int64(id.nanos())).UTC().Format(time.RFC3339Nano), r.Timestamp.UTC().Format(time.RFC3339Nano))
		}
		ids[i] = id
		given = append(given, i)
	}
	// A replaced record is overwritten whole (index entry, summary and
	// bodies); which ones were stored is counted for Writes.
	stored, err := s.storedIDs(ctx, ids, given)
	if err != nil {
		return err
	}
	for i, r := range recs {
		if r.ID == "" {
			ids[i] = s.ids.newRaw(r.Timestamp)
		}
	}

	// Caches derived from the touched minutes go stale once the records
	// land: the deferred end stamps the minutes after the last commit.
	endMinutes, err := s.beginMinuteWrite(ctx, recordMinutes(recs))
	if err != nil {
		return fmt.Errorf("storage: put: %w", err)
	}
	defer func() { err = errors.Join(err, endMinutes()) }()
	// Keys and values are cut from shared chunks (arena) rather than
	// allocated two a record: badger keeps references to them until the
	// commit, never after, so once the batch is in (discard waits for
	// every commit handed to badger) its chunks serve the next Put.
	var arena []byte
	var used []*[putChunk]byte
	w := newPipelinedWriter(s.db)
	defer func() {
		w.discard()
		for _, c := range used {
			s.putChunks.Put(c)
		}
	}()
	var buf, bodies []byte
	var sc summaryScratch
	take := func(n int) []byte {
		if cap(arena)-len(arena) < n {
			if n > putChunk {
				arena = make([]byte, 0, n)
			} else {
				c, _ := s.putChunks.Get().(*[putChunk]byte)
				if c == nil {
					c = new([putChunk]byte)
				}
				used = append(used, c)
				arena = c[:0]
			}
		}
		l := len(arena)
		arena = arena[:l+n]
		return arena[l : l : l+n]
	}
	// The ops slice is reused: badger keeps the keys and values it points
	// to until commit, never the slice itself.
	ops := make([]op, 0, 2)
	for i, r := range recs {
		if i&255 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("storage: put: %w", err)
			}
		}
		if i > 0 && i%putTxnRecords == 0 {
			if err := w.cut(); err != nil {
				return fmt.Errorf("storage: put: %w", err)
			}
		}
		id := ids[i]
		summary, req, resp := splitBodies(&sc, r, s.opts.MaxBodyBytes)
		// Each value gets its own slice of the arena (buf and bodies are
		// scratch). The index entry and both keys share one; an index
		// entry longer than its room (endpoint text, not addresses)
		// moves out to a slice of its own.
		buf = s.codec.encode(buf[:0], summary)
		bodies = appendBodies(bodies[:0], req, resp)
		val := appendStored(take(1+binary.MaxVarintLen64+len(buf)+len(bodies)), buf, bodies)
		kb := take(2*(1+idLen) + 64)
		kb = append(kb, prefixIndex)
		kb = append(kb, id[:]...)
		kb = append(kb, prefixRecord)
		kb = append(kb, id[:]...)
		kb = appendIndexValue(kb, summary)
		n := 1 + idLen
		ops = ops[:0]
		ops = append(ops, op{key: kb[:n:n], val: kb[2*n : len(kb) : len(kb)]})
		ops = append(ops, op{key: kb[n : 2*n : 2*n], val: val})
		if err := w.add(ops); err != nil {
			return fmt.Errorf("storage: put: %w", err)
		}
	}
	if err := w.commit(); err != nil {
		return fmt.Errorf("storage: put %d records: %w", len(recs), err)
	}
	replaced := 0
	for i, r := range recs {
		if r.ID == "" {
			r.ID = ids[i].String()
		}
		if stored[ids[i]] {
			replaced++
		}
	}
	s.writes.records.Add(int64(len(recs) - replaced))
	s.writes.recordsReplaced.Add(int64(replaced))
	return nil
}

// storedIDs reports which of the given ids are already stored.
//
// It walks the record keys in id order with one iterator instead of a
// Get per id: a batch's ids sit close together in time (one worker's
// stretch of the capture), so after one seek the keys between them are
// few, and stepping over them costs less than looking each id up through
// every memtable and table (Gets were 4% of a small import's CPU, all of
// it on the sink's goroutine; BENCHMARKS.md). Past maxSteps keys between
// two ids (a batch spanning much stored traffic) it seeks again, so no id
// costs more than a few steps and a seek.
func (s *Store) storedIDs(ctx context.Context, ids []rawID, given []int) (map[rawID]bool, error) {
	if len(given) == 0 {
		return nil, nil
	}
	sorted := make([]rawID, len(given))
	for n, i := range given {
		sorted[n] = ids[i]
	}
	slices.SortFunc(sorted, func(a, b rawID) int { return bytes.Compare(a[:], b[:]) })
	const maxSteps = 8
	out := make(map[rawID]bool)
	err := s.db.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.PrefetchValues = false
		o.Prefix = []byte{prefixRecord}
		it := txn.NewIterator(o)
		defer it.Close()
		key := make([]byte, 1+idLen)
		key[0] = prefixRecord
		for n, id := range sorted {
			if n&255 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			copy(key[1:], id[:])
			if n == 0 {
				it.Seek(key)
			}
			for step := 0; it.Valid() && bytes.Compare(it.Item().Key(), key) < 0; step++ {
				if step == maxSteps {
					it.Seek(key)
					break
				}
				it.Next()
			}
			if !it.Valid() {
				return nil // past the last record: the rest are new
			}
			if bytes.Equal(it.Item().Key(), key) {
				out[id] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: put: look up replaced records: %w", err)
	}
	return out, nil
}

// Get returns the record with the given id, bodies included.
func (s *Store) Get(ctx context.Context, id string) (*sdk.Record, error) {
	raw, err := parseID(id)
	if err != nil {
		return nil, fmt.Errorf("storage: get: %w: %w", ErrNotFound, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: get %s: %w", id, err)
	}
	var rec *sdk.Record
	err = s.db.View(func(txn *badger.Txn) error {
		var err error
		rec, err = s.getSummary(txn, raw)
		if err != nil {
			return err
		}
		return s.attachBodies(txn, raw, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("storage: get %s: %w", id, err)
	}
	return rec, nil
}

// getSummary reads and decodes a record without its bodies.
func (s *Store) getSummary(txn *badger.Txn, id rawID) (*sdk.Record, error) {
	item, err := txn.Get(recordKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var rec *sdk.Record
	err = item.Value(func(v []byte) error {
		sum, _, err := splitStored(v)
		if err != nil {
			return err
		}
		rec, err = s.codec.decode(sum)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", id, err)
	}
	rec.ID = id.String()
	s.resolveRecord(rec)
	return rec, nil
}

// attachBodies sets rec's bodies from its stored value.
func (s *Store) attachBodies(txn *badger.Txn, id rawID, rec *sdk.Record) error {
	item, err := txn.Get(recordKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil // deleted since its summary was read
	}
	if err != nil {
		return err
	}
	return item.Value(func(v []byte) error {
		_, b, err := splitStored(v)
		if err != nil || len(b) == 0 {
			return err
		}
		req, resp, err := decodeBodies(b)
		if err != nil {
			return fmt.Errorf("record %s: %w", id, err)
		}
		if rec.Request != nil {
			rec.Request.Body = req
		}
		if rec.Response != nil {
			rec.Response.Body = resp
		}
		return nil
	})
}

// Count returns the number of stored records.
func (s *Store) Count(ctx context.Context) (int, error) {
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		return scanKeys(ctx, txn, []byte{prefixRecord}, func([]byte) error { n++; return nil })
	})
	if err != nil {
		return 0, fmt.Errorf("storage: count: %w", err)
	}
	return n, nil
}

// CountIn returns the number of stored records whose time is in [from,
// to), reading keys only. Together with the minute epochs it lets a caller
// that saw every record it stored check that a minute holds exactly those.
func (s *Store) CountIn(ctx context.Context, from, to time.Time) (int, error) {
	n := 0
	err := s.recordKeysIn(ctx, from, to, func([]byte) bool { n++; return true })
	if err != nil {
		return 0, fmt.Errorf("storage: count records in [%s, %s): %w", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

// scanValues calls fn with the value of each key under prefix; for small
// values kept in the LSM (index entries), which need no value-log read.
func scanValues(ctx context.Context, txn *badger.Txn, prefix []byte, fn func(v []byte) error) error {
	o := badger.DefaultIteratorOptions
	o.PrefetchValues = false
	o.Prefix = prefix
	it := txn.NewIterator(o)
	defer it.Close()
	n := 0
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		if n++; n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := it.Item().Value(fn); err != nil {
			return err
		}
	}
	return nil
}

// scanKeys calls fn with each key under prefix, without reading values.
func scanKeys(ctx context.Context, txn *badger.Txn, prefix []byte, fn func(k []byte) error) error {
	o := badger.DefaultIteratorOptions
	o.PrefetchValues = false
	o.Prefix = prefix
	it := txn.NewIterator(o)
	defer it.Close()
	n := 0
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		if n++; n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(it.Item().Key()); err != nil {
			return err
		}
	}
	return nil
}
