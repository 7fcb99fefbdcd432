package rules

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/edgevault/edgevault/point"
)

// Options configures an Engine. The zero value works: wall clock, outputs
// discarded, default logger.
type Options struct {
	// Now is the clock Tick reads. nil means time.Now.
	Now func() time.Time
	// Emit receives every output, synchronously and with the engine locked:
	// it must not block and must not call back into the Engine. nil
	// discards outputs.
	Emit func(Output)
	// Logger logs rules entering the error state. nil means slog.Default().
	Logger *slog.Logger
	// Meta returns the metadata of a device for meta["..."] in expressions
	// and meta:NAME window keys. nil means no metadata.
	Meta func(device string) map[string]any
	// Latest returns the latest value of a series for latest(). nil means
	// the engine remembers the latest numeric value of every reading it
	// observes (only while some rule calls latest).
	Latest func(device, metric string) (float64, bool)
	// MaxFailures is the number of consecutive run-time failures after
	// which a rule enters the error state. 0 means 10.
	MaxFailures int
	// MaxSamples bounds the samples a trend or fluctuation condition keeps
	// per series; the oldest are dropped beyond it. 0 means 4096.
	MaxSamples int
	// MaxKeys bounds the window keys (or alert devices, pattern groups) one
	// rule tracks; readings for new keys beyond it are counted in
	// Stats().Dropped. 0 means 100,000.
	MaxKeys int
}

// Stats are cumulative counters of an Engine.
type Stats struct {
	Readings uint64 // readings observed
	Late     uint64 // readings behind a window's watermark (or beyond ±2^62 ms), not aggregated
	Dropped  uint64 // readings ignored because a rule reached MaxKeys
	Outputs  uint64 // outputs emitted
	Errors   uint64 // run-time rule failures
}

// RuleStatus describes one loaded rule.
type RuleStatus struct {
	ID           string `json:"id"`
	Kind         Kind   `json:"kind"`
	State        string `json:"state"`  // "ok", "disabled" or "error"
	Errors       uint64 `json:"errors"` // run-time failures since the rule was loaded
	LastError    string `json:"last_error,omitempty"`
	Late         uint64 `json:"late"`
	ActiveAlerts int    `json:"active_alerts"`
}

// Engine evaluates rules against readings and device status changes. All
// methods are safe for concurrent use; they serialise on one mutex, and
// Observe does no I/O, so its cost is the evaluation of the matching rules.
type Engine struct {
	opts   Options
	logger *slog.Logger
	latFn  func(device, metric string) float64

	mu    sync.Mutex // guards the following
	rules []*ruleState
	// received is the batch's time during ObserveBatchAt, for emit.
	received time.Time
	byID     map[string]*ruleState
	// The index of reading hooks has three classes, visited in this
	// order, each in rule order (hook.seq): exact metric names (byMetric,
	// or byMetricDev when the device is exact too), any metric of one
	// exact device (byDevice), and the rest (wild, or wildDev when the
	// device is exact). A reading only visits the hooks of its metric and
	// device, plus the wild ones.
	byMetric    map[string][]hook
	byMetricDev map[seriesRef][]hook
	byDevice    map[string][]hook
	wild        []hook
	wildDev     map[string][]hook
	status      []hook
	// matched caches, per series key, the hooks whose static part (device,
	// metric, tags; a pattern's own match) accepts the series, in visiting
	// order: a reading then costs one lookup instead of four and no
	// matching. Cleared by reindex and when it reaches maxMatched series.
	matched map[string][]visit
	// byDev caches the same for readings without tags, per device and
	// then per metric: the readings of one message share their device, so
	// after the first the lookup is a comparison with lastDev instead of
	// a series key built and hashed. cachedSeries counts the series of
	// matched and byDev together against maxMatched.
	byDev        map[string]*devSeries
	lastDev      string
	lastDS       *devSeries
	cachedSeries int
	noHooks      bool // no reading hook at all: dispatch has nothing to do
	// wantsReadings is false when no rule reads readings (no reading hook,
	// no latest()): Service.Observe then skips the queue. Read without mu.
	wantsReadings atomic.Bool
	// slowVisits turns visit.quiet off: only the test that compares the
	// outputs with and without it sets it.
	slowVisits bool
	keyBuf     []byte // scratch for series keys
	merged     winAcc // scratch for a hopping window merged from its panes
	track      bool   // remember latest values
	latest     map[seriesRef]float64
	now        int64 // latest Tick time, Unix ms
	stats      Stats
	env        Env
	vm         vm.VM
}

