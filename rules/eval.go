package rules

import (
	"fmt"
	"math"

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

// evalBool evaluates x for the reading r of value v (NaN when not a
// number): as closures when it has them, else on the VM.
func (e *Engine) evalBool(x *boolExpr, r *point.Reading, v float64) (bool, error) {
	if x.fast != nil {
		return x.fast(v, r.Device, r.Metric), nil
	}
	e.setEnv(r, v, x.tagsIn)
	if x.metaIn && e.opts.Meta != nil {
		e.env.Meta = e.opts.Meta(r.Device)
	}
	out, err := e.vm.Run(x.prog, &e.env)
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
		return e.evalBool(c.expr, r, v)
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
		s = newSamples(c.kind == condFluct)
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

func compare(op opCode, a, b float64) bool {
	switch op {
	case opGT:
		return a > b
	case opLT:
		return a < b
	case opGE:
		return a >= b
	case opLE:
		return a <= b
	case opEQ:
		return a == b
	case opNE:
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
