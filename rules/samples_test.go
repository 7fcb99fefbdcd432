package rules

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// scanSamples is the previous implementation of samples, which rescanned
// every sample on every reading: the reference the running sums and deques
// are checked against.
type scanSamples struct {
	t []int64
	v []float64
}

func (s *scanSamples) add(t int64, v float64, over int64, max int) {
	i := sort.Search(len(s.t), func(i int) bool { return s.t[i] > t })
	s.t = append(s.t, 0)
	s.v = append(s.v, 0)
	copy(s.t[i+1:], s.t[i:])
	copy(s.v[i+1:], s.v[i:])
	s.t[i], s.v[i] = t, v
	newest := s.t[len(s.t)-1]
	drop := sort.Search(len(s.t), func(i int) bool { return s.t[i] >= newest-over })
	if n := len(s.t) - drop; n > max {
		drop = len(s.t) - max
	}
	if drop > 0 {
		s.t = append(s.t[:0], s.t[drop:]...)
		s.v = append(s.v[:0], s.v[drop:]...)
	}
}

func (s *scanSamples) slope(min int) (float64, bool) {
	n := len(s.t)
	if n < min || n < 2 {
		return 0, false
	}
	t0 := s.t[0]
	var st, sv, stt, stv float64
	for i, v := range s.v {
		t := float64(s.t[i] - t0)
		st += t
		sv += v
		stt += t * t
		stv += t * v
	}
	fn := float64(n)
	den := fn*stt - st*st
	if den == 0 {
		return 0, false
	}
	return (fn*stv - st*sv) / den, true
}

func (s *scanSamples) fluctuation(min int) (float64, bool) {
	if len(s.v) < min || len(s.v) == 0 {
		return 0, false
	}
	lo, hi, sum := s.v[0], s.v[0], 0.0
	for _, v := range s.v {
		lo, hi, sum = min2(lo, v), max2(hi, v), sum+v
	}
	mean := sum / float64(len(s.v))
	if mean == 0 {
		return 0, false
	}
	return (hi - lo) / math.Abs(mean), true
}

func min2(a, b float64) float64 {
	if b < a {
		return b
	}
	return a
}

func max2(a, b float64) float64 {
	if b > a {
		return b
	}
	return a
}

// TestSamplesMatchRescan feeds random series to samples and to the old
// rescanning code and compares slope and fluctuation after every reading:
// in order and out of order, repeated times, gaps that empty the window,
// eviction by time and by count, values around zero and values too large
// for running sums.
func TestSamplesMatchRescan(t *testing.T) {
	cases := []struct {
		name      string
		over      int64
		max       int
		step      int64 // mean time between readings, ms
		late      float64
		integers  bool
		offset    float64 // added to values: 0 crosses zero
		huge      float64 // probability of an infinite or huge value
		gap       float64 // probability of a gap longer than over
		readings  int
		minSample int
	}{
		{name: "steady", over: 300_000, max: 4096, step: 5, readings: 20_000, offset: 20, minSample: 3},
		{name: "time-evicted", over: 10_000, max: 4096, step: 100, readings: 5_000, offset: 1000, minSample: 2},
		{name: "late-and-repeated", over: 5_000, max: 64, step: 50, late: 0.2, readings: 5_000, offset: 5, minSample: 2},
		{name: "integers-around-zero", over: 2_000, max: 16, step: 100, late: 0.05, integers: true, readings: 5_000, minSample: 2},
		{name: "gaps", over: 1_000, max: 100, step: 200, gap: 0.05, late: 0.05, readings: 5_000, offset: 3, minSample: 2},
		{name: "huge-values", over: 3_000, max: 50, step: 100, huge: 0.01, readings: 5_000, offset: 10, minSample: 2},
		{name: "week", over: 7 * 24 * 3_600_000, max: 256, step: 3_600_000, late: 0.1, readings: 3_000, offset: 1, minSample: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(len(tc.name))))
			trend, fluct, ref := newSamples(false), newSamples(true), &scanSamples{}
			now, v := int64(1_767_225_600_000), tc.offset
			for i := range tc.readings {
				at := now
				switch r := rng.Float64(); {
				case r < tc.late:
					at -= rng.Int64N(2*tc.over + 1)
				case r < tc.late+tc.gap:
					now += tc.over + rng.Int64N(3*tc.over)
					at = now
				default:
					now += rng.Int64N(2*tc.step + 1) // 0: same time as the last one
					at = now
				}
				v += rng.NormFloat64()
				x := v
				if tc.integers {
					x = math.Round(v)
				}
				if rng.Float64() < tc.huge {
					x = []float64{math.Inf(1), math.Inf(-1), 1e300, -1e250}[rng.IntN(4)]
				}
				trend.add(at, x, tc.over, tc.max)
				fluct.add(at, x, tc.over, tc.max)
				ref.add(at, x, tc.over, tc.max)
				if trend.len() != len(ref.t) || fluct.len() != len(ref.t) {
					t.Fatalf("reading %d: %d and %d samples, want %d", i, trend.len(), fluct.len(), len(ref.t))
				}
				s1, ok1 := trend.slope(tc.minSample)
				s0, ok0 := ref.slope(tc.minSample)
				slopeScale, fluctScale := ref.scales()
				if ok1 != ok0 || !near(s1, s0, 1e-9*slopeScale) {
					t.Fatalf("reading %d: slope %g %v, rescan %g %v", i, s1, ok1, s0, ok0)
				}
				f1, ok1 := fluct.fluctuation(tc.minSample)
				f0, ok0 := ref.fluctuation(tc.minSample)
				if ok1 != ok0 || !near(f1, f0, 1e-9*fluctScale) {
					t.Fatalf("reading %d: fluctuation %g %v, rescan %g %v", i, f1, ok1, f0, ok0)
				}
			}
		})
	}
}

// scales are the magnitudes the rounding errors of slope and fluctuation
// are proportional to: that of the terms whose difference they are, which
// can be much larger than the result (a flat slope, a mean near zero).
func (s *scanSamples) scales() (slope, fluct float64) {
	var st, sv, stv float64
	for i, v := range s.v {
		t := math.Abs(float64(s.t[i] - s.t[0]))
		st, sv, stv = st+t, sv+math.Abs(v), stv+t*math.Abs(v)
	}
	n := float64(len(s.v))
	if d, ok := s.den(); ok {
		slope = (n*stv + st*sv) / d
	}
	if f, ok := s.fluctuation(1); ok {
		var sum float64
		for _, v := range s.v {
			sum += v
		}
		fluct = f * sv / math.Abs(sum)
	}
	return slope, fluct
}

func (s *scanSamples) den() (float64, bool) {
	var st, stt float64
	for i := range s.t {
		t := float64(s.t[i] - s.t[0])
		st, stt = st+t, stt+t*t
	}
	n := float64(len(s.t))
	d := n*stt - st*st
	return d, d > 0
}

// near compares with an absolute tolerance; NaN and infinities must agree.
func near(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b || math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol
}
