package analysis

import (
	"math"
	"testing"
)

func TestSketch(t *testing.T) {
	tests := []struct {
		name   string
		values func(add func(float64))
		q      float64
		want   float64
		relErr float64
		approx bool
	}{
		{"exact p50 of 1..100", seq(1, 100), 0.50, 50, 0, false},
		{"exact p95 of 1..100", seq(1, 100), 0.95, 95, 0, false},
		{"exact p99 of 1..100", seq(1, 100), 0.99, 99, 0, false},
		{"exact p100 of 1..100", seq(1, 100), 1, 100, 0, false},
		{"exact one value", seq(7, 7), 0.95, 7, 0, false},
		{"binned p50 of 1..100000", seq(1, 100000), 0.50, 50000, 0.01, true},
		{"binned p95 of 1..100000", seq(1, 100000), 0.95, 95000, 0.01, true},
		{"binned p99 of 0.01..1000", func(add func(float64)) {
			for i := 1; i <= 100000; i++ {
				add(float64(i) / 100)
			}
		}, 0.99, 990, 0.01, true},
		{"zeros counted", func(add func(float64)) {
			for i := 0; i < 2000; i++ {
				add(0)
			}
			add(5)
		}, 0.99, 0, 0, true},
	}
	for _, tt := range tests {
		s := newSketch(groupExact, groupAlpha)
		tt.values(s.add)
		got := s.quantile(tt.q)
		if math.Abs(got-tt.want) > tt.relErr*tt.want {
			t.Errorf("%s: quantile(%v) = %v, want %v ± %v%%", tt.name, tt.q, got, tt.want, tt.relErr*100)
		}
		if s.approximate() != tt.approx {
			t.Errorf("%s: approximate = %v, want %v", tt.name, s.approximate(), tt.approx)
		}
	}
	var empty sketch
	if empty.quantile(0.5) != 0 {
		t.Error("empty sketch has a quantile")
	}
}

func seq(from, to int) func(add func(float64)) {
	return func(add func(float64)) {
		// Descending, so the exact path has to sort.
		for i := to; i >= from; i-- {
			add(float64(i))
		}
	}
}
