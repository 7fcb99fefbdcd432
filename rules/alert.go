package rules

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/edgevault/edgevault/point"
)

// alertState is the lifecycle of the alert of one rule for one device (or
// one pattern group). There is at most one per rule and device: that is
// the deduplication.
type alertState struct {
	pending   bool  // condition holds, waiting for `for` or the cooldown
	since     int64 // when the condition started to hold
	active    bool  // triggered and not resolved
	acked     bool
	firedAt   int64
	hasFired  bool
	lastFired int64 // for the cooldown; kept after resolution
	value     float64
	metric    string
	device    string
	tags      []point.Tag
}

// alertKey names the series an alert is about: the device, followed by the
// tags in braces when the reading has any ("rooms{room=kitchen}").
func alertKey(device string, tags []point.Tag) string {
	if len(tags) == 0 {
		return device
	}
	var b strings.Builder
	b.WriteString(device)
	for i, t := range tags {
		if i == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(t.Key + "=" + t.Value)
	}
	b.WriteByte('}')
	return b.String()
}

func (e *Engine) alertObserve(rs *ruleState, r *point.Reading, v float64, isNum bool) {
	key := seriesID{step: -1, device: r.Device, metric: r.Metric}
	ok, err := e.evalCond(rs, rs.c.cond, key, r, v, isNum)
	if err != nil {
		e.fail(rs, err)
		return
	}
	rs.consec = 0
	if !ok && len(rs.alerts) == 0 {
		return // nothing to clear: skip building the key
	}
	e.alertUpdate(rs, alertKey(r.Device, r.Tags), r, ok, v, r.Time)
}

// alertUpdate moves the alert of rs for key according to whether its
// condition holds at time t; r is the event that was evaluated.
func (e *Engine) alertUpdate(rs *ruleState, key string, r *point.Reading, holds bool, v float64, t int64) {
	st := rs.alerts[key]
	if !holds {
		if st == nil {
			return
		}
		if st.active {
			st.value, st.metric = v, r.Metric
			e.emitAlert(rs, key, st, AlertResolved, t, "")
		}
		st.pending, st.active, st.acked = false, false, false
		if rs.c.Rule.Cooldown == 0 || !st.hasFired {
			delete(rs.alerts, key)
		}
		return
	}
	if st == nil {
		if len(rs.alerts) >= e.opts.MaxKeys {
			e.stats.Dropped++
			return
		}
		st = &alertState{device: r.Device, tags: slices.Clone(r.Tags)}
		rs.alerts[key] = st
	}
	st.value, st.metric = v, r.Metric
	if st.active {
		return
	}
	if !st.pending {
		st.pending, st.since = true, t
	}
	e.tryFire(rs, key, st, t)
}

func (e *Engine) tryFire(rs *ruleState, key string, st *alertState, now int64) {
	r := &rs.c.Rule
	if now-st.since < r.For.ms() {
		return
	}
	if st.hasFired && now-st.lastFired < r.Cooldown.ms() {
		return
	}
	st.pending, st.active, st.acked = false, true, false
	st.firedAt, st.lastFired, st.hasFired = now, now, true
	e.emitAlert(rs, key, st, AlertTriggered, now, "")
}

func (e *Engine) alertTick(rs *ruleState) {
	var due []string
	for dev, st := range rs.alerts {
		if st.pending {
			due = append(due, dev)
		}
	}
	if len(due) == 0 {
		return
	}
	sort.Strings(due)
	for _, dev := range due {
		e.tryFire(rs, dev, rs.alerts[dev], e.now)
	}
}

func (e *Engine) emitAlert(rs *ruleState, key string, st *alertState, state AlertState, t int64, by string) {
	r := &rs.c.Rule
	a := Alert{
		Rule: r.ID, Key: key, Device: st.device, Tags: st.tags, Metric: st.metric, Severity: r.Severity, State: state,
		Value: st.value, Time: t, Since: st.firedAt, By: by,
	}
	a.Message = formatMessage(r, &a)
	e.emit(Output{Kind: OutputAlert, Rule: r.ID, Alert: a})
}

func formatMessage(r *Rule, a *Alert) string {
	msg := r.Message
	if msg == "" {
		msg = "{rule} on {device}: {value}"
	}
	if !strings.Contains(msg, "{") {
		return msg
	}
	return strings.NewReplacer(
		"{rule}", r.ID, "{device}", a.Device, "{metric}", a.Metric,
		"{value}", strconv.FormatFloat(a.Value, 'g', 6, 64), "{severity}", string(a.Severity),
	).Replace(msg)
}

// Ack acknowledges the active alert of a rule for a series key (Alert.Key:
// the device id for readings without tags), by whom, at Options.Now().
// Acknowledging an acknowledged alert does nothing.
func (e *Engine) Ack(rule, key, by string) error {
	at := e.opts.Now().UnixMilli()
	e.mu.Lock()
	defer e.mu.Unlock()
	rs, st, err := e.activeAlert(rule, key)
	if err != nil {
		return err
	}
	if st.acked {
		return nil
	}
	st.acked = true
	e.emitAlert(rs, key, st, AlertAcknowledged, at, by)
	return nil
}

// Resolve resolves the active alert of a rule for a series key by hand. If
// the condition still holds the alert triggers again, after the cooldown.
func (e *Engine) Resolve(rule, key, by string) error {
	at := e.opts.Now().UnixMilli()
	e.mu.Lock()
	defer e.mu.Unlock()
	rs, st, err := e.activeAlert(rule, key)
	if err != nil {
		return err
	}
	st.active, st.acked, st.pending = false, false, false
	e.emitAlert(rs, key, st, AlertResolved, at, by)
	return nil
}

func (e *Engine) activeAlert(rule, key string) (*ruleState, *alertState, error) {
	rs := e.byID[rule]
	if rs == nil {
		return nil, nil, fmt.Errorf("rule %q: %w", rule, ErrNoAlert)
	}
	st := rs.alerts[key]
	if st == nil || !st.active {
		return nil, nil, fmt.Errorf("rule %q key %q: %w", rule, key, ErrNoAlert)
	}
	return rs, st, nil
}

// resolveAll resolves the active alerts of a rule being replaced or removed,
// so no alert is left open without a rule to close it.
func (e *Engine) resolveAll(rs *ruleState, why string, at int64) {
	for _, key := range sortedKeys(rs.alerts) {
		st := rs.alerts[key]
		if !st.active {
			continue
		}
		st.active = false
		r := &rs.c.Rule
		a := Alert{Rule: r.ID, Key: key, Device: st.device, Tags: st.tags, Metric: st.metric, Severity: r.Severity,
			State: AlertResolved, Value: st.value, Time: at, Since: st.firedAt, Message: why}
		e.emit(Output{Kind: OutputAlert, Rule: r.ID, Alert: a})
	}
}
