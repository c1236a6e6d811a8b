package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Query selects records for Store.Query.
type Query struct {
	// Filter restricts the records; the zero Filter matches all.
	Filter Filter
	// Match, when set, further restricts the records: it is evaluated on
	// each record that passes Filter (a KFL program from storage/kfl, for
	// instance), and its IndexTerms narrow the scan the way Filter's
	// equality terms do.
	Match Matcher
	// Since (inclusive) and Until (exclusive) bound the record Timestamp;
	// a zero time leaves that side open.
	Since, Until time.Time
	// Limit caps the page size; 0 returns every match in one page.
	Limit int
	// Cursor continues from a previous Page.Next. The other fields must be
	// the same as in the query that produced it.
	Cursor string
	// Newest lists newest first; the default is oldest first.
	Newest bool
	// WithBodies includes Request and Response bodies; by default they are
	// left empty (headers, sizes and truncation flags are kept), which
	// spares reading them.
	WithBodies bool
	// SizesOnly leaves out the messages' headers and fields too, keeping
	// their sizes, truncation flags and whether they exist: for callers
	// that count calls and bytes (the statistics rollups), to whom
	// decoding the rest was most of a scan's cost.
	SizesOnly bool
}

// Page is one page of Query results.
type Page struct {
	Records []*sdk.Record
	// Next is the cursor for the following page, "" when there is none.
	Next string
}

// plan is how Query walks the keys: the primary family, or the index
// entries with the tests each must pass before its record is read. Both
// families' keys end in time-ordered ids.
type plan struct {
	prefix  []byte
	primary bool
	tests   []indexTest
}

// indexTest is one equality an index entry is tested against.
type indexTest struct {
	kind IndexKind
	str  string // protocol lower-cased, or an address as appendAddr encodes it
	num  int
}

// match reports whether e passes t.
func (t indexTest) match(e *indexEntry) bool {
	switch t.kind {
	case IndexProtocol:
		return string(e.protocol) == t.str
	case IndexStatus:
		return e.status == int64(t.num)
	case IndexFailed:
		return e.flags&idxFailed != 0
	case IndexSrcIP:
		return e.flags&idxHasSrc != 0 && string(e.src) == t.str
	case IndexDstIP:
		return e.flags&idxHasDst != 0 && string(e.dst) == t.str
	case IndexDstIPPort:
		return e.flags&idxHasDst != 0 && string(e.dst) == t.str && int(e.dstPort) == t.num
	}
	return true
}

// Query returns the records matching q in time order, one page at a time.
func (s *Store) Query(ctx context.Context, q Query) (Page, error) {
	var cursor *rawID
	if q.Cursor != "" {
		id, err := parseID(q.Cursor)
		if err != nil {
			return Page{}, fmt.Errorf("storage: query: %w: %w", ErrBadCursor, err)
		}
		cursor = &id
	}
	var page Page
	err := s.db.View(func(txn *badger.Txn) error {
		p := s.choosePlan(q)
		var last *sdk.Record
		return s.walk(ctx, txn, p, q, cursor, func(id rawID, rec *sdk.Record) (bool, error) {
			if q.Limit > 0 && len(page.Records) == q.Limit {
				// One more match exists: the page is full and not the last.
				page.Next = last.ID
				return false, nil
			}
			if q.WithBodies && !matcherReads(q, ReadsBodies) {
				if err := s.attachBodies(txn, id, rec); err != nil {
					return false, err
				}
			}
			page.Records = append(page.Records, rec)
			last = rec
			return true, nil
		})
	})
	if err != nil {
		return Page{}, fmt.Errorf("storage: query %q: %w", describe(q), err)
	}
	return page, nil
}

// describe renders q's filters for error messages.
func describe(q Query) string {
	switch {
	case q.Match == nil:
		return q.Filter.String()
	case q.Filter.Empty():
		return q.Match.String()
	}
	return q.Filter.String() + " && " + q.Match.String()
}

// matcherReads reports whether q's Matcher reads part p of a record.
func matcherReads(q Query, p RecordParts) bool {
	return q.Match != nil && q.Match.Reads()&p != 0
}

