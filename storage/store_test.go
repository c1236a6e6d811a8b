package storage

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// sameRecord compares records the way a reader sees them: Fields maps go
// through JSON on disk (numbers come back as float64), so they are compared
// in JSON form; everything else must be identical.
func sameRecord(t *testing.T, want, got *sdk.Record) {
	t.Helper()
	w, g := *want, *got
	if !w.Timestamp.Equal(g.Timestamp) {
		t.Errorf("timestamp %v, want %v", g.Timestamp, w.Timestamp)
	}
	if !w.End.Equal(g.End) {
		t.Errorf("end %v, want %v", g.End, w.End)
	}
	w.Timestamp, w.End = g.Timestamp, g.End
	for _, pair := range [][2]**sdk.Message{{&w.Request, &g.Request}, {&w.Response, &g.Response}} {
		a, b := *pair[0], *pair[1]
		if (a == nil) != (b == nil) {
			t.Fatalf("message presence differs: want %v got %v", a, b)
		}
		if a == nil {
			continue
		}
		ac, bc := *a, *b
		aj, _ := json.Marshal(ac.Fields)
		bj, _ := json.Marshal(bc.Fields)
		if string(aj) != string(bj) {
			t.Errorf("fields %s, want %s", bj, aj)
		}
		ac.Fields, bc.Fields = nil, nil
		*pair[0], *pair[1] = &ac, &bc
	}
	if !reflect.DeepEqual(w, g) {
		wj, _ := json.Marshal(w)
		gj, _ := json.Marshal(g)
		t.Errorf("record differs\nwant %s\n got %s", wj, gj)
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	full := synth(3)
	full.End = full.Timestamp.Add(5e6)
	full.RequestDir = 1
	full.Error = "reset by peer"
	full.Src.Name, full.Src.Namespace = "client-7f9", "shop"
	full.Request.Encoding = "base64"
	full.Request.Body = "aGVsbG8gd29ybGQ="
	noResp := synth(4)
	noResp.Response, noResp.ElapsedMs = nil, nil
	bare := &sdk.Record{Protocol: "dns", Timestamp: base}
	// Live capture names the local processes; a remote end has none.
	live := synth(5)
	live.Src.Process = &sdk.Process{PID: 4242, Comm: "curl", CgroupID: 1 << 40}
	liveBoth := synth(6)
	liveBoth.Src.Process = &sdk.Process{CgroupID: 9}
	liveBoth.Dst.Process = &sdk.Process{PID: 7, Comm: "nginx"}
	recs := []*sdk.Record{full, noResp, bare, live, liveBoth}
	mustPut(t, s, recs)
	for _, want := range recs {
		if want.ID == "" {
			t.Fatal("Put left an ID empty")
		}
		got, err := s.Get(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameRecord(t, want, got)
	}
	if _, err := s.Get(ctx, NewID(base, 99)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing id: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a malformed id: %v, want ErrNotFound", err)
	}
}

func TestBodyCap(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{InMemory: true, MaxBodyBytes: 9, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := synth(1)
	r.Request.Body = "héllo wörld, long"         // cut inside ö must back off
	r.Response.Body = "QUJDREVGR0hJSktMTU5PUA==" // base64: cut to 8
	r.Response.Encoding = "base64"
	orig := r.Request.Body
	mustPut(t, s, []*sdk.Record{r})
	if r.Request.Body != orig || r.Request.BodyTruncated {
		t.Fatal("Put modified the caller's record")
	}
	got, err := s.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Request.Body != "héllo w" || !got.Request.BodyTruncated {
		t.Errorf("request body %q truncated=%v", got.Request.Body, got.Request.BodyTruncated)
	}
	if got.Response.Body != "QUJDREVG" || !got.Response.BodyTruncated {
		t.Errorf("response body %q truncated=%v", got.Response.Body, got.Response.BodyTruncated)
	}
	if got.Request.BodySize != r.Request.BodySize {
		t.Errorf("body size changed")
	}
}

func TestPutCallerIDs(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	r := synth(1)
	r.ID = NewID(r.Timestamp, 42)
	mustPut(t, s, []*sdk.Record{r})

	// Replacing a record replaces its index entry: queries on what the
	// old version had no longer find it, queries on the new one do.
	r2 := synth(1)
	r2.ID, r2.Protocol, r2.Failed = r.ID, "grpc", false
	r2.Request.Body, r2.Response.Body = "", ""
	mustPut(t, s, []*sdk.Record{r2})
	for f, want := range map[string]int{"protocol=http": 0, "failed=true": 0, "protocol=grpc": 1, "protocol=grpc failed=false": 1} {
		flt, err := ParseFilter(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(filterTests(flt)) == 0 {
			t.Fatalf("%s: no index plan", f)
		}
		if got := len(queryAll(t, s, Query{Filter: flt})); got != want {
			t.Errorf("%s: %d records, want %d", f, got, want)
		}
	}
	if n := countKeys(t, s, prefixIndex); n != 1 {
		t.Errorf("%d index entries, want 1", n)
	}
	if got, err := s.Get(ctx, r.ID); err != nil || got.Request.Body != "" || got.Response.Body != "" {
		t.Errorf("the replaced version's bodies outlived it: %+v, %v", got, err)
	}
	if c, _ := s.Count(ctx); c != 1 {
		t.Errorf("count %d, want 1", c)
	}

	for _, bad := range []string{"garbage", NewID(base.Add(1), 1)} {
		r3 := synth(2)
		r3.ID = bad
		good := synth(3)
		err := s.Put(ctx, []*sdk.Record{good, r3})
		if !errors.Is(err, ErrBadID) {
			t.Errorf("Put with id %q: %v, want ErrBadID", bad, err)
		}
		if good.ID != "" {
			t.Errorf("failed Put assigned an id")
		}
	}
	if c, _ := s.Count(ctx); c != 1 {
		t.Errorf("failed Puts wrote records: count %d", c)
	}
}

func TestMeta(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	if _, err := s.GetMeta(ctx, "source"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetMeta missing: %v", err)
	}
	if err := s.PutMeta(ctx, "source", []byte("capture.pcap")); err != nil {
		t.Fatal(err)
	}
	v, err := s.GetMeta(ctx, "source")
	if err != nil || string(v) != "capture.pcap" {
		t.Fatalf("GetMeta = %q, %v", v, err)
	}
	if n, _ := s.Count(ctx); n != 0 {
		t.Fatalf("metadata counted as records: %d", n)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openDir(t, dir, Options{})
	recs := synthN(0, 500)
	mustPut(t, s, recs)
	if err := s.PutMeta(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s = openDir(t, dir, Options{})
	defer s.Close()
	if n, err := s.Count(ctx); err != nil || n != 500 {
		t.Fatalf("count after reopen = %d, %v", n, err)
	}
	got, err := s.Get(ctx, recs[123].ID)
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, recs[123], got)
	if v, err := s.GetMeta(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("meta after reopen: %q %v", v, err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	notStore := t.TempDir()
	if err := os.WriteFile(filepath.Join(notStore, "notes.txt"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	locked := t.TempDir()
	holder := openDir(t, locked, Options{})
	defer holder.Close()

	tests := []struct {
		name string
		dir  string
		is   error
	}{
		{"not a store", notStore, ErrNotStore},
		{"a file", file, ErrNotStore},
		{"locked", locked, nil},
		{"no dir", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(ctx, Options{Dir: tt.dir, Logger: quietLogger()})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.dir) {
				t.Errorf("error %q does not name the directory", err)
			}
			t.Log(err)
		})
	}
	if _, err := os.Stat(filepath.Join(notStore, "MANIFEST")); err == nil {
		t.Error("Open wrote into a directory that is not a store")
	}
}

func TestClosedStore(t *testing.T) {
	s, err := Open(context.Background(), Options{InMemory: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Put(context.Background(), synthN(0, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
}

// A record whose fields stay as the guest encoded them (the pipeline's
// records for a store) reads back as the record with decoded fields would.
func TestPutEncodedFields(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	for i, js := range []string{
		`{"version":"HTTP/1.1","n":2}`,
		` { "q" : [ {"name":"a.example","ttl":300} ] , "flags" : {"rd":true}, "x":null } `, // as a C guest might space it
		`{"dup":1,"dup":2}`,
	} {
		b := sdk.AppendRecord(nil, &sdk.Record{Protocol: "p", Timestamp: base.Add(time.Duration(i)), Request: &sdk.Message{Body: "x", Size: 9}})
		b = append(b[:len(b)-2], byte(len(js)))
		b = append(append(b, js...), 0)
		lazy, err := sdk.DecodeRecordLazy(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := lazy.Request.EncodedFields(); !ok {
			t.Fatalf("%s: fields were decoded", js)
		}
		want, err := sdk.DecodeRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		mustPut(t, s, []*sdk.Record{lazy})
		got, err := s.Get(ctx, lazy.ID)
		if err != nil {
			t.Fatal(err)
		}
		want.ID, want.Src, want.Dst, want.Stream, want.Dissector, want.ElapsedMs = got.ID, got.Src, got.Dst, got.Stream, got.Dissector, got.ElapsedMs
		sameRecord(t, want, got)
		if len(got.Request.Fields) == 0 {
			t.Errorf("%s: no fields read back", js)
		}
	}
}

// TestPutCountsReplaced checks Writes against what the store holds when a
// batch mixes stored and new ids: new ones before, between (alone, and
// past long runs of stored keys) and after the stored ones, ids stored
// and then deleted, and an id given twice in the batch.
func TestPutCountsReplaced(t *testing.T) {
	ctx := context.Background()
	withID := func(i int) *sdk.Record {
		r := synth(i)
		r.ID = NewID(r.Timestamp, uint64(i))
		return r
	}
	tests := []struct {
		name      string
		stored    func(i int) bool // which of 0..299 are stored first
		deleted   func(i int) bool // of those, whose record key is deleted
		batch     []int
		wantNew   int64
		wantAgain int64
	}{
		{"interleaved", func(i int) bool { return i%2 == 0 }, nil, seq(0, 300), 150, 150},
		{"long runs stored between new ones", func(i int) bool { return i%50 != 0 }, nil, seq(0, 300), 6, 294},
		{"new before and after the stored", func(i int) bool { return i >= 100 && i < 200 }, nil, seq(0, 300), 200, 100},
		{"sparse batch over many stored", func(i int) bool { return true }, nil, []int{0, 37, 38, 150, 299}, 0, 5},
		{"deleted count as new", func(i int) bool { return i%3 == 0 }, func(i int) bool { return i%6 == 0 }, seq(0, 300), 250, 50},
		{"an id twice in the batch", func(i int) bool { return i == 5 }, nil, []int{4, 5, 5, 6, 6}, 3, 2},
		{"nothing stored", func(i int) bool { return false }, nil, seq(0, 300), 300, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openMem(t)
			var first []*sdk.Record
			for i := range 300 {
				if tt.stored(i) {
					first = append(first, withID(i))
				}
			}
			if len(first) > 0 {
				mustPut(t, s, first)
			}
			if tt.deleted != nil {
				err := s.db.Update(func(txn *badger.Txn) error {
					for i := range 300 {
						if tt.stored(i) && tt.deleted(i) {
							id, _ := parseID(withID(i).ID)
							if err := txn.Delete(recordKey(id)); err != nil {
								return err
							}
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			before := s.Writes()
			var batch []*sdk.Record
			for _, i := range tt.batch {
				batch = append(batch, withID(i))
			}
			if err := s.Put(ctx, batch); err != nil {
				t.Fatal(err)
			}
			got := s.Writes().Sub(before)
			if got.Records != tt.wantNew || got.RecordsReplaced != tt.wantAgain {
				t.Fatalf("%d new, %d replaced; want %d new, %d replaced", got.Records, got.RecordsReplaced, tt.wantNew, tt.wantAgain)
			}
		})
	}
}

// seq is from, from+1, ..., to-1.
func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
