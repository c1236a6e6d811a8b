package analysis

import (
	"math"
	"slices"
)

// sketch estimates quantiles of non-negative values (latencies in ms). It
// keeps the values themselves up to exactCap, so small groups get exact
// percentiles, then folds them into logarithmic bins (the DDSketch scheme):
// bin i counts values in (γ^(i-1), γ^i] with γ = (1+α)/(1-α), and any
// quantile read from the bins is within relative error α of the true value.
// Memory is then bounded by the range of the values, not their number:
// about ln(max/min)/ln(γ) bins, under 2,000 for α = 1% over 1ns..10⁶s.
type sketch struct {
	n        int
	max      float64
	exactCap int
	exact    []float64
	sorted   bool
	binned   bool
	lnGamma  float64
	gamma    float64
	bins     []uint32
	off      int // bin index of bins[0]
	zeros    int // values too small to bin
}

const (
	// sketchMin is the smallest value binned (1ns in ms); smaller ones
	// count as zero.
	sketchMin = 1e-6
	// sketchMax clamps absurd values (11 days in ms) so one corrupt record
	// cannot stretch the bins.
	sketchMax = 1e9
)

func newSketch(exactCap int, alpha float64) sketch {
	g := (1 + alpha) / (1 - alpha)
	return sketch{exactCap: exactCap, gamma: g, lnGamma: math.Log(g)}
}

func (s *sketch) add(v float64) {
	if !(v >= 0) { // NaN too
		v = 0
	}
	v = min(v, sketchMax)
	s.n++
	s.max = max(s.max, v)
	if !s.binned {
		if len(s.exact) < s.exactCap {
			s.exact = append(s.exact, v)
			s.sorted = false
			return
		}
		s.binned = true
		for _, x := range s.exact {
			s.bin(x)
		}
		s.exact = nil
	}
	s.bin(v)
}

func (s *sketch) bin(v float64) {
	if v < sketchMin {
		s.zeros++
		return
	}
	i := int(math.Ceil(math.Log(v) / s.lnGamma))
	switch {
	case len(s.bins) == 0:
		s.off = i
		s.bins = append(s.bins, 0)
	case i < s.off:
		s.bins = append(make([]uint32, s.off-i, s.off-i+len(s.bins)), s.bins...)
		s.off = i
	case i >= s.off+len(s.bins):
		s.bins = append(s.bins, make([]uint32, i-s.off-len(s.bins)+1)...)
	}
	s.bins[i-s.off]++
}

// quantile returns the q-quantile by nearest rank (the smallest value with
// at least q·n values at or below it), 0 for an empty sketch.
func (s *sketch) quantile(q float64) float64 {
	if s.n == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(s.n)))
	rank = min(max(rank, 1), s.n)
	if !s.binned {
		if !s.sorted {
			slices.Sort(s.exact)
			s.sorted = true
		}
		return s.exact[rank-1]
	}
	seen := s.zeros
	if seen >= rank {
		return 0
	}
	for j, c := range s.bins {
		seen += int(c)
		if seen >= rank {
			// The bin's midpoint in relative terms: 2γ^i/(γ+1).
			v := 2 * math.Pow(s.gamma, float64(s.off+j)) / (s.gamma + 1)
			return min(v, s.max)
		}
	}
	return s.max
}

// approximate reports whether quantiles come from the bins.
func (s *sketch) approximate() bool { return s.binned }