// matcherTests lists the index tests a Matcher's index terms imply.
func matcherTests(m Matcher) []indexTest {
	if m == nil {
		return nil
	}
	var out []indexTest
	for _, t := range m.IndexTerms() {
		switch t.Kind {
		case IndexDstIPPort:
			if t.Num >= 0 && t.Num <= 0xFFFF {
				out = append(out, indexTest{kind: t.Kind, str: string(appendAddr(nil, t.Str)), num: t.Num})
			}
		case IndexSrcIP, IndexDstIP:
			out = append(out, indexTest{kind: t.Kind, str: string(appendAddr(nil, t.Str))})
		case IndexFailed:
			out = append(out, indexTest{kind: t.Kind})
		case IndexStatus:
			out = append(out, indexTest{kind: t.Kind, num: t.Num})
		case IndexProtocol:
			out = append(out, indexTest{kind: t.Kind, str: strings.ToLower(t.Str)})
		}
	}
	return out
}

// filterTests lists the index tests the filter's equality terms imply.
func filterTests(f Filter) []indexTest {
	var out []indexTest
	for _, t := range f.terms {
		switch {
		case t.field == fDst && t.op == opEq && t.has:
			out = append(out, indexTest{kind: IndexDstIPPort, str: string(appendAddr(nil, t.ip)), num: int(t.port)})
		case t.field == fSrc && t.op == opEq:
			out = append(out, indexTest{kind: IndexSrcIP, str: string(appendAddr(nil, t.ip))})
		case t.field == fDst && t.op == opEq:
			out = append(out, indexTest{kind: IndexDstIP, str: string(appendAddr(nil, t.ip))})
		case t.field == fFailed && (t.op == opEq) == t.bool:
			out = append(out, indexTest{kind: IndexFailed})
		case t.field == fStatus && t.op == opEq:
			out = append(out, indexTest{kind: IndexStatus, num: int(t.num)})
		case t.field == fProtocol && t.op == opEq:
			out = append(out, indexTest{kind: IndexProtocol, str: strings.ToLower(t.str)})
		}
	}
	return out
}

// choosePlan walks the index entries when q has equality terms they can
// test, testing all of them on each entry, and the records themselves
// otherwise.
func (s *Store) choosePlan(q Query) plan {
	tests := append(filterTests(q.Filter), matcherTests(q.Match)...)
	if len(tests) == 0 {
		return plan{prefix: []byte{prefixRecord}, primary: true}
	}
	return plan{prefix: []byte{prefixIndex}, tests: tests}
}

// bounds returns the seek keys for the time range under prefix.
func bounds(prefix []byte, q Query) (lo, hi []byte) {
	lo = append(bytes.Clone(prefix), make([]byte, idLen)...)
	if !q.Since.IsZero() {
		id := makeRawID(q.Since, 0)
		lo = append(bytes.Clone(prefix), id[:]...)
	}
	hi = append(bytes.Clone(prefix), bytes.Repeat([]byte{0xFF}, idLen)...)
	if !q.Until.IsZero() {
		id := makeRawID(q.Until, 0)
		hi = append(bytes.Clone(prefix), id[:]...)
	}
	return lo, hi
}