type seriesRef struct{ device, metric string }

// hook attaches a rule (step < 0) or one pattern step to the index; seq
// is its position in the index, which orders the hooks a reading visits.
type hook struct {
	rs   *ruleState
	step int
	m    *matcher
	seq  int
}

// ruleState is a compiled rule with its run-time state.
type ruleState struct {
	c       *Compiled
	win     map[string]*winKey
	alerts  map[string]*alertState
	groups  map[string]*patGroup
	series  map[seriesID]*samples
	errors  uint64
	consec  int
	broken  bool
	lastErr string
	late    uint64
}

// maxDepth bounds how far derived points feed further rules (a window of a
// window of a window), which also stops rule cycles.
const maxDepth = 3

// New returns an Engine with no rules.
func New(opts Options) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Emit == nil {
		opts.Emit = func(Output) {}
	}
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 10
	}
	if opts.MaxSamples <= 0 {
		opts.MaxSamples = 4096
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 100_000
	}
	e := &Engine{opts: opts, logger: opts.Logger, byID: map[string]*ruleState{}, latest: map[seriesRef]float64{}}
	if e.logger == nil {
		e.logger = slog.Default()
	}
	e.latFn = e.latestValue
	return e
}

// Set compiles rules and replaces the engine's rule set atomically: on any
// error nothing changes. Rules whose definition is unchanged keep their
// state (open windows, active alerts); active alerts of removed or changed
// rules are resolved.
func (e *Engine) Set(rules []Rule) error {
	compiled, err := CompileAll(rules)
	if err != nil {
		return err
	}
	e.SetCompiled(compiled)
	return nil
}

