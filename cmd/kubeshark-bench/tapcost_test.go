package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadLatencyLog(t *testing.T) {
	for _, tc := range []struct {
		name     string
		micros   []int // in file order, not sorted
		status   string
		p50, p99 time.Duration
		wantErr  string
	}{
		{name: "one request", micros: []int{700}, status: "200", p50: 700 * time.Microsecond, p99: 700 * time.Microsecond},
		// 1..100 shuffled: nearest rank puts p50 at 50 and p99 at 99.
		{name: "hundred", micros: shuffled(100), status: "200", p50: 50 * time.Microsecond, p99: 99 * time.Microsecond},
		// 1..1000: p99 is the 990th value.
		{name: "thousand", micros: shuffled(1000), status: "200", p50: 500 * time.Microsecond, p99: 990 * time.Microsecond},
		{name: "empty", wantErr: "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			for i, us := range tc.micros {
				fmt.Fprintf(&b, "%d\t%s\t%d\n", 1765000000000000+i, tc.status, us)
			}
			path := filepath.Join(t.TempDir(), "h2load.log")
			if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			l, err := readLatencyLog(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.p50 != tc.p50 || l.p99 != tc.p99 || l.done != len(tc.micros) {
				t.Fatalf("got done %d p50 %v p99 %v, want %d %v %v", l.done, l.p50, l.p99, len(tc.micros), tc.p50, tc.p99)
			}
		})
	}
}

func TestReadLatencyLogBadLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h2load.log")
	if err := os.WriteFile(path, []byte("1\t200\tabc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readLatencyLog(path); err == nil || !strings.Contains(err.Error(), `"1\t200\tabc"`) {
		t.Fatalf("err = %v, want one naming the line", err)
	}
}

func shuffled(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = (i*7919)%n + 1 // 7919 is prime, so this is a permutation of 1..n
	}
	return out
}
