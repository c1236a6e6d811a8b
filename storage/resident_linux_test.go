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
			released := map[string]bool{}
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
