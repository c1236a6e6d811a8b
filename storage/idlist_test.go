package storage

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestHoldsExactly compares id lists with the records a store holds in a
// window: only the window's ids, each once, in any order, hold exactly.
func TestHoldsExactly(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	recs := synthN(0, 40) // one a millisecond from base
	mustPut(t, s, recs)
	all := ids(recs)
	in := all[10:20] // [base+10ms, base+20ms)
	from, to := base.Add(10*time.Millisecond), base.Add(20*time.Millisecond)
	for _, tc := range []struct {
		name     string
		ids      []string
		from, to time.Time
		want     bool
	}{
		{"the window's ids", in, from, to, true},
		{"out of order", append(slices.Clone(in[5:]), in[:5]...), from, to, true},
		{"one missing", in[1:], from, to, false},
		{"one missing, one listed twice", append(slices.Clone(in[1:]), in[2]), from, to, false},
		{"the last listed twice", append(slices.Clone(in), in[9]), from, to, false},
		{"one from outside the window", append(slices.Clone(in), all[20]), from, to, false},
		{"an id not stored", append(slices.Clone(in[:9]), NewID(base.Add(15*time.Millisecond+1), 7)), from, to, false},
		{"none, over records", nil, from, to, false},
		{"none, over an empty window", nil, base.Add(-time.Hour), base, true},
		{"every record", all, base, base.Add(time.Second), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l IDList
			for _, id := range tc.ids {
				if err := l.Add(id); err != nil {
					t.Fatal(err)
				}
			}
			if l.Len() != len(tc.ids) {
				t.Fatalf("Len %d after %d ids", l.Len(), len(tc.ids))
			}
			got, err := s.HoldsExactly(ctx, tc.from, tc.to, &l)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("HoldsExactly = %v, want %v", got, tc.want)
			}
		})
	}
	var l IDList
	if err := l.Add("not an id"); err == nil {
		t.Error("Add took a malformed id")
	}
}
