package rules

import (
	"math"
	"sort"
)

// samples are the (time, value) pairs of one series inside a condition's
// duration, in time order. Trend and fluctuation read them on every
// reading, so what they need is kept up to date as samples come and go
// instead of rescanning up to MaxSamples of them: running sums for the
// least squares (times relative to ref) and, for fluctuation, monotonic
// deques of the minimum and the maximum. Each reading costs O(1) amortized;
// a reading older than the newest sample (late, resent) costs O(n).
type samples struct {
	q     ring[sample]
	first int // id of q's oldest sample; ids number a series' samples in order

	// Running sums over q, times relative to ref. Removing samples leaves
	// rounding errors behind, so the sums are recomputed once as many
	// samples have left as remain, or once ref has fallen more than the
	// duration behind the oldest sample (which also bounds t-ref and so
	// the cancellation in the slope).
	ref              int64
	st, stt, sv, stv float64
	removed          int
	bad              int // samples too large for running sums: results are rescanned

	minmax bool      // fluctuation: keep lo and hi
	lo, hi ring[int] // ids of increasing minima / decreasing maxima, oldest first
}

type sample struct {
	t int64
	v float64
}

// bigValue bounds the values kept in the running sums: t*v and the sums
// must stay finite, so that removing a sample removes it.
const bigValue = 1e200

func newSamples(minmax bool) *samples { return &samples{minmax: minmax} }

func (s *samples) len() int { return s.q.len() }

func (s *samples) newest() int64 { return s.q.back().t }

// add inserts a sample, then drops the samples older than over before the
// newest one and, beyond max, the oldest.
func (s *samples) add(t int64, v float64, over int64, max int) {
	if s.q.len() > 0 && t < s.q.back().t {
		if t >= s.q.back().t-over { // older ones would leave at once
			s.insert(t, v, over, max)
		}
		return
	}
	for s.q.len() > 0 && (s.q.front().t < t-over || s.q.len() >= max) {
		s.popFront()
	}
	if s.q.len() == 0 {
		s.ref, s.removed = t, 0
		s.st, s.stt, s.sv, s.stv = 0, 0, 0, 0
	}
	s.q.pushBack(sample{t, v})
	s.include(t, v, 1)
	if s.minmax {
		s.pushMinMax(s.first+s.q.len()-1, v)
	}
	s.maybeResum(over)
}

// insert is add for a sample older than the newest: it goes before the
// samples with a later time (after those with the same time), which
// renumbers them, so the deques are rebuilt.
func (s *samples) insert(t int64, v float64, over int64, max int) {
	n := s.q.len()
	i := sort.Search(n, func(i int) bool { return s.q.at(i).t > t })
	all := make([]sample, 0, ringCap(n+1))
	for j := range i {
		all = append(all, s.q.at(j))
	}
	all = append(all, sample{t, v})
	for j := i; j < n; j++ {
		all = append(all, s.q.at(j))
	}
	s.q.reset(all)
	s.include(t, v, 1)
	newest := s.q.back().t
	for s.q.len() > 0 && (s.q.front().t < newest-over || s.q.len() > max) {
		s.popFront()
	}
	if s.minmax {
		s.lo.clear()
		s.hi.clear()
		for j := range s.q.len() {
			s.pushMinMax(s.first+j, s.q.at(j).v)
		}
	}
	s.maybeResum(over)
}

func (s *samples) popFront() {
	x := s.q.popFront()
	s.include(x.t, x.v, -1)
	s.removed++
	if s.minmax {
		if s.lo.len() > 0 && s.lo.front() == s.first {
			s.lo.popFront()
		}
		if s.hi.len() > 0 && s.hi.front() == s.first {
			s.hi.popFront()
		}
	}
	s.first++
}

// include adds (sign 1) or removes (sign -1) a sample from the sums.
func (s *samples) include(t int64, v float64, sign int) {
	if !(math.Abs(v) <= bigValue) {
		s.bad += sign
		return
	}
	dt := float64(t - s.ref)
	f := float64(sign)
	s.st += f * dt
	s.stt += f * dt * dt
	s.sv += f * v
	s.stv += f * dt * v
}

func (s *samples) pushMinMax(id int, v float64) {
	for s.lo.len() > 0 && s.value(s.lo.back()) >= v {
		s.lo.popBack()
	}
	s.lo.pushBack(id)
	for s.hi.len() > 0 && s.value(s.hi.back()) <= v {
		s.hi.popBack()
	}
	s.hi.pushBack(id)
}

