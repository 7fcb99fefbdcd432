package rules

import (
	"fmt"
	"math"

	"github.com/edgevault/edgevault/point"
)

type patternSpec struct {
	seq       bool
	n         int // steps that must hold (all: every step)
	within    int64
	perDevice bool
	steps     []stepSpec
}

type stepSpec struct {
	match matcher
	cond  *condition
}

// maxSteps bounds a pattern's conditions.
const maxSteps = 32

// never marks a step that has not held in the current window.
const never = math.MinInt64

func (c *Compiled) compilePattern(ec exprCache) error {
	r := &c.Rule
	p := r.Pattern
	if p == nil {
		return invalid(r.ID, "pattern", "required for kind pattern")
	}
	if r.Window != nil || r.Threshold != nil || r.Expr != "" || r.Trend != nil || r.Fluctuation != nil {
		return invalid(r.ID, "kind", "pattern rules put their conditions in pattern.steps")
	}
	if r.Match.Where != "" || len(r.Match.metrics()) > 0 || r.Match.Event != "" {
		return invalid(r.ID, "match", "a pattern's match filters device and tags; put metric, event and where in the steps")
	}
	if r.For != 0 {
		return invalid(r.ID, "for", "not supported on patterns; use pattern.within")
	}
	if err := checkSeverity(r); err != nil {
		return err
	}
	if len(p.Steps) < 1 || len(p.Steps) > maxSteps {
		return invalid(r.ID, "pattern.steps", "want 1 to %d steps, have %d", maxSteps, len(p.Steps))
	}
	if err := checkSpan(r.ID, "pattern.within", p.Within); err != nil {
		return err
	}
	spec := &patternSpec{within: p.Within.ms(), n: len(p.Steps)}
	if err := spec.shape(r.ID, p); err != nil {
		return err
	}
	for i := range p.Steps {
		st, err := compileStep(ec, r.ID, i, &p.Steps[i])
		if err != nil {
			return err
		}
		spec.steps = append(spec.steps, st)
	}
	c.pat = spec
	return nil
}

func (s *patternSpec) shape(id string, p *Pattern) error {
	switch p.Type {
	case "all", "sequence":
		if p.N != 0 {
			return invalid(id, "pattern.n", "only for type any")
		}
		s.seq = p.Type == "sequence"
	case "any":
		s.n = p.N
		if s.n == 0 {
			s.n = 1
		}
		if s.n < 1 || s.n > len(p.Steps) {
			return invalid(id, "pattern.n", "must be between 1 and the number of steps (%d)", len(p.Steps))
		}
	default:
		return invalid(id, "pattern.type", "unknown type %q (want all, any or sequence)", p.Type)
	}
	switch p.Per {
	case "", "device":
		s.perDevice = true
	case "all":
	default:
		return invalid(id, "pattern.per", "unknown %q (want device or all)", p.Per)
	}
	return nil
}

func compileStep(ec exprCache, id string, i int, st *Step) (stepSpec, error) {
	prefix := fmt.Sprintf("pattern.steps[%d].", i)
	m, err := compileMatch(ec, id, prefix+"match", &st.Match)
	if err != nil {
		return stepSpec{}, err
	}
	c, err := compileCond(ec, id, prefix, &st.Cond)
	if err != nil {
		return stepSpec{}, err
	}
	if m.status && (c.kind == condTrend || c.kind == condFluct) {
		return stepSpec{}, invalid(id, prefix+"match.event", "status events take a threshold or condition")
	}
	return stepSpec{match: m, cond: c}, nil
}

// patGroup is the state of a pattern for one device (or for all devices).
type patGroup struct {
	at        []int64 // all/any: when each step last held; sequence: start of the partial match ending at each step
	matchedAt int64   // sequence: when the last match completed
}

func (e *Engine) patternObserve(rs *ruleState, step int, r *point.Reading, v float64, isNum bool) {
	spec := rs.c.pat
	key := seriesID{step: step, device: r.Device, metric: r.Metric}
	ok, err := e.evalCond(rs, spec.steps[step].cond, key, r, v, isNum)
	if err != nil {
		e.fail(rs, err)
		return
	}
	rs.consec = 0
	gk := "*"
	if spec.perDevice {
		gk = r.Device
	}
	g := rs.groups[gk]
	if g == nil {
		if !ok {
			return
		}
		if len(rs.groups) >= e.opts.MaxKeys {
			e.stats.Dropped++
			return
		}
		g = &patGroup{at: make([]int64, len(spec.steps)), matchedAt: never}
		for i := range g.at {
			g.at[i] = never
		}
		rs.groups[gk] = g
	}
	if ok {
		if spec.seq {
			e.sequenceStep(rs, gk, g, step, r, v)
			return
		}
		g.at[step] = max(g.at[step], r.Time)
	}
	if !spec.seq {
		e.alertUpdate(rs, gk, &point.Reading{Device: gk, Metric: r.Metric}, spec.holds(g, r.Time), v, r.Time)
	}
}

// holds reports whether at least n steps held within the pattern's window
// ending at now.
func (s *patternSpec) holds(g *patGroup, now int64) bool {
	n := 0
	for _, t := range g.at {
		if t != never && t >= now-s.within && t <= now {
			n++
		}
	}
	return n >= s.n
}

// sequenceStep advances the partial matches of a sequence: g.at[i] is the
// start time of the latest partial match that completed steps 0..i.
func (e *Engine) sequenceStep(rs *ruleState, gk string, g *patGroup, step int, r *point.Reading, v float64) {
	s := rs.c.pat
	t := r.Time
	if step == 0 {
		g.at[0] = max(g.at[0], t)
	} else if prev := g.at[step-1]; prev != never && t-prev <= s.within && t >= prev {
		g.at[step] = max(g.at[step], prev)
	}
	if last := len(g.at) - 1; g.at[last] != never {
		for i := range g.at {
			g.at[i] = never
		}
		g.matchedAt = t
		st := rs.alerts[gk]
		if st != nil && st.active {
			return // one active alert per rule and device
		}
		e.alertUpdate(rs, gk, &point.Reading{Device: gk, Metric: r.Metric}, true, v, t)
	}
}

func (e *Engine) patternTick(rs *ruleState) {
	s := rs.c.pat
	for _, gk := range sortedKeys(rs.groups) {
		g := rs.groups[gk]
		st := rs.alerts[gk]
		active := st != nil && st.active
		if s.seq {
			for i, t := range g.at {
				if t != never && e.now-t > s.within {
					g.at[i] = never
				}
			}
			if active && e.now-g.matchedAt >= s.within {
				e.alertUpdate(rs, gk, &point.Reading{Device: gk, Metric: st.metric}, false, st.value, e.now)
			}
		} else if active && !s.holds(g, e.now) {
			e.alertUpdate(rs, gk, &point.Reading{Device: gk, Metric: st.metric}, false, st.value, e.now)
		}
		if !active && e.idle(g, s) {
			if st != nil {
				st.pending = false // a match held back by the cooldown has expired
			}
			delete(rs.groups, gk)
		}
	}
}

// idle reports whether a group holds nothing that can still matter.
func (e *Engine) idle(g *patGroup, s *patternSpec) bool {
	for _, t := range g.at {
		if t != never && e.now-t <= s.within {
			return false
		}
	}
	return true
}
