package rules

import (
	"fmt"
	"math"
	"sort"

	"github.com/expr-lang/expr/vm"

	"github.com/edgevault/edgevault/point"
)

// setEnv loads a reading into the reusable expression environment. Maps are
// built only when the expression reads them.
func (e *Engine) setEnv(r *point.Reading, v float64, tagsIn bool) {
	e.env = Env{Event: "reading", Device: r.Device, Metric: r.Metric, Value: v, Time: r.Time, Latest: e.latFn}
	if r.Metric == "" { // a status event, see DeviceStatus
		e.env.Event, e.env.Online = "status", r.Value.Bool()
	}
	if r.Value.Kind() == point.KindString {
		e.env.Text = r.Value.Str()
	}
	if tagsIn && len(r.Tags) > 0 {
		e.env.Tags = make(map[string]string, len(r.Tags))
		for _, t := range r.Tags {
			e.env.Tags[t.Key] = t.Value
		}
	}
}

func (e *Engine) evalBool(p *vm.Program, tagsIn, metaIn bool, r *point.Reading, v float64) (bool, error) {
	e.setEnv(r, v, tagsIn)
	return e.run(p, metaIn, r.Device)
}

// run evaluates a boolean program against e.env.
func (e *Engine) run(p *vm.Program, metaIn bool, device string) (bool, error) {
	if metaIn && e.opts.Meta != nil {
		e.env.Meta = e.opts.Meta(device)
	}
	out, err := e.vm.Run(p, &e.env)
	if err != nil {
		return false, fmt.Errorf("evaluate: %w", err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("evaluate: result %T is not a bool", out)
	}
	return b, nil
}

// evalCond evaluates a condition for a reading; key names the series state
// of trend and fluctuation conditions.
func (e *Engine) evalCond(rs *ruleState, c *condition, key seriesID, r *point.Reading, v float64, isNum bool) (bool, error) {
	switch c.kind {
	case condThreshold:
		return isNum && compare(c.op, v, c.thr), nil
	case condExpr:
		return e.evalBool(c.prog, c.tagsIn, c.metaIn, r, v)
	}
	if !isNum || math.IsNaN(v) {
		return false, nil
	}
	s := rs.series[key]
	if s == nil {
		if len(rs.series) >= e.opts.MaxKeys {
			e.stats.Dropped++
			return false, nil
		}
		s = &samples{}
		rs.series[key] = s
	}
	s.add(r.Time, v, c.over, e.opts.MaxSamples)
	if c.kind == condTrend {
		slope, ok := s.slope(c.minSamples)
		if !ok {
			return false, nil
		}
		slope *= c.per
		return (c.above != nil && slope > *c.above) || (c.below != nil && slope < *c.below), nil
	}
	f, ok := s.fluctuation(c.minSamples)
	return ok && f > c.thr, nil
}

func compare(op string, a, b float64) bool {
	switch op {
	case ">":
		return a > b
	case "<":
		return a < b
	case ">=":
		return a >= b
	case "<=":
		return a <= b
	case "==":
		return a == b
	case "!=":
		return a != b
	}
	return false
}

// seriesID names the samples of one condition (rule-level or pattern step)
// for one series.
type seriesID struct {
	step           int
	device, metric string
}

// samples are the (time, value) pairs of one series inside a condition's
// duration, in time order.
type samples struct {
	t []int64
	v []float64
}

func (s *samples) add(t int64, v float64, over int64, max int) {
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

// slope is the least-squares slope in units per millisecond, in one pass
// over times taken relative to the oldest sample to keep precision.
func (s *samples) slope(min int) (float64, bool) {
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

// fluctuation is (max-min)/|mean|; false when the mean is zero.
func (s *samples) fluctuation(min int) (float64, bool) {
	if len(s.v) < min || len(s.v) == 0 {
		return 0, false
	}
	lo, hi, sum := s.v[0], s.v[0], 0.0
	for _, v := range s.v {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
		sum += v
	}
	mean := sum / float64(len(s.v))
	if mean == 0 {
		return 0, false
	}
	return (hi - lo) / math.Abs(mean), true
}
