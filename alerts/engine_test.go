package alerts

import (
	"testing"
	"time"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/rules"
)

// TestWithEngine folds the transitions of a real rules engine, including
// the REST flow (History first, then the engine's echo).
func TestWithEngine(t *testing.T) {
	now := t0
	var out []rules.Alert
	e := rules.New(rules.Options{Now: func() time.Time { return now }, Emit: func(o rules.Output) {
		if o.Kind == rules.OutputAlert {
			out = append(out, o.Alert)
		}
	}})
	rs, err := rules.ParseYAML([]byte(`rules:
  - id: freezer-warm
    kind: alert
    match: {metric: temperature}
    threshold: {op: ">", value: -10}
    severity: critical
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Set(rs); err != nil {
		t.Fatal(err)
	}
	h := open(t, kv.NewMem(), Options{Now: func() time.Time { return now }})
	drain := func() {
		for _, a := range out {
			mustRecord(t, h, a)
		}
		out = out[:0]
	}
	observe := func(v float64) {
		e.Observe(point.Reading{Device: "freezer-1", Metric: "temperature", Time: now.UnixMilli(), Value: point.Float(v)})
		drain()
	}
	observe(-5) // triggers
	got, _, _ := h.List(Filter{})
	if len(got) != 1 || got[0].State != rules.AlertTriggered || got[0].Severity != rules.SeverityCritical {
		t.Fatalf("after trigger: %+v", got)
	}
	id := got[0].ID
	now = now.Add(time.Minute)
	if _, err := h.Ack(id, "ann"); err != nil {
		t.Fatal(err)
	}
	if err := e.Ack("freezer-warm", got[0].Key, "ann"); err != nil {
		t.Fatal(err)
	}
	drain()
	now = now.Add(time.Minute)
	observe(-20) // resolves
	a, err := h.Get(id)
	if err != nil || a.State != rules.AlertResolved || a.AcknowledgedBy != "ann" || !a.AcknowledgedAt.Equal(t0.Add(time.Minute)) ||
		!a.ResolvedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("after resolution: %+v %v", a, err)
	}
	now = now.Add(time.Minute)
	observe(0) // a new lifecycle
	if got, _, _ = h.List(Filter{}); len(got) != 2 || got[0].ID <= id || got[0].State != rules.AlertTriggered {
		t.Fatalf("second trigger: %+v", got)
	}
}
