package storage

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// vlogResident returns the resident kilobytes of each of dir's value-log
// files mapped by this process, from /proc/self/smaps.
func vlogResident(t *testing.T, dir string) map[string]int {
	t.Helper()
	return resident(t, dir, ".vlog")
}

// resident returns the resident kilobytes of each of dir's files named
// *suffix mapped by this process, from /proc/self/smaps.
func resident(t *testing.T, dir, suffix string) map[string]int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	out := map[string]int{}
	cur := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			cur = ""
			if len(fields) == 6 && strings.HasSuffix(fields[5], suffix) && filepath.Dir(fields[5]) == dir {
				cur = filepath.Base(fields[5])
			}
		case cur != "" && len(fields) >= 2 && fields[0] == "Rss:":
			kb, _ := strconv.Atoi(fields[1])
			out[cur] += kb
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReleaseValueLogs: once badger has moved on to a new value-log file,
// the finished ones leave the resident set, the one being written stays,
// and every record still reads back whole.
func TestReleaseValueLogs(t *testing.T) {
	ctx := context.Background()
	s := openDir(t, t.TempDir(), Options{})
	defer s.Close()
	if s.releaseStop == nil || s.realDir == "" {
		t.Fatal("no release loop for an on-disk store")
	}
	// Stop the loop so that the test decides when pages are released.
	s.releaseStop()
	<-s.releaseDone

	var recs []*sdk.Record
	for i := 0; len(vlogResident(t, s.realDir)) < 3; i += 1000 {
		if i > 400_000 {
			t.Fatalf("no third value-log file after %d records: %v", i, vlogResident(t, s.realDir))
		}
		batch := synthN(i, 1000)
		mustPut(t, s, batch)
		recs = append(recs, batch[0], batch[999])
	}
	before := vlogResident(t, s.realDir)
	released := map[string]bool{}
	if err := s.releaseValueLogs(released); err != nil {
		t.Fatal(err)
	}
	after := vlogResident(t, s.realDir)
	newest := ""
	for name := range after {
		if name > newest {
			newest = name
		}
	}
	for name, kb := range after {
		switch {
		case name == newest && kb == 0:
			t.Errorf("%s (being written) released", name)
		case name != newest && kb != 0:
			t.Errorf("%s still has %d KB resident (%d before)", name, kb, before[name])
		case name != newest && !released[name]:
			t.Errorf("%s not reported released", name)
		}
	}
	for _, r := range recs {
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Summary != r.Summary || got.Response.Body != r.Response.Body || !reflect.DeepEqual(got.Request.Headers, r.Request.Headers) {
			t.Fatalf("record %s changed after its pages were released", r.ID)
		}
	}
}

// TestReleaseAfterReads: pages a scan of old records brings back into
// the resident set leave it at the next release pass once they add up to
// the growth allowed, long before the periodic pass over all files, and
// not while they do not.
func TestReleaseAfterReads(t *testing.T) {
	ctx := context.Background()
	s := openDir(t, t.TempDir(), Options{})
	defer s.Close()
	s.releaseStop()
	<-s.releaseDone

	total := 0
	for ; len(vlogResident(t, s.realDir)) < 3; total += 1000 {
		if total > 400_000 {
			t.Fatalf("no third value-log file after %d records", total)
		}
		mustPut(t, s, synthN(total, 1000))
	}
	start := time.Now()
	st := &releaseState{released: map[string]bool{}, last: start, base: fileResident()}
	finished := func() (names []string, kb int) {
		res := vlogResident(t, s.realDir)
		newest := ""
		for name := range res {
			newest = max(newest, name)
		}
		for name, k := range res {
			if name != newest {
				names, kb = append(names, name), kb+k
			}
		}
		return names, kb
	}
	// The first pass releases the finished files as writes leave them.
	st.growth = 1 << 40
	if err := s.releasePass(st, start.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	names, kb := finished()
	if len(names) < 2 || kb != 0 {
		t.Fatalf("finished files %v hold %d KB after the first pass", names, kb)
	}

	// A scan reads every record back: their value-log pages return.
	read := 0
	q := Query{Limit: 5000}
	for {
		p, err := s.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		read += len(p.Records)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	if read != total {
		t.Fatalf("scan read %d records, want %d", read, total)
	}
	_, kb = finished()
	if kb < 1024 {
		t.Fatalf("the scan brought back only %d KB of finished files", kb)
	}
	// Within the growth allowed (and well within the periodic pass), a
	// pass leaves them; beyond it, the next pass releases them all.
	if err := s.releasePass(st, start.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, after := finished(); after < kb/2 {
		t.Errorf("a pass within the growth allowed released %d of %d KB", kb-after, kb)
	}
	st.growth = int64(kb) << 10 / 2
	if err := s.releasePass(st, start.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if names, after := finished(); after != 0 {
		t.Errorf("finished files %v still hold %d KB (%d after the scan)", names, after, kb)
	}
}

// TestReleaseTables: with ReleaseTables the tables leave the resident set
// too (they are resident whole once written), and records still read back;
// without it they stay.
func TestReleaseTables(t *testing.T) {
	for _, release := range []bool{true, false} {
		t.Run(fmt.Sprintf("ReleaseTables=%v", release), func(t *testing.T) {
			ctx := context.Background()
			s := openDir(t, t.TempDir(), Options{ReleaseTables: release})
			defer s.Close()
			s.releaseStop()
			<-s.releaseDone
			var recs []*sdk.Record
			total := func(m map[string]int) (kb int) {
				for _, v := range m {
					kb += v
				}
				return kb
			}
			for i := 0; total(resident(t, s.realDir, ".sst")) < 4<<10; i += 1000 {
				if i > 400_000 {
					t.Fatalf("tables hold under 4 MiB resident after %d records: %v", i, resident(t, s.realDir, ".sst"))
				}
				batch := synthN(i, 1000)
				mustPut(t, s, batch)
				recs = append(recs, batch[0], batch[999])
			}
			before := total(resident(t, s.realDir, ".sst"))
			// Two passes with the kernel's writeback between them (made
			// immediate): tables just written are dirty, and a pass
			// cannot release a dirty page; the next pass must.
			released := map[string]bool{}
			if err := s.releaseValueLogs(released); err != nil {
				t.Fatal(err)
			}
			unix.Sync()
			if err := s.releaseValueLogs(released); err != nil {
				t.Fatal(err)
			}
			after := total(resident(t, s.realDir, ".sst"))
			if release && after > before/10 || !release && after < before {
				t.Fatalf("tables resident: %d KB, then %d KB after a release pass", before, after)
			}
			for _, r := range recs {
				got, err := s.Get(ctx, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Summary != r.Summary || got.Response.Body != r.Response.Body {
					t.Fatalf("record %s changed after its tables were released", r.ID)
				}
			}
		})
	}
}