// walkKeys visits the keys under prefix in q's time range and direction,
// starting after cursor, until fn returns false.
func (s *Store) walkKeys(ctx context.Context, txn *badger.Txn, prefix []byte, q Query, cursor *rawID, values bool, fn func(rawID, *badger.Item) (bool, error)) error {
	o := badger.DefaultIteratorOptions
	o.PrefetchValues = values
	o.Reverse = q.Newest
	o.Prefix = prefix
	it := txn.NewIterator(o)
	defer it.Close()

	lo, hi := bounds(prefix, q)
	var sinceN, untilN uint64
	if !q.Since.IsZero() {
		sinceN = idNanos(q.Since)
	}
	hasUntil := !q.Until.IsZero()
	if hasUntil {
		untilN = idNanos(q.Until)
	}
	start := lo
	if q.Newest {
		start = hi
	}
	if cursor != nil {
		start = append(bytes.Clone(prefix), cursor[:]...)
	}
	n := 0
	for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
		if n++; n&255 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		item := it.Item()
		k := item.Key()
		if len(k) != len(prefix)+idLen {
			continue // not a key of this family
		}
		id, _ := idFromKey(k)
		if cursor != nil && id == *cursor {
			continue
		}
		t := id.nanos()
		if !q.Newest && hasUntil && t >= untilN || q.Newest && t < sinceN {
			break
		}
		if hasUntil && t >= untilN || t < sinceN {
			continue // only before the first in-range key when a cursor was given
		}
		more, err := fn(id, item)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// walk decodes the records the plan yields, filters them and hands the
// matches to fn.
func (s *Store) walk(ctx context.Context, txn *badger.Txn, p plan, q Query, cursor *rawID, fn func(rawID, *sdk.Record) (bool, error)) error {
	return s.walkKeys(ctx, txn, p.prefix, q, cursor, p.primary, func(id rawID, item *badger.Item) (bool, error) {
		if !p.primary {
			if len(p.tests) > 0 {
				pass := true
				err := item.Value(func(v []byte) error {
					var e indexEntry
					if decodeIndexValue(v, &e) != nil {
						return nil // the filters decide on the record itself
					}
					for _, t := range p.tests {
						if !t.match(&e) {
							pass = false
							return nil
						}
					}
					return nil
				})
				if err != nil {
					return false, fmt.Errorf("index entry %s: %w", id, err)
				}
				if !pass {
					return true, nil
				}
			}
			var err error
			if item, err = txn.Get(recordKey(id)); errors.Is(err, badger.ErrKeyNotFound) {
				return true, nil // index entry of a record being deleted
			} else if err != nil {
				return false, err
			}
		}
		var rec *sdk.Record
		err := item.Value(func(v []byte) error {
			var err error
			rec, err = s.decodeMatching(v, id, q)
			return err
		})
		if err != nil {
			return false, fmt.Errorf("record %s: %w", id, err)
		}
		if rec == nil {
			return true, nil
		}
		if q.Match != nil && !s.matchedInHead(q) {
			bodies := matcherReads(q, ReadsBodies)
			if bodies {
				if err := s.attachBodies(txn, id, rec); err != nil {
					return false, err
				}
			}
			// An evaluation error (a missing map key, say) leaves the
			// record out, as a false result would.
			if ok, err := q.Match.Match(rec); err != nil || !ok {
				return true, nil
			}
			if bodies && !q.WithBodies {
				dropBodies(rec)
			}
		}
		return fn(id, rec)
	})
}

// matchedInHead reports whether decodeMatching evaluates q.Match on the
// record's head, sparing the messages of the records it rejects.
func (s *Store) matchedInHead(q Query) bool {
	return q.Match != nil && q.Match.Reads() == 0 && s.codec.head != nil
}

// dropBodies empties the bodies a Matcher needed but the caller did not ask
// for, keeping Query's promise that they come only with WithBodies.
func dropBodies(rec *sdk.Record) {
	if rec.Request != nil {
		rec.Request.Body = ""
	}
	if rec.Response != nil {
		rec.Response.Body = ""
	}
}

// decodeMatching decodes a stored record if it passes q.Filter, nil
// otherwise. Messages are most of the decoding work, so they are decoded
// only for records the filter keeps; a Matcher that reads no message is
// evaluated by the caller on the same record after that.
func (s *Store) decodeMatching(v []byte, id rawID, q Query) (*sdk.Record, error) {
	v, _, err := splitStored(v)
	if err != nil {
		return nil, err
	}
	f := q.Filter
	if s.codec.head == nil {
		rec, err := s.codec.decode(v)
		if err != nil || !f.Match(rec) {
			return nil, err
		}
		rec.ID = id.String()
		s.resolveRecord(rec)
		return rec, nil
	}
	rec, rest, err := s.codec.head(v)
	if err != nil || !f.Match(rec) {
		return nil, err
	}
	rec.ID = id.String()
	s.resolveRecord(rec)
	if s.matchedInHead(q) {
		// Test the head-only Matcher before paying for the messages.
		if ok, err := q.Match.Match(rec); err != nil || !ok {
			return nil, nil
		}
	}
	// Messages without headers and fields only when nothing evaluated
	// later reads them.
	if err := rest(q.SizesOnly && (q.Match == nil || s.matchedInHead(q))); err != nil {
		return nil, err
	}
	return rec, nil
}
