package routing

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/edgevault/edgevault/point"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxSeriesPerRule bounds the series a sample rule tracks.
const DefaultMaxSeriesPerRule = 10_000

// Options configures a Router. The zero value is usable.
type Options struct {
	// Now is the clock of interval sampling; nil means time.Now.
	Now func() time.Time
	// MaxSeriesPerRule caps the series state of each sample rule; readings
	// of further series are stored unsampled and counted as overflow.
	// Zero means DefaultMaxSeriesPerRule.
	MaxSeriesPerRule int
	// Registerer, when set, receives edgevault_routing_readings_total.
	// Routers rebuilt on the same Registerer share the counter.
	Registerer prometheus.Registerer
	// Logger reports the first overflow of each sampler; nil means slog.Default().
	Logger *slog.Logger
}

// Router applies compiled routing rules. It is safe for concurrent use and
// immutable apart from sampling state and counters: to change the rules,
// build a new Router (sampling state starts afresh).
type Router struct {
	rules    []*rule            // evaluation order
	byMetric map[string][]int32 // rules whose metric is a literal, by metric
	general  []int32            // the others; both lists ascending
	now      func() time.Time
	log      *slog.Logger
}

// New checks the rules and builds a Router.
func New(rules []Rule, opts Options) (*Router, error) {
	compiled, byMetric, general, err := compileAll(rules)
	if err != nil {
		return nil, err
	}
	vec, err := newReadingsVec(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("register routing metrics: %w", err)
	}
	r := &Router{rules: compiled, byMetric: byMetric, general: general, now: opts.Now, log: opts.Logger}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	max := opts.MaxSeriesPerRule
	if max <= 0 {
		max = DefaultMaxSeriesPerRule
	}
	for _, ru := range compiled {
		ru.stats = newRuleStats(vec, ru.name)
		if ru.sampler != nil {
			ru.sampler.max = max
		}
	}
	return r, nil
}

// Len is the number of rules.
func (r *Router) Len() int { return len(r.rules) }

// Decision is what the rules decided for a batch of readings, by index in
// the batch. The zero Decision stores everything at normal priority with no
// forwards, and that is what Route returns, without allocating, when no
// rule matches.
type Decision struct {
	// Drop[i] is true when reading i must not be stored; nil when none is dropped.
	Drop []bool
	// Priority[i] is the uplink priority of reading i; nil when all are normal.
	Priority []Priority
	// Forwards group the readings to send per target, in order of first use.
	Forwards []Target
}

// Target is one delivery target and the readings to send to it. Exactly
// one of Topic (an MQTT publish topic) and URL (a webhook) is set.
type Target struct {
	Rule     string // the first rule that forwarded to this target
	Topic    string
	URL      string
	Readings []point.Reading
	last     int // index of the last reading appended, against duplicates
}

// Stored reports whether reading i is to be stored.
func (d Decision) Stored(i int) bool { return d.Drop == nil || !d.Drop[i] }

// PriorityOf is the uplink priority of reading i.
func (d Decision) PriorityOf(i int) Priority {
	if d.Priority == nil {
		return PriorityNormal
	}
	return d.Priority[i]
}

// Keep returns the readings to store: rs itself when none is dropped.
func (d Decision) Keep(rs []point.Reading) []point.Reading {
	if d.Drop == nil {
		return rs
	}
	out := make([]point.Reading, 0, len(rs))
	for i := range rs {
		if !d.Drop[i] {
			out = append(out, rs[i])
		}
	}
	return out
}

func (d *Decision) drop(i, n int) {
	if d.Drop == nil {
		d.Drop = make([]bool, n)
	}
	d.Drop[i] = true
}

func (d *Decision) setPriority(i, n int, p Priority) {
	if d.Priority == nil {
		d.Priority = make([]Priority, n)
	}
	d.Priority[i] = p
}

// addForward appends reading i to the group of its target; a reading sent
// to the same target by two rules is sent once.
func (d *Decision) addForward(rule, topic, url string, i int, rd *point.Reading) bool {
	for k := range d.Forwards {
		f := &d.Forwards[k]
		if f.Topic == topic && f.URL == url {
			if f.last == i {
				return false
			}
			f.Readings = append(f.Readings, *rd)
			f.last = i
			return true
		}
	}
	d.Forwards = append(d.Forwards, Target{Rule: rule, Topic: topic, URL: url, Readings: []point.Reading{*rd}, last: i})
	return true
}
