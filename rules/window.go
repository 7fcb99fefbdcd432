package rules

import (
	"fmt"
	"math"

	"github.com/expr-lang/expr/vm"

	"github.com/edgevault/edgevault/point"
)

type keyKind uint8

const (
	keyDevice keyKind = iota
	keyAll
	keyTag
	keyMeta
)

type windowSpec struct {
	count     int   // count windows; 0 for time windows
	size, hop int64 // ms
	lateness  int64
	key       keyKind
	keyName   string
	agg       string
	value     *vm.Program
	outMetric string
	outDevice string
}

// maxHopsPerWindow bounds size/hop: each reading updates that many windows.
const maxHopsPerWindow = 1000

func (c *Compiled) compileWindow(ec exprCache) error {
	r := &c.Rule
	w := r.Window
	if w == nil {
		return invalid(r.ID, "window", "required for kind window")
	}
	if r.Pattern != nil || r.Threshold != nil || r.Expr != "" || r.Trend != nil || r.Fluctuation != nil {
		return invalid(r.ID, "kind", "window rules take no condition or pattern; add an alert rule on the output metric")
	}
	if c.match.status {
		return invalid(r.ID, "match.event", "window rules aggregate readings, not status events")
	}
	spec := &windowSpec{lateness: w.Lateness.ms()}
	if err := spec.shape(r.ID, w); err != nil {
		return err
	}
	if w.Lateness.D() > maxSpan {
		return invalid(r.ID, "window.lateness", "longer than %v", maxSpan)
	}
	if err := spec.parseKey(r.ID, w.Key); err != nil {
		return err
	}
	if err := spec.setValue(ec, r.ID, w); err != nil {
		return err
	}
	if err := point.ValidName(w.Output.Metric); err != nil {
		return invalid(r.ID, "window.output.metric", "%v", err)
	}
	spec.outMetric, spec.outDevice = w.Output.Metric, w.Output.Device
	if spec.outDevice == "" {
		spec.outDevice = r.ID
	} else if err := point.ValidName(spec.outDevice); err != nil {
		return invalid(r.ID, "window.output.device", "%v", err)
	}
	c.win = spec
	return nil
}

func (s *windowSpec) shape(id string, w *Window) error {
	switch w.Type {
	case "tumbling", "hopping":
		if err := checkSpan(id, "window.size", w.Size); err != nil {
			return err
		}
		s.size, s.hop = w.Size.ms(), w.Hop.ms()
		if w.Type == "tumbling" && s.hop != 0 && s.hop != s.size {
			return invalid(id, "window.hop", "tumbling windows hop by their size; use type hopping")
		}
		if s.hop == 0 {
			if w.Type == "hopping" {
				return invalid(id, "window.hop", "required for hopping windows")
			}
			s.hop = s.size
		}
		if s.hop > s.size || s.hop <= 0 {
			return invalid(id, "window.hop", "must be positive and at most the size")
		}
		if s.size/s.hop > maxHopsPerWindow {
			return invalid(id, "window.hop", "size/hop is more than %d", maxHopsPerWindow)
		}
		if w.Count != 0 {
			return invalid(id, "window.count", "only for count windows")
		}
	case "count":
		if w.Count <= 0 || w.Count > 1_000_000 {
			return invalid(id, "window.count", "must be between 1 and 1000000")
		}
		if w.Size != 0 || w.Hop != 0 || w.Lateness != 0 {
			return invalid(id, "window", "count windows take no size, hop or lateness")
		}
		s.count = w.Count
	default:
		return invalid(id, "window.type", "unknown type %q (want tumbling, hopping or count)", w.Type)
	}
	return nil
}

func (s *windowSpec) parseKey(id, key string) error {
	name, arg := key, ""
	for i := 0; i < len(key); i++ {
		if key[i] == ':' {
			name, arg = key[:i], key[i+1:]
			break
		}
	}
	switch name {
	case "", "device":
		s.key = keyDevice
	case "all":
		s.key = keyAll
	case "tag", "meta":
		if err := point.ValidName(arg); err != nil {
			return invalid(id, "window.key", "%s key needs a name: %v", name, err)
		}
		s.key, s.keyName = keyTag, arg
		if name == "meta" {
			s.key = keyMeta
		}
	default:
		return invalid(id, "window.key", "unknown key %q (want device, all, tag:NAME or meta:NAME)", key)
	}
	if (s.key == keyDevice || s.key == keyAll) && arg != "" {
		return invalid(id, "window.key", "%s takes no argument", name)
	}
	return nil
}

