package rules

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

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
	pane      int64 // ms, gcd(size, hop): the slices a time window is made of
	lateness  int64
	key       keyKind
	keyName   string
	agg       string
	value     *vm.Program
	outMetric string
	outDevice string
}

// maxPanesPerWindow bounds size/gcd(size, hop): the panes a key keeps
// and a closing window merges (size/hop when the hop divides the size).
const maxPanesPerWindow = 1000

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
		s.pane = gcd(s.size, s.hop)
		if s.size/s.pane > maxPanesPerWindow {
			if s.size%s.hop == 0 {
				return invalid(id, "window.hop", "size/hop is more than %d", maxPanesPerWindow)
			}
			return invalid(id, "window.hop", "size/gcd(size, hop) is more than %d: a window of %v every %v is made of %d slices of %v; use a hop that divides the size",
				maxPanesPerWindow, w.Size.D(), w.Hop.D(), s.size/s.pane, time.Duration(s.pane)*time.Millisecond)
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
//
// A time window is made of panes, the slices of length gcd(size, hop)
// that its start and end fall between (Li et al., "No pane, no gain",
// SIGMOD Record 2005): a reading is added to its one pane, not to each of
// the size/hop windows that hold it, and a closing window merges its panes.
// A tumbling window is its one pane.
type winKey struct {
	wm    int64     // latest event time seen
	panes []*winAcc // time windows' panes with readings, by start
	next  int64     // start of the next time window to emit
	seq   uint64    // numbers the readings of time windows, for the order of metrics
	cur   *winAcc   // count windows
	tags  []point.Tag
	dev   string
}

type winAcc struct {
	start int64
	n     int
	last  int64 // event time of the latest reading
	m     []metricAcc
}

type metricAcc struct {
	metric string
	seq    uint64 // arrival of the metric's first reading (winKey.seq)
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

// merge adds the readings b accumulated to a, as if a had seen them after
// its own (Chan, Golub and LeVeque's pairwise update of the mean and the sum
// of squared deviations).
func (a *acc) merge(b *acc) {
	if b.n == 0 {
		return
	}
	if a.n == 0 {
		*a = *b
		return
	}
	n := a.n + b.n
	d := b.mean - a.mean
	a.mean += d * b.n / n
	a.m2 += b.m2 + d*d*a.n*b.n/n
	a.n = n
	a.sum += b.sum
	a.min, a.max = math.Min(a.min, b.min), math.Max(a.max, b.max)
	if b.firstT < a.firstT {
		a.first, a.firstT = b.first, b.firstT
	}
	if b.lastT >= a.lastT {
		a.last, a.lastT = b.last, b.lastT
	}
}

func (a *acc) agg() Agg {
	g := Agg{Count: a.n, Sum: a.sum, Avg: a.mean, Min: a.min, Max: a.max, First: a.first, Last: a.last}
	if a.n > 1 {
		g.Stddev = math.Sqrt(a.m2 / a.n) // population standard deviation
	}
	return g
}

// add aggregates a reading; seq numbers the metric in case it is the
// first of its metric in w.
func (w *winAcc) add(metric string, t int64, v float64, seq uint64) {
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
	w.m = append(w.m, metricAcc{metric: metric, seq: seq})
	w.m[len(w.m)-1].a.add(t, v)
}

// mergeFrom makes w's aggregates those of panes together (in time
// order), its metrics in the order of their first reading's arrival. Only
// the aggregates are set: a time window's result needs nothing else.
func (w *winAcc) mergeFrom(panes []*winAcc) {
	w.m = w.m[:0]
	for _, p := range panes {
	next:
		for i := range p.m {
			pm := &p.m[i]
			for j := range w.m {
				if w.m[j].metric == pm.metric {
					w.m[j].a.merge(&pm.a)
					w.m[j].seq = min(w.m[j].seq, pm.seq)
					continue next
				}
			}
			w.m = append(w.m, *pm)
		}
	}
	slices.SortStableFunc(w.m, func(a, b metricAcc) int { return cmp.Compare(a.seq, b.seq) })
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

// maxWindowTime bounds the event times time windows take, in Unix ms
// either side of the epoch (146 million years): within it their
// arithmetic (a start plus a size or a hop) cannot overflow.
const maxWindowTime = 1 << 62

func (e *Engine) windowObserve(rs *ruleState, r *point.Reading, v float64, depth int) {
	s := rs.c.win
	if s.count == 0 && (r.Time > maxWindowTime || r.Time < -maxWindowTime) {
		// A clock gone wrong: late for every window, and the key's
		// watermark does not move.
		rs.late++
		e.stats.Late++
		return
	}
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
		k = &winKey{wm: math.MinInt64, next: math.MinInt64, dev: s.outDevice}
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
	k.seq++
	k.pane(floorTo(r.Time, s.pane)).add(r.Metric, r.Time, v, k.seq)
	e.closeWindows(rs, k, wm, depth)
}

// floorTo rounds t down to a multiple of m (m > 0), negative t included.
func floorTo(t, m int64) int64 {
	r := t % m
	if r < 0 {
		r += m
	}
	return t - r
}

// ceilTo rounds t up to a multiple of m (m > 0).
func ceilTo(t, m int64) int64 { return -floorTo(-t, m) }

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// watermark is the time before which a key's windows are complete: the
// latest event time seen (or the latest Tick, whichever is later) minus the
// allowed lateness.
func (e *Engine) watermark(s *windowSpec, k *winKey) int64 {
	return max(k.wm, e.now) - s.lateness
}

// pane returns the pane starting at start, creating it in order.
func (k *winKey) pane(start int64) *winAcc {
	i := len(k.panes)
	for i > 0 && k.panes[i-1].start > start {
		i--
	}
	if i > 0 && k.panes[i-1].start == start {
		return k.panes[i-1]
	}
	w := &winAcc{start: start, last: math.MinInt64}
	k.panes = append(k.panes, nil)
	copy(k.panes[i+1:], k.panes[i:])
	k.panes[i] = w
	return w
}

// closeWindows emits, in order, the windows with readings that end at or
// before wm, and forgets the panes no later window holds.
func (e *Engine) closeWindows(rs *ruleState, k *winKey, wm int64, depth int) {
	s := rs.c.win
	for len(k.panes) > 0 {
		// The first window holding the first pane, unless it was emitted:
		// the panes before k.next are gone, so the window starting there
		// holds the first pane.
		start := max(k.next, ceilTo(k.panes[0].start-s.size+1, s.hop))
		if start+s.size > wm {
			return
		}
		n := 1
		for n < len(k.panes) && k.panes[n].start < start+s.size {
			n++
		}
		w := k.panes[0]
		if n > 1 || s.pane != s.size {
			w = &e.merged
			w.mergeFrom(k.panes[:n])
		}
		k.next = start + s.hop
		drop := 0
		for drop < len(k.panes) && k.panes[drop].start < k.next {
			drop++
		}
		k.panes = append(k.panes[:0], k.panes[drop:]...)
		e.emitWindow(rs, k, w, start, depth)
	}
}

func (e *Engine) countObserve(rs *ruleState, k *winKey, r *point.Reading, v float64, depth int) {
	if k.cur == nil {
		k.cur = &winAcc{last: math.MinInt64}
	}
	k.cur.add(r.Metric, r.Time, v, 0) // one accumulator: its metrics are in arrival order
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
		if len(k.panes) > 0 {
			e.closeWindows(rs, k, e.watermark(rs.c.win, k), 0)
		}
		if len(k.panes) == 0 && k.wm <= e.now {
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