// CompileAll compiles a rule set, refusing duplicate ids. The error joins
// the errors of every invalid rule.
func CompileAll(rules []Rule) ([]*Compiled, error) {
	var errs []error
	out := make([]*Compiled, 0, len(rules))
	seen := make(map[string]bool, len(rules))
	ec := exprCache{}
	for _, r := range rules {
		if seen[r.ID] {
			errs = append(errs, invalid(r.ID, "id", "duplicate id"))
			continue
		}
		seen[r.ID] = true
		c, err := compile(r, ec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// SetCompiled is Set for rules compiled already. Alerts it resolves carry
// the time Options.Now(). Handing the same *Compiled again is the cheap way
// to keep a rule: a change of one rule in a large set costs a pass over the
// set, not a compilation of it.
func (e *Engine) SetCompiled(compiled []*Compiled) {
	at := e.opts.Now().UnixMilli()
	e.mu.Lock()
	defer e.mu.Unlock()
	next := make([]*ruleState, 0, len(compiled))
	byID := make(map[string]*ruleState, len(compiled))
	for _, c := range compiled {
		rs := e.byID[c.Rule.ID]
		if rs == nil || rs.c != c && !reflect.DeepEqual(rs.c.Rule, c.Rule) {
			if rs != nil {
				e.resolveAll(rs, "rule changed", at)
			}
			rs = newRuleState(c)
		}
		rs.broken, rs.consec = false, 0 // setting a rule again retries it
		next = append(next, rs)
		byID[c.Rule.ID] = rs
	}
	for id, rs := range e.byID {
		if byID[id] == nil {
			e.resolveAll(rs, "rule removed", at)
		}
	}
	e.rules, e.byID = next, byID
	e.reindex()
}

func newRuleState(c *Compiled) *ruleState {
	return &ruleState{
		c:      c,
		win:    map[string]*winKey{},
		alerts: map[string]*alertState{},
		groups: map[string]*patGroup{},
		series: map[seriesID]*samples{},
	}
}

func (e *Engine) reindex() {
	// The sizes of the previous index are a good guess at the next one's.
	e.byMetric = make(map[string][]hook, len(e.byMetric))
	e.byMetricDev = make(map[seriesRef][]hook, len(e.byMetricDev))
	e.byDevice = make(map[string][]hook, len(e.byDevice))
	e.wildDev = make(map[string][]hook, len(e.wildDev))
	e.wild, e.status, e.track = nil, nil, false
	e.clearMatched()
	seq := 0
	for _, rs := range e.rules {
		c := rs.c
		if c.Rule.Disabled {
			continue
		}
		e.track = e.track || (c.usesLatest && e.opts.Latest == nil)
		if c.pat == nil {
			e.add(hook{rs: rs, step: -1, m: &c.match, seq: seq}, exactDevice(&c.match, nil))
			seq++
			continue
		}
		// Later steps first: a sequence step must see the state from before
		// the current event, so one event cannot complete two steps.
		for i := len(c.pat.steps) - 1; i >= 0; i-- {
			m := &c.pat.steps[i].match
			e.add(hook{rs: rs, step: i, m: m, seq: seq}, exactDevice(m, &c.match))
			seq++
		}
	}
	if !e.track {
		clear(e.latest)
	}
	e.noHooks = len(e.byMetric)+len(e.byMetricDev)+len(e.byDevice)+len(e.wild)+len(e.wildDev) == 0
	e.wantsReadings.Store(!e.noHooks || e.track)
}

// maxMatched bounds the series whose hook lists are cached (a list is a
// few hundred bytes for a series that many rules watch).
const maxMatched = 1 << 16

// devSeries is the cached hook lists of one device's series without tags,
// by metric (a device has a handful: a linear search).
type devSeries struct {
	metrics []string
	visits  [][]visit
}

// clearMatched empties the caches of hook lists.
func (e *Engine) clearMatched() {
	e.matched = make(map[string][]visit)
	e.byDev = make(map[string]*devSeries)
	e.lastDev, e.lastDS, e.cachedSeries = "", nil, 0
}

// visits returns the hooks a reading of r's series visits (collect),
// cached.
func (e *Engine) visits(r *point.Reading) []visit {
	if len(r.Tags) > 0 {
		e.keyBuf = point.AppendSeriesKey(e.keyBuf[:0], r.Device, r.Metric, r.Tags)
		if hooks, ok := e.matched[string(e.keyBuf)]; ok {
			return hooks
		}
		hooks := e.collect(r)
		e.countSeries()
		e.matched[string(e.keyBuf)] = hooks
		return hooks
	}
	ds := e.deviceSeries(r.Device)
	for i, m := range ds.metrics {
		if m == r.Metric {
			return ds.visits[i]
		}
	}
	hooks := e.collect(r)
	if e.countSeries() {
		ds = e.deviceSeries(r.Device) // the caches started over
	}
	ds.metrics = append(ds.metrics, r.Metric)
	ds.visits = append(ds.visits, hooks)
	return hooks
}

// deviceSeries is the cache entry of device, made if need be: the last
// device's without a map lookup.
func (e *Engine) deviceSeries(device string) *devSeries {
	if e.lastDS != nil && device == e.lastDev {
		return e.lastDS
	}
	ds := e.byDev[device]
	if ds == nil {
		ds = &devSeries{}
		e.byDev[device] = ds
	}
	e.lastDev, e.lastDS = device, ds
	return ds
}

// countSeries counts one more cached series, first emptying the caches
// when they hold maxMatched; it reports whether it did.
func (e *Engine) countSeries() bool {
	cleared := false
	if e.cachedSeries >= maxMatched {
		e.clearMatched()
		cleared = true
	}
	e.cachedSeries++
	return cleared
}

// exactDevice is the one device a hook can match, or "" for a glob or any
// device. A pattern step also needs the pattern's own match (outer).
func exactDevice(m, outer *matcher) string {
	if m.device != "" && !m.devGl {
		return m.device
	}
	if outer != nil && outer.device != "" && !outer.devGl {
		return outer.device
	}
	return ""
}

func (e *Engine) add(h hook, dev string) {
	switch {
	case h.m.status:
		e.status = append(e.status, h)
	case h.m.any && len(h.m.exact) == 0 && len(h.m.globs) == 0 && h.m.device != "" && !h.m.devGl:
		e.byDevice[h.m.device] = append(e.byDevice[h.m.device], h)
	case (h.m.any || len(h.m.globs) > 0) && dev != "":
		e.wildDev[dev] = append(e.wildDev[dev], h)
	case h.m.any || len(h.m.globs) > 0:
		e.wild = append(e.wild, h)
	case dev != "":
		for _, name := range h.m.exact {
			k := seriesRef{device: dev, metric: name}
			e.byMetricDev[k] = append(e.byMetricDev[k], h)
		}
	default:
		for _, name := range h.m.exact {
			e.byMetric[name] = append(e.byMetric[name], h)
		}
	}
}

// Observe feeds one reading to the rules that can match it. It never blocks
// on I/O; outputs go to Options.Emit before it returns.
func (e *Engine) Observe(r point.Reading) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.observe(&r)
}

// ObserveBatch is Observe for each reading in turn, under one lock.
func (e *Engine) ObserveBatch(rs []point.Reading) { e.ObserveBatchAt(rs, time.Time{}) }

// ObserveBatchAt is ObserveBatch for readings that were received at
// received (wall clock), which the outputs they cause carry in
// Output.Received.
func (e *Engine) ObserveBatchAt(rs []point.Reading, received time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.received = received
	for i := range rs {
		e.observe(&rs[i]) // read only, and no pointer into rs is kept
	}
	e.received = time.Time{}
}

func (e *Engine) observe(r *point.Reading) {
	e.stats.Readings++
	if e.track {
		if v, ok := r.Value.AsFloat(); ok {
			e.latest[seriesRef{r.Device, r.Metric}] = v
		}
	}
	e.dispatch(r, 0)
}

func (e *Engine) dispatch(r *point.Reading, depth int) {
	if e.noHooks {
		return
	}
	hooks := e.visits(r)
	x, isNum := r.Value.AsFloat()
	if !isNum {
		x = nan
	}
	for i := range hooks {
		v := &hooks[i]
		if v.quiet(x, isNum) {
			continue
		}
		e.handle(v.hook, r, x, isNum, depth)
	}
}

// visit is a hook as the per-series cache keeps it. Most readings reach
// threshold alerts whose condition does not hold and that have no alert to
// clear; for those, the threshold is copied here so that the reading
// skips them without loading the compiled rule.
type visit struct {
	hook
	fast bool // a threshold alert without where: quiet decides
	op   opCode
	thr  float64
}

func (e *Engine) newVisit(h hook) visit {
	v := visit{hook: h}
	c := h.rs.c
	if !e.slowVisits && h.step < 0 && c.win == nil && c.pat == nil && h.m.where == nil && c.cond != nil && c.cond.kind == condThreshold {
		v.fast, v.op, v.thr = true, c.cond.op, c.cond.thr
	}
	return v
}

// quiet reports that handle would do nothing for a reading of value x: a
// fast visit whose rule is broken, or whose threshold does not hold with
// no alert state to clear. (A threshold never fails, so the rule's run of
// failures, which handle resets, is already zero.)
func (v *visit) quiet(x float64, isNum bool) bool {
	if !v.fast {
		return false
	}
	rs := v.rs
	return rs.broken || !(isNum && compare(v.op, x, v.thr)) && len(rs.alerts) == 0
}

// collect lists the hooks a reading of r's series visits, in order: those
// of its metric, of its device, then the wild ones, each class in index
// order, keeping those whose static match accepts the series.
func (e *Engine) collect(r *point.Reading) []visit {
	var out []visit
	keep := func(h hook) {
		if h.m.matches(r) && (h.step < 0 || h.rs.c.match.matches(r)) {
			out = append(out, e.newVisit(h))
		}
	}
	merge := func(a, b []hook) {
		for len(a) > 0 || len(b) > 0 {
			if len(b) == 0 || len(a) > 0 && a[0].seq < b[0].seq {
				keep(a[0])
				a = a[1:]
			} else {
				keep(b[0])
				b = b[1:]
			}
		}
	}
	merge(e.byMetric[r.Metric], e.byMetricDev[seriesRef{r.Device, r.Metric}])
	merge(e.byDevice[r.Device], nil)
	merge(e.wild, e.wildDev[r.Device])
	return out
}

// handle runs one hook whose static match accepts r (collect); v is r's
// value as a number (NaN when it is not one).
func (e *Engine) handle(h hook, r *point.Reading, v float64, isNum bool, depth int) {
	rs := h.rs
	if rs.broken {
		return
	}
	if h.m.where != nil {
		ok, err := e.evalBool(h.m.where, r, v)
		if err != nil {
			e.fail(rs, err)
			return
		}
		if !ok {
			return
		}
	}
	switch {
	case rs.c.win != nil:
		if isNum {
			e.windowObserve(rs, r, v, depth)
		}
	case rs.c.pat != nil:
		e.patternObserve(rs, h.step, r, v, isNum)
	default:
		e.alertObserve(rs, r, v, isNum)
	}
}

// DeviceStatus reports an online/offline transition of a device. Rules with
// match.event "status" see it as an event with an empty metric, online set
// and value 1 (online) or 0 (offline).
func (e *Engine) DeviceStatus(device string, online bool, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v := 0.0
	if online {
		v = 1
	}
	r := point.Reading{Device: device, Time: at.UnixMilli(), Value: point.Bool(online)}
	for _, h := range e.status {
		rs := h.rs
		if rs.broken || !h.m.matchDevice(device) || (h.step >= 0 && !rs.c.match.matchDevice(device)) {
			continue
		}
		if h.m.where != nil {
			ok, err := e.evalBool(h.m.where, &r, v)
			if err != nil {
				e.fail(rs, err)
				continue
			}
			if !ok {
				continue
			}
		}
		if rs.c.pat != nil {
			e.patternObserve(rs, h.step, &r, v, true)
		} else {
			e.alertObserve(rs, &r, v, true)
		}
	}
}

// Tick advances time-driven state to Options.Now(): windows whose end has
// passed the watermark close, pending alerts whose `for` has elapsed
// trigger, pattern matches that left their time window expire.
func (e *Engine) Tick() {
	now := e.opts.Now().UnixMilli()
	e.mu.Lock()
	defer e.mu.Unlock()
	if now > e.now {
		e.now = now
	}
	for _, rs := range e.rules {
		if rs.broken || rs.c.Rule.Disabled {
			continue
		}
		switch {
		case rs.c.win != nil:
			e.windowTick(rs)
		case rs.c.pat != nil:
			e.patternTick(rs)
		default:
			e.alertTick(rs)
		}
		e.pruneSeries(rs)
	}
}

// pruneSeries forgets trend and fluctuation samples that have all left
// their condition's duration.
func (e *Engine) pruneSeries(rs *ruleState) {
	for id, s := range rs.series {
		c := rs.c.cond
		if id.step >= 0 {
			c = rs.c.pat.steps[id.step].cond
		}
		if s.len() == 0 || s.newest() < e.now-c.over {
			delete(rs.series, id)
		}
	}
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Status describes every loaded rule, in the order they were set.
func (e *Engine) Status() []RuleStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]RuleStatus, 0, len(e.rules))
	for _, rs := range e.rules {
		out = append(out, rs.status())
	}
	return out
}