func (s *windowSpec) setValue(ec exprCache, id string, w *Window) error {
	if w.Value != "" {
		if w.Aggregate != "" {
			return invalid(id, "window.value", "set aggregate or value, not both")
		}
		p, err := ec.compile(id, "window.value", w.Value, resultFloat)
		if err != nil {
			return err
		}
		s.value = p
		return nil
	}
	switch w.Aggregate {
	case "":
		s.agg = "avg"
	case "count", "sum", "avg", "min", "max", "stddev", "first", "last":
		s.agg = w.Aggregate
	default:
		return invalid(id, "window.aggregate", "unknown aggregate %q (want count, sum, avg, min, max, stddev, first or last)", w.Aggregate)
	}
	return nil
}

// winKey is the state of one window key (a device, a tag value, or all).
type winKey struct {
	wm   int64     // latest event time seen
	open []*winAcc // time windows by start
	cur  *winAcc   // count windows
	tags []point.Tag
	dev  string
}

type winAcc struct {
	start int64
	n     int
	last  int64 // event time of the latest reading
	m     []metricAcc
}

type metricAcc struct {
	metric string
	a      acc
}

// acc accumulates one metric; stddev uses Welford's algorithm.
type acc struct {
	n, sum, mean, m2, min, max, first, last float64
	firstT, lastT                           int64
}

func (a *acc) add(t int64, v float64) {
	a.n++
	a.sum += v
	d := v - a.mean
	a.mean += d / a.n
	a.m2 += d * (v - a.mean)
	if a.n == 1 {
		a.min, a.max, a.first, a.last, a.firstT, a.lastT = v, v, v, v, t, t
		return
	}
	a.min, a.max = math.Min(a.min, v), math.Max(a.max, v)
	if t < a.firstT {
		a.first, a.firstT = v, t
	}
	if t >= a.lastT {
		a.last, a.lastT = v, t
	}
}

func (a *acc) agg() Agg {
	g := Agg{Count: a.n, Sum: a.sum, Avg: a.mean, Min: a.min, Max: a.max, First: a.first, Last: a.last}
	if a.n > 1 {
		g.Stddev = math.Sqrt(a.m2 / a.n) // population standard deviation
	}
	return g
}

func (w *winAcc) add(metric string, t int64, v float64) {
	w.n++
	if t > w.last {
		w.last = t
	}
	for i := range w.m {
		if w.m[i].metric == metric {
			w.m[i].a.add(t, v)
			return
		}
	}
	w.m = append(w.m, metricAcc{metric: metric})
	w.m[len(w.m)-1].a.add(t, v)
}

// windowKey returns the key a reading aggregates under; false when the
// reading lacks the tag or metadata the key needs.
func (e *Engine) windowKey(s *windowSpec, r *point.Reading) (string, bool) {
	switch s.key {
	case keyDevice:
		return r.Device, true
	case keyAll:
		return "", true
	case keyTag:
		return tagValue(r.Tags, s.keyName)
	}
	if e.opts.Meta == nil {
		return "", false
	}
	mv, ok := e.opts.Meta(r.Device)[s.keyName]
	if !ok || mv == nil {
		return "", false
	}
	return fmt.Sprint(mv), true
}

func (e *Engine) windowObserve(rs *ruleState, r *point.Reading, v float64, depth int) {
	s := rs.c.win
	key, ok := e.windowKey(s, r)
	if !ok {
		return
	}
	k := rs.win[key]
	if k == nil {
		if len(rs.win) >= e.opts.MaxKeys {
			e.stats.Dropped++
			return
		}
		k = &winKey{wm: math.MinInt64, dev: s.outDevice}
		switch s.key {
		case keyDevice:
			k.dev = r.Device
		case keyTag, keyMeta:
			k.tags = []point.Tag{{Key: s.keyName, Value: key}}
		}
		rs.win[key] = k
	}
	if s.count > 0 {
		e.countObserve(rs, k, r, v, depth)
		return
	}
	k.wm = max(k.wm, r.Time)
	wm := e.watermark(s, k)
	if r.Time < wm {
		rs.late++
		e.stats.Late++
		return
	}
	first := r.Time - r.Time%s.hop
	if r.Time < 0 && r.Time%s.hop != 0 {
		first -= s.hop
	}
	for start := first; start > r.Time-s.size; start -= s.hop {
		k.window(start).add(r.Metric, r.Time, v)
	}
	e.closeWindows(rs, k, wm, depth)
}