func (s *samples) value(id int) float64 { return s.q.at(id - s.first).v }

// maybeResum recomputes the sums when enough samples have left (see
// samples): every sample is summed again at most once per sample added
// since the last time, so the cost is O(1) amortized.
func (s *samples) maybeResum(over int64) {
	n := s.q.len()
	if s.removed < n && s.q.front().t-s.ref <= over {
		return
	}
	s.ref, s.removed, s.bad = s.q.front().t, 0, 0
	s.st, s.stt, s.sv, s.stv = 0, 0, 0, 0
	for i := range n {
		x := s.q.at(i)
		s.include(x.t, x.v, 1)
	}
}

// slope is the least-squares slope in units per millisecond.
func (s *samples) slope(min int) (float64, bool) {
	n := s.q.len()
	if n < min || n < 2 {
		return 0, false
	}
	if s.bad > 0 {
		return s.scanSlope()
	}
	if s.q.front().t == s.q.back().t {
		return 0, false // one instant has no slope
	}
	fn := float64(n)
	den := fn*s.stt - s.st*s.st
	if den <= 0 {
		return 0, false // rounding; the true value is positive
	}
	return (fn*s.stv - s.st*s.sv) / den, true
}

// fluctuation is (max-min)/|mean|; false when the mean is zero.
func (s *samples) fluctuation(min int) (float64, bool) {
	n := s.q.len()
	if n < min || n == 0 {
		return 0, false
	}
	if s.bad > 0 || !s.minmax {
		return s.scanFluctuation()
	}
	mean := s.sv / float64(n)
	if mean == 0 {
		return 0, false
	}
	return (s.value(s.hi.front()) - s.value(s.lo.front())) / math.Abs(mean), true
}

// scanSlope computes the slope from every sample, with times relative to
// the oldest: the fallback when a value is too large for the running sums.
func (s *samples) scanSlope() (float64, bool) {
	n := s.q.len()
	t0 := s.q.front().t
	var st, sv, stt, stv float64
	for i := range n {
		x := s.q.at(i)
		t := float64(x.t - t0)
		st += t
		sv += x.v
		stt += t * t
		stv += t * x.v
	}
	fn := float64(n)
	den := fn*stt - st*st
	if den == 0 {
		return 0, false
	}
	return (fn*stv - st*sv) / den, true
}

// scanFluctuation computes the fluctuation from every sample.
func (s *samples) scanFluctuation() (float64, bool) {
	lo, hi, sum := s.q.front().v, s.q.front().v, 0.0
	for i := range s.q.len() {
		v := s.q.at(i).v
		lo, hi, sum = math.Min(lo, v), math.Max(hi, v), sum+v
	}
	mean := sum / float64(s.q.len())
	if mean == 0 {
		return 0, false
	}
	return (hi - lo) / math.Abs(mean), true
}

// ring is a FIFO that grows by doubling and can also be trimmed at the back.
type ring[T any] struct {
	buf     []T // len(buf) is 0 or a power of two
	head, n int
}

func (r *ring[T]) len() int   { return r.n }
func (r *ring[T]) at(i int) T { return r.buf[(r.head+i)&(len(r.buf)-1)] }
func (r *ring[T]) front() T   { return r.at(0) }
func (r *ring[T]) back() T    { return r.at(r.n - 1) }

func (r *ring[T]) pushBack(x T) {
	if r.n == len(r.buf) {
		buf := make([]T, max(4, 2*r.n))
		for i := range r.n {
			buf[i] = r.at(i)
		}
		r.buf, r.head = buf, 0
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = x
	r.n++
}

func (r *ring[T]) popFront() T {
	x := r.front()
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	return x
}

func (r *ring[T]) popBack() { r.n-- }

func (r *ring[T]) clear() { r.head, r.n = 0, 0 }

// reset makes the ring hold all, reusing its array when its capacity is
// ringCap(len(all)) or more.
func (r *ring[T]) reset(all []T) {
	c := ringCap(len(all))
	if cap(all) >= c {
		r.buf = all[:c]
	} else {
		r.buf = make([]T, c)
		copy(r.buf, all)
	}
	r.head, r.n = 0, len(all)
}

// ringCap is the capacity of a ring holding n elements: a power of two.
func ringCap(n int) int {
	c := 4
	for c < n {
		c *= 2
	}
	return c
}