// statusOf describes one loaded rule.
func (e *Engine) statusOf(id string) (RuleStatus, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rs := e.byID[id]
	if rs == nil {
		return RuleStatus{}, false
	}
	return rs.status(), true
}

func (rs *ruleState) status() RuleStatus {
	st := RuleStatus{ID: rs.c.Rule.ID, Kind: rs.c.Rule.Kind, State: "ok", Errors: rs.errors, LastError: rs.lastErr, Late: rs.late}
	switch {
	case rs.broken:
		st.State = "error"
	case rs.c.Rule.Disabled:
		st.State = "disabled"
	}
	for _, a := range rs.alerts {
		if a.active {
			st.ActiveAlerts++
		}
	}
	return st
}

func (e *Engine) emit(o Output) {
	e.stats.Outputs++
	o.Received = e.received
	e.opts.Emit(o)
}

// fail counts a run-time failure of a rule and puts the rule in the error
// state after MaxFailures in a row; the other rules carry on.
func (e *Engine) fail(rs *ruleState, err error) {
	id := rs.c.Rule.ID
	rs.errors++
	rs.consec++
	rs.lastErr = err.Error()
	e.stats.Errors++
	if rs.consec >= e.opts.MaxFailures {
		rs.broken = true
		err = fmt.Errorf("%w after %d failures: %w", ErrRuleError, rs.consec, err)
		e.logger.Warn("rule disabled after repeated failures", "rule", id, "failures", rs.consec, "err", rs.lastErr)
	}
	e.emit(Output{Kind: OutputError, Rule: id, Err: fmt.Errorf("rule %q: %w", id, err)})
}

func (e *Engine) latestValue(device, metric string) float64 {
	if e.opts.Latest != nil {
		if v, ok := e.opts.Latest(device, metric); ok {
			return v
		}
		return nan
	}
	if v, ok := e.latest[seriesRef{device, metric}]; ok {
		return v
	}
	return nan
}

// sortedKeys returns the keys of m in order, so outputs of a Tick are
// deterministic.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
