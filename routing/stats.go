package routing

import (
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats counts what the rules did since the Router was built.
type Stats struct {
	Dropped    uint64 // readings not stored because of a drop rule
	SampledOut uint64 // readings not stored because a sample rule skipped them
	Forwarded  uint64 // reading deliveries added to Decision.Forwards
	Overflow   uint64 // readings stored unsampled because a sampler was full
	Rules      []RuleStats
}

// RuleStats are the counters of one rule, in evaluation order.
type RuleStats struct {
	Name       string
	Action     Action
	Matched    uint64
	Dropped    uint64
	SampledOut uint64
	Forwarded  uint64
	Overflow   uint64
	Series     int // series tracked by a sample rule
}

// ruleStats are the live counters of one rule: atomics for Stats and the
// Prometheus children, resolved once at compile time.
type ruleStats struct {
	matched, dropped, sampledOut, forwarded, overflow atomic.Uint64

	pMatched, pDropped, pSampledOut, pForwarded, pOverflow prometheus.Counter
}

func newReadingsVec(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgevault_routing_readings_total",
		Help: "Readings seen by routing rules, by rule and outcome: matched, dropped, sampled_out, forwarded, overflow (stored unsampled: sampler full).",
	}, []string{"rule", "outcome"})
	if reg == nil {
		return vec, nil
	}
	if err := reg.Register(vec); err != nil {
		// A Router rebuilt after a rule change keeps counting on the same vector.
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return old, nil
			}
		}
		return nil, err
	}
	return vec, nil
}

func newRuleStats(vec *prometheus.CounterVec, name string) *ruleStats {
	return &ruleStats{
		pMatched:    vec.WithLabelValues(name, "matched"),
		pDropped:    vec.WithLabelValues(name, "dropped"),
		pSampledOut: vec.WithLabelValues(name, "sampled_out"),
		pForwarded:  vec.WithLabelValues(name, "forwarded"),
		pOverflow:   vec.WithLabelValues(name, "overflow"),
	}
}

func inc(a *atomic.Uint64, c prometheus.Counter) {
	a.Add(1)
	c.Inc()
}

// Stats returns the counters of every rule and their totals.
func (r *Router) Stats() Stats {
	var s Stats
	s.Rules = make([]RuleStats, len(r.rules))
	for i, ru := range r.rules {
		rs := RuleStats{
			Name: ru.name, Action: ru.action,
			Matched: ru.stats.matched.Load(), Dropped: ru.stats.dropped.Load(),
			SampledOut: ru.stats.sampledOut.Load(), Forwarded: ru.stats.forwarded.Load(),
			Overflow: ru.stats.overflow.Load(),
		}
		if ru.sampler != nil {
			rs.Series = ru.sampler.tracked()
		}
		s.Rules[i] = rs
		s.Dropped += rs.Dropped
		s.SampledOut += rs.SampledOut
		s.Forwarded += rs.Forwarded
		s.Overflow += rs.Overflow
	}
	return s
}
