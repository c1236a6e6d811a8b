package storage

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestIDsUniqueAndSorted(t *testing.T) {
	g, err := newIDGen()
	if err != nil {
		t.Fatal(err)
	}
	const n = 100_000
	ts := base
	seen := make(map[string]bool, n)
	prev := ""
	for i := 0; i < n; i++ {
		id := g.newRaw(ts).String()
		if seen[id] {
			t.Fatalf("duplicate id %s after %d calls", id, i)
		}
		seen[id] = true
		if id <= prev {
			t.Fatalf("id %s does not sort after %s", id, prev)
		}
		prev = id
	}
}

func TestIDsSortByTime(t *testing.T) {
	times := []time.Time{
		{}, time.Unix(0, 1), base.Add(-time.Hour), base, base.Add(time.Nanosecond),
		base.Add(time.Second), base.AddDate(100, 0, 0),
	}
	var list []string
	for i, ts := range times {
		// Uniqueness bits that sort against time order must not matter.
		list = append(list, NewID(ts, uint64(len(times)-i)<<60))
	}
	if !sort.StringsAreSorted(list) {
		t.Fatalf("ids not in time order: %v", list)
	}
	for _, id := range list {
		if len(id) != 26 {
			t.Fatalf("id %q has %d characters", id, len(id))
		}
	}
}

func TestIDRoundTrip(t *testing.T) {
	for _, seq := range []uint64{0, 1, 1<<32 | 7, ^uint64(0)} {
		id := makeRawID(base, seq)
		back, err := parseID(id.String())
		if err != nil || back != id {
			t.Fatalf("round trip of %x: got %x, %v", id, back, err)
		}
		lower, err := parseID(strings.ToLower(id.String()))
		if err != nil || lower != id {
			t.Fatalf("lower-case parse of %s: %v", id, err)
		}
	}
	if got := makeRawID(base, 0).nanos(); got != uint64(base.UnixNano()) {
		t.Fatalf("nanos = %d", got)
	}
}

func TestParseIDErrors(t *testing.T) {
	for _, s := range []string{"", "short", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "0123456789ABCDEFGHJKMNPQRU", "01234567890123456789012345X"} {
		if _, err := parseID(s); !errors.Is(err, ErrBadID) {
			t.Errorf("parseID(%q) = %v, want ErrBadID", s, err)
		}
	}
}
