package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// v1IndexKeys is format 1's indexKeys, as it was (keys.go before format
// 2): one 'x' key per indexed field, kind then uvarint(len) value then id.
func v1IndexKeys(rec *sdk.Record, id rawID) [][]byte {
	var keys [][]byte
	add := func(kind byte, value []byte) {
		k := []byte{prefixIndexV1, kind}
		k = binary.AppendUvarint(k, uint64(len(value)))
		k = append(k, value...)
		keys = append(keys, append(k, id[:]...))
	}
	add('p', []byte(strings.ToLower(rec.Protocol)))
	add('s', binary.BigEndian.AppendUint64(nil, uint64(int64(rec.Status))))
	if rec.Failed {
		add('f', nil)
	}
	if rec.Src.IP != "" {
		add('S', []byte(canonIP(rec.Src.IP)))
	}
	if rec.Dst.IP != "" {
		dst := canonIP(rec.Dst.IP)
		add('D', []byte(dst))
		add('P', binary.BigEndian.AppendUint16([]byte(dst), rec.Dst.Port))
	}
	return keys
}

// toV2Layout rewrites recs, as stored, into format 2's layout: the
// summary alone under the record's key, the bodies under a 'b' key of
// their own when there are any. Only the records given are rewritten.
func toV2Layout(t *testing.T, s *Store, recs []*sdk.Record) {
	t.Helper()
	w := newBatchWriter(s.db)
	defer w.discard()
	err := s.db.View(func(txn *badger.Txn) error {
		for _, r := range recs {
			id, err := parseID(r.ID)
			if err != nil {
				return err
			}
			item, err := txn.Get(recordKey(id))
			if err != nil {
				return err
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			sum, bodies, err := splitStored(v)
			if err != nil || len(v) == 0 || v[0] != storedTag {
				return fmt.Errorf("record %s is not in format 3: %v", r.ID, err)
			}
			ops := []op{{key: recordKey(id), val: sum}}
			if len(bodies) > 0 {
				ops = append(ops, op{key: append([]byte{prefixBodyV2}, id[:]...), val: bodies})
			}
			if err := w.add(ops); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = w.commit()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// writeV2Store writes recs into a new store at dir in format 2.
func writeV2Store(t *testing.T, dir string, recs []*sdk.Record) {
	t.Helper()
	s := openDir(t, dir, Options{})
	defer s.Close()
	mustPut(t, s, recs)
	toV2Layout(t, s, recs)
	if err := s.setVersion(2); err != nil {
		t.Fatal(err)
	}
}

// writeV1Store writes recs into a new store at dir in format 1: the
// records, bodies and flows as format 2 writes them (unchanged between the
// two), format 1's index keys instead of the index entries, version 1.
func writeV1Store(t *testing.T, dir string, recs []*sdk.Record) {
	t.Helper()
	ctx := context.Background()
	s := openDir(t, dir, Options{})
	defer s.Close()
	mustPut(t, s, recs)
	toV2Layout(t, s, recs)
	w := newBatchWriter(s.db)
	defer w.discard()
	for _, r := range recs {
		id, err := parseID(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		ops := []op{{key: indexKey(id), del: true}}
		for _, k := range v1IndexKeys(got, id) {
			ops = append(ops, op{key: k, val: []byte{}})
		}
		if err := w.add(ops); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.setVersion(1); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, s, prefixIndex); n != 0 {
		t.Fatalf("format 1 store has %d format 2 index entries", n)
	}
}

func storedVersion(t *testing.T, s *Store) []byte {
	t.Helper()
	var v []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte{prefixVersion})
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// migrationRecords are synthetic records plus spellings the index must
// normalise the same way in both formats.
func migrationRecords() []*sdk.Record {
	recs := synthN(0, 3000)
	recs[7].Protocol = "HTTP"
	recs[8].Dst.IP = "0:0:0:0:0:ffff:a00:102" // 10.0.1.2 as IPv4-mapped IPv6
	recs[9].Src.IP = ""
	recs[10].Request.Body, recs[10].Response.Body = "", ""
	recs[11].Response.Body = ""
	recs[12].Response = nil
	for i, r := range recs {
		r.ID = NewID(r.Timestamp, uint64(i))
	}
	return recs
}

// TestMigrateFromV1 opens a format 1 store: it is migrated in place and
// answers every query as a store written in format 2 does.
func TestMigrateFromV1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeV1Store(t, dir, migrationRecords())
	ref := openMem(t)
	mustPut(t, ref, migrationRecords())

	s := openDir(t, dir, Options{})
	defer s.Close()
	if v := storedVersion(t, s); !slices.Equal(v, []byte{formatVersion}) {
		t.Errorf("version after migration %v, want [%d]", v, formatVersion)
	}
	if n := countKeys(t, s, prefixIndexV1); n != 0 {
		t.Errorf("%d format 1 index keys left", n)
	}
	if n, want := countKeys(t, s, prefixIndex), 3000; n != want {
		t.Errorf("%d index entries, want %d", n, want)
	}
	for _, f := range []string{
		"", "protocol=http", "protocol=dns status=200", "failed=true", "src=10.0.0.3 status=503",
		"dst=10.0.1.2", "dst=10.0.1.2:80", "dst=10.0.1.0:80 status=200 protocol=http", "method=POST",
	} {
		flt, err := ParseFilter(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []Query{{Filter: flt}, {Filter: flt, Newest: true, Limit: 40}} {
			got, want := queryAll(t, s, q), queryAll(t, ref, q)
			if !slices.Equal(got, want) || len(want) == 0 {
				t.Errorf("%q (newest=%v): migrated store %d records, format 2 store %d", f, q.Newest, len(got), len(want))
			}
		}
	}
	got, err := s.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summary after migration %+v, want %+v", got, want)
	}
	sameRecords(t, s, ref, migrationRecords())
}

// sameRecords checks that Get, bodies included, and a query with bodies
// answer alike from a migrated store and from ref, and that no format 2
// body keys are left.
func sameRecords(t *testing.T, s, ref *Store, recs []*sdk.Record) {
	t.Helper()
	ctx := context.Background()
	if n := countKeys(t, s, prefixBodyV2); n != 0 {
		t.Errorf("%d format 2 body keys left", n)
	}
	for _, r := range recs {
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("record %s after migration:\n%+v\nwant\n%+v", r.ID, got, want)
		}
	}
	q := Query{WithBodies: true}
	if got, want := queryAll(t, s, q), queryAll(t, ref, q); !slices.Equal(got, want) || len(got) != len(recs) {
		t.Errorf("query with bodies: %d records, want %d", len(got), len(want))
	}
}

// TestMigrateFromV2 opens a format 2 store: every record's bodies move
// into its value, and every record, bodies included, reads as one written
// in format 3 does.
func TestMigrateFromV2(t *testing.T) {
	dir := t.TempDir()
	recs := migrationRecords()
	writeV2Store(t, dir, recs)
	ref := openMem(t)
	mustPut(t, ref, migrationRecords())

	s := openDir(t, dir, Options{})
	defer s.Close()
	if v := storedVersion(t, s); !slices.Equal(v, []byte{formatVersion}) {
		t.Errorf("version after migration %v, want [%d]", v, formatVersion)
	}
	sameRecords(t, s, ref, recs)
}

// TestMigrateV2Resumes: a migration from format 2 cut short (version "2
// to 3", half the records moved) completes on the next open, as does one
// an older build left on its way from 1 to 2.
func TestMigrateV2Resumes(t *testing.T) {
	for _, tt := range []struct {
		name    string
		version []byte
	}{{"2 to 3", []byte{2, formatVersion}}, {"1 to 2, by an older build", []byte{1, 2}}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			recs := migrationRecords()
			s := openDir(t, dir, Options{})
			mustPut(t, s, recs)
			var half []*sdk.Record
			for i, r := range recs {
				if i%2 == 0 {
					half = append(half, r)
				}
			}
			toV2Layout(t, s, half)
			if err := s.setVersion(tt.version...); err != nil {
				t.Fatal(err)
			}
			s.Close()

			ref := openMem(t)
			mustPut(t, ref, migrationRecords())
			s = openDir(t, dir, Options{})
			defer s.Close()
			if v := storedVersion(t, s); !slices.Equal(v, []byte{formatVersion}) {
				t.Errorf("version after resumed migration %v", v)
			}
			sameRecords(t, s, ref, recs)
		})
	}
}

// TestMigrateResumes: a migration cut short (version "1 to 2", some index
// entries written, the old keys still there) completes on the next open.
func TestMigrateResumes(t *testing.T) {
	dir := t.TempDir()
	recs := migrationRecords()
	writeV1Store(t, dir, recs)
	s := openDir(t, dir, Options{})
	if err := s.setVersion(1, formatVersion); err != nil {
		t.Fatal(err)
	}
	// As if cut short: half the index entries gone again, the old keys
	// back.
	w := newBatchWriter(s.db)
	for i, r := range recs {
		id, _ := parseID(r.ID)
		ops := []op{}
		if i%2 == 0 {
			ops = append(ops, op{key: indexKey(id), del: true})
		}
		for _, k := range v1IndexKeys(r, id) {
			ops = append(ops, op{key: k, val: []byte{}})
		}
		if err := w.add(ops); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.commit(); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openDir(t, dir, Options{})
	defer s.Close()
	if v := storedVersion(t, s); !slices.Equal(v, []byte{formatVersion}) {
		t.Errorf("version after resumed migration %v", v)
	}
	if n := countKeys(t, s, prefixIndexV1); n != 0 {
		t.Errorf("%d format 1 index keys left", n)
	}
	want := 0
	for _, r := range recs {
		if r.Protocol == "redis" {
			want++
		}
	}
	flt, _ := ParseFilter("protocol=redis")
	if n := len(queryAll(t, s, Query{Filter: flt})); n != want || want == 0 {
		t.Errorf("protocol=redis: %d records, want %d", n, want)
	}
}

// TestFormatVersionRefused: a store from a newer build, or with a version
// no build wrote, is refused with an error naming the versions, and left
// as it was.
func TestFormatVersionRefused(t *testing.T) {
	for _, tt := range []struct {
		name    string
		version []byte
		want    error
		says    []string
	}{
		{"newer", []byte{formatVersion + 1}, ErrFormatTooNew, []string{"format version 4", "versions 1 to 3", "newer kubeshark"}},
		{"migrating to newer", []byte{formatVersion, formatVersion + 1}, ErrFormatTooNew, []string{"format version 4"}},
		{"migrating backwards", []byte{formatVersion, 2}, ErrNotStore, []string{"unknown format version [3 2]"}},
		{"zero", []byte{0}, ErrNotStore, []string{"unknown format version [0]"}},
		{"empty", []byte{}, ErrNotStore, []string{"unknown format version []"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openDir(t, dir, Options{})
			mustPut(t, s, synthN(0, 10))
			if err := s.setVersion(tt.version...); err != nil {
				t.Fatal(err)
			}
			s.Close()
			_, err := Open(context.Background(), Options{Dir: dir, Logger: quietLogger()})
			if !errors.Is(err, tt.want) {
				t.Fatalf("open: %v, want %v", err, tt.want)
			}
			for _, w := range tt.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			// Refusing wrote nothing: the version is still there.
			s, err = Open(context.Background(), Options{Dir: dir, Logger: quietLogger()})
			if err == nil {
				s.Close()
				t.Fatal("second open succeeded")
			}
		})
	}
}
