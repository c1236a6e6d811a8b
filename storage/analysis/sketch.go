package analysis

import (
	"encoding/binary"
	"fmt"
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
		s.toBins()
	}
	s.bin(v)
}

func (s *sketch) bin(v float64) { s.binN(v, 1) }

// binIndex adds c to bin i, growing the bins to reach it.
func (s *sketch) binIndex(i int, c uint32) {
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
	s.bins[i-s.off] += c
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
			return min(s.binValue(s.off+j), s.max)
		}
	}
	return s.max
}

// approximate reports whether quantiles come from the bins.
func (s *sketch) approximate() bool { return s.binned }

// toBins turns an exact sketch into a binned one.
func (s *sketch) toBins() {
	if s.binned {
		return
	}
	s.binned = true
	for _, x := range s.exact {
		s.binN(x, 1)
	}
	s.exact = nil
}

// binN counts c values equal to v in the bins.
func (s *sketch) binN(v float64, c uint32) {
	if v < sketchMin {
		s.zeros += int(c)
		return
	}
	s.binIndex(int(math.Ceil(math.Log(v)/s.lnGamma)), c)
}

// binValue is the value a bin stands for: its midpoint in relative terms.
func (s *sketch) binValue(i int) float64 {
	return 2 * math.Pow(s.gamma, float64(i)) / (s.gamma + 1)
}

// Serialised form, used by the per-minute rollups (rollup.go). The α and
// exact cap are not stored: a rollup's format version fixes them.
const (
	sketchExact  = 0
	sketchBinned = 1
)

// appendSketch encodes s: uvarint n, the max as 8 bytes, a mode byte, then
// either the exact values (8 bytes each) or uvarint zeros, varint offset,
// uvarint count of non-empty bins and, per non-empty bin, uvarint gap from
// the previous one and uvarint count. Latency bins are mostly empty
// between a few busy ones, hence the sparse form.
func appendSketch(b []byte, s *sketch) []byte {
	b = binary.AppendUvarint(b, uint64(s.n))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.max))
	if !s.binned {
		b = append(b, sketchExact)
		for _, x := range s.exact {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
		return b
	}
	b = append(b, sketchBinned)
	b = binary.AppendUvarint(b, uint64(s.zeros))
	b = binary.AppendVarint(b, int64(s.off))
	nz := 0
	for _, c := range s.bins {
		if c > 0 {
			nz++
		}
	}
	b = binary.AppendUvarint(b, uint64(nz))
	prev := -1
	for j, c := range s.bins {
		if c > 0 {
			b = binary.AppendUvarint(b, uint64(j-prev-1))
			b = binary.AppendUvarint(b, uint64(c))
			prev = j
		}
	}
	return b
}

// mergeEncoded adds the values of a sketch encoded by appendSketch, whose
// α was alpha, to s, giving what adding them one by one would have given:
// exact values stay exact while both together fit exactCap, then
// everything is binned. Bins of the same α add up bin by bin, so merged
// percentiles keep the α bound; bins of another α are re-binned from
// their midpoints, which adds the two errors. raw must have passed
// checkEncoded: a malformed one is reported and may have been partly
// merged.
func (s *sketch) mergeEncoded(raw []byte, alpha float64) error {
	r := &reader{b: raw}
	n := int(r.uvarint())
	mx := math.Float64frombits(r.u64())
	mode := r.byte()
	if r.err != nil || n == 0 {
		return r.err
	}
	switch mode {
	case sketchExact:
		if len(r.b) != 8*n {
			return fmt.Errorf("sketch of %d values in %d bytes", n, len(r.b))
		}
		if !s.binned && len(s.exact)+n <= s.exactCap {
			for i := 0; i < n; i++ {
				s.exact = append(s.exact, math.Float64frombits(binary.LittleEndian.Uint64(r.b[8*i:])))
			}
			s.sorted = false
		} else {
			s.toBins()
			for i := 0; i < n; i++ {
				s.binN(math.Float64frombits(binary.LittleEndian.Uint64(r.b[8*i:])), 1)
			}
		}
	case sketchBinned:
		s.toBins()
		s.zeros += int(r.uvarint())
		off := int(r.varint())
		nz := int(r.uvarint())
		g := (1 + alpha) / (1 - alpha)
		j := -1
		for i := 0; i < nz && r.err == nil; i++ {
			j += int(r.uvarint()) + 1
			c := uint32(r.uvarint())
			if g == s.gamma {
				s.binIndex(off+j, c)
			} else {
				s.binN(2*math.Pow(g, float64(off+j))/(g+1), c)
			}
		}
		if r.err != nil {
			return r.err
		}
	default:
		return fmt.Errorf("unknown sketch mode %d", mode)
	}
	s.n += n
	s.max = max(s.max, mx)
	return nil
}

// checkEncoded validates an encoded sketch, so that merging it later
// cannot fail nor allocate without bound.
func checkEncoded(raw []byte) error {
	r := &reader{b: raw}
	n := r.uvarint()
	r.u64()
	switch r.byte() {
	case sketchExact:
		if r.err == nil && uint64(len(r.b)) != 8*n {
			r.fail("sketch of %d values in %d bytes", n, len(r.b))
		}
	case sketchBinned:
		zeros := r.uvarint()
		off := r.varint()
		nz := r.count(2)
		if off < -maxSketchBins || off > maxSketchBins || zeros > n {
			r.fail("sketch offset %d, %d zeros of %d", off, zeros, n)
		}
		j, sum := int64(-1), zeros
		for i := 0; i < nz && r.err == nil; i++ {
			j += int64(r.uvarint()) + 1
			c := r.uvarint()
			sum += c
			if j > maxSketchBins || c == 0 || c > math.MaxUint32 {
				r.fail("sketch bin %d of count %d", j, c)
			}
		}
		if r.err == nil && (sum != n || r.left() != 0) {
			r.fail("sketch of %d values holds %d, %d bytes left", n, sum, r.left())
		}
	default:
		r.fail("unknown sketch mode")
	}
	return r.err
}

// encodedBinned reports whether an encoded sketch (checked) holds bins.
func encodedBinned(raw []byte) bool {
	_, w := binary.Uvarint(raw)
	return w > 0 && len(raw) > w+8 && raw[w+8] == sketchBinned
}

// maxSketchBins bounds a decoded sketch's offset and bins: values are
// clamped to [sketchMin, sketchMax], which no α used here spans in more
// bins.
const maxSketchBins = 1 << 16

// merge adds o's values to s, as mergeEncoded does for an encoded sketch:
// exact values one by one, bins of the same α bin by bin, others from
// their midpoints.
func (s *sketch) merge(o *sketch) {
	if o.n == 0 {
		return
	}
	if !o.binned {
		for _, x := range o.exact {
			s.add(x)
		}
		return
	}
	s.toBins()
	s.zeros += o.zeros
	for j, c := range o.bins {
		switch {
		case c == 0:
		case o.gamma == s.gamma:
			s.binIndex(o.off+j, c)
		default:
			s.binN(o.binValue(o.off+j), c)
		}
	}
	s.n += o.n
	s.max = max(s.max, o.max)
}