// watermark is the time before which a key's windows are complete: the
// latest event time seen (or the latest Tick, whichever is later) minus the
// allowed lateness.
func (e *Engine) watermark(s *windowSpec, k *winKey) int64 {
	return max(k.wm, e.now) - s.lateness
}

// window returns the open window starting at start, creating it in order.
func (k *winKey) window(start int64) *winAcc {
	i := len(k.open)
	for i > 0 && k.open[i-1].start > start {
		i--
	}
	if i > 0 && k.open[i-1].start == start {
		return k.open[i-1]
	}
	w := &winAcc{start: start, last: math.MinInt64}
	k.open = append(k.open, nil)
	copy(k.open[i+1:], k.open[i:])
	k.open[i] = w
	return w
}

func (e *Engine) closeWindows(rs *ruleState, k *winKey, wm int64, depth int) {
	s := rs.c.win
	n := 0
	for n < len(k.open) && k.open[n].start+s.size <= wm {
		e.emitWindow(rs, k, k.open[n], k.open[n].start, depth)
		n++
	}
	if n > 0 {
		k.open = append(k.open[:0], k.open[n:]...)
	}
}

func (e *Engine) countObserve(rs *ruleState, k *winKey, r *point.Reading, v float64, depth int) {
	if k.cur == nil {
		k.cur = &winAcc{last: math.MinInt64}
	}
	k.cur.add(r.Metric, r.Time, v)
	if k.cur.n >= rs.c.win.count {
		w := k.cur
		k.cur = nil
		e.emitWindow(rs, k, w, w.last, depth)
	}
}

func (e *Engine) windowTick(rs *ruleState) {
	if rs.c.win.count > 0 {
		return
	}
	for _, key := range sortedKeys(rs.win) {
		k := rs.win[key]
		if len(k.open) > 0 {
			e.closeWindows(rs, k, e.watermark(rs.c.win, k), 0)
		}
		if len(k.open) == 0 && k.wm <= e.now {
			// An idle key whose watermark the Tick has caught up with
			// holds nothing the Tick watermark does not also enforce:
			// forget it so departed devices cost no memory.
			delete(rs.win, key)
		}
	}
}

// emitWindow emits the result of a closed window as a derived point and
// feeds it to the rules that match its metric. A window whose value is NaN
// (an expression over missing data) emits nothing.
func (e *Engine) emitWindow(rs *ruleState, k *winKey, w *winAcc, t int64, depth int) {
	s := rs.c.win
	v, err := e.windowValue(s, k, w, t)
	if err != nil {
		e.fail(rs, err)
		return
	}
	rs.consec = 0
	if math.IsNaN(v) {
		return
	}
	p := point.Reading{Device: k.dev, Metric: s.outMetric, Tags: k.tags, Time: t, Value: point.Float(v)}
	e.emit(Output{Kind: OutputPoint, Rule: rs.c.Rule.ID, Point: p})
	if e.track {
		e.latest[seriesRef{p.Device, p.Metric}] = v
	}
	if depth < maxDepth {
		e.dispatch(&p, depth+1)
	}
}

func (e *Engine) windowValue(s *windowSpec, k *winKey, w *winAcc, t int64) (float64, error) {
	first := w.m[0].a.agg()
	if s.value == nil {
		return pick(first, s.agg), nil
	}
	aggs := make(map[string]Agg, len(w.m))
	for i := range w.m {
		aggs[w.m[i].metric] = w.m[i].a.agg()
	}
	e.env = Env{Event: "window", Device: k.dev, Metric: s.outMetric, Time: t, W: first, Agg: aggs, Latest: e.latFn}
	out, err := e.vm.Run(s.value, &e.env)
	if err != nil {
		return 0, fmt.Errorf("evaluate window value: %w", err)
	}
	f, ok := out.(float64)
	if !ok {
		return 0, fmt.Errorf("evaluate window value: result %T is not a number", out)
	}
	return f, nil
}

func pick(a Agg, name string) float64 {
	switch name {
	case "count":
		return a.Count
	case "sum":
		return a.Sum
	case "min":
		return a.Min
	case "max":
		return a.Max
	case "stddev":
		return a.Stddev
	case "first":
		return a.First
	case "last":
		return a.Last
	}
	return a.Avg
}
