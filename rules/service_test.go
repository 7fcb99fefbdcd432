package rules

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
)

const svcHotRule = `{"id":"hot","kind":"alert","match":{"metric":"temperature"},"threshold":{"op":">","value":30},"severity":"warning"}`

type svcRecorder struct {
	mu       sync.Mutex // guards the fields below
	alerts   []Alert
	received []time.Time
	points   []point.Reading
}

func (r *svcRecorder) alert(a Alert, received time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts, r.received = append(r.alerts, a), append(r.received, received)
}
func (r *svcRecorder) append(rs []point.Reading) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.points = append(r.points, rs...)
	return nil
}

func (r *svcRecorder) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func newService(t *testing.T, store kv.Store, cfg []Rule, rec *svcRecorder) *Service {
	t.Helper()
	s, err := NewService(ServiceOptions{Store: store, Config: cfg, Append: rec.append, Alert: rec.alert, Tick: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func TestServiceRunsRulesBesideIngest(t *testing.T) {
	rec := &svcRecorder{}
	window, err := ParseYAML([]byte(`
rules:
- id: avg
  kind: window
  match: {metric: temperature}
  window: {type: count, count: 2, aggregate: avg, output: {metric: temperature_avg2}}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := newService(t, kv.NewMem(), window, rec)
	r, err := ParseRuleJSON([]byte(svcHotRule))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(r, true); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	received := time.Now().Add(-3 * time.Millisecond)
	s.Observe([]point.Reading{
		{Device: "d1", Metric: "temperature", Time: now, Value: point.Float(20)},
		{Device: "d1", Metric: "temperature", Time: now + 1000, Value: point.Float(42)},
	}, received)
	rec.wait(t, "the alert and the derived point", func() bool { return len(rec.alerts) == 1 && len(rec.points) == 1 })
	if a := rec.alerts[0]; a.Rule != "hot" || a.Device != "d1" || a.State != AlertTriggered || a.Value != 42 {
		t.Fatalf("alert = %+v", a)
	}
	// The alert carries when the node received its reading, not when the
	// engine got to it.
	if at := rec.received[0]; !at.Equal(received) {
		t.Fatalf("received %v, want the time given to Observe, %v", at, received)
	}
	// Without one, the time of the Observe call.
	before := time.Now()
	s.Observe([]point.Reading{{Device: "d2", Metric: "temperature", Time: now, Value: point.Float(43)}}, time.Time{})
	after := time.Now()
	rec.wait(t, "the second alert", func() bool { return len(rec.alerts) == 2 })
	if at := rec.received[len(rec.received)-1]; at.Before(before) || at.After(after) {
		t.Fatalf("received %v, want the Observe call's time, between %v and %v", at, before, after)
	}
	if p := rec.points[0]; p.Metric != "temperature_avg2" || p.Value.Float() != 31 {
		t.Fatalf("derived point = %+v, want temperature_avg2 = 31", p)
	}
}

func TestServiceRuleChanges(t *testing.T) {
	store := kv.NewMem()
	cfg, err := ParseYAML([]byte("rules:\n- {id: fixed, kind: alert, match: {metric: x}, threshold: {op: '<', value: 0}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := newService(t, store, cfg, &svcRecorder{})
	hot, _ := ParseRuleJSON([]byte(svcHotRule))
	if _, err := s.Put(hot, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(hot, true); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if _, err := s.Put(cfg[0], false); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("update of a config rule: %v, want ErrReadOnly", err)
	}
	if err := s.Delete("fixed"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("delete of a config rule: %v, want ErrReadOnly", err)
	}
	bad := hot
	bad.Threshold = nil
	bad.Expr = "value >"
	if _, err := s.Put(bad, false); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid update: %v, want ErrInvalid", err)
	}
	v, err := s.SetDisabled("hot", true)
	if err != nil || !v.Rule.Disabled || v.Status.State != "disabled" {
		t.Fatalf("disable: %+v, %v", v, err)
	}

	// A new service over the same store has the API rule, as last saved.
	s2 := newService(t, store, cfg, &svcRecorder{})
	got, err := s2.Get("hot")
	if err != nil || got.Source != SourceAPI || !got.Rule.Disabled {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
	if err := s2.Delete("hot"); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Get("hot"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted rule: %v", err)
	}
	if len(s2.List()) != 1 {
		t.Fatalf("list = %+v, want only the config rule", s2.List())
	}
}

func TestServiceNeverBlocksIngest(t *testing.T) {
	rec := &svcRecorder{}
	cfg := []Rule{{ID: "hot", Kind: KindAlert, Match: Match{Metric: "m"}, Cond: Cond{Threshold: &Threshold{Op: ">", Value: 0}}}}
	s, err := NewService(ServiceOptions{QueueSize: 1, Config: cfg, Alert: rec.alert})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Not started: nothing drains the queue, yet Observe returns at once.
	done := make(chan struct{})
	go func() {
		for i := 0; i < 100; i++ {
			s.Observe([]point.Reading{{Device: "d", Metric: "m", Value: point.Float(1)}}, time.Time{})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Observe blocked on a full queue")
	}
}

// TestServiceSkipsReadingsNoRuleReads: without a rule that reads readings
// (status rules only), Observe queues nothing; with one, it does.
func TestServiceSkipsReadingsNoRuleReads(t *testing.T) {
	status := Rule{ID: "gone", Kind: KindAlert, Match: Match{Event: "status"}, Cond: Cond{Threshold: &Threshold{Op: "==", Value: 0}}}
	s, err := NewService(ServiceOptions{Config: []Rule{status}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs := []point.Reading{{Device: "d", Metric: "m", Value: point.Float(1)}}
	s.Observe(rs, time.Time{})
	if n := len(s.in); n != 0 {
		t.Fatalf("%d batches queued with no rule reading them", n)
	}
	reading := Rule{ID: "hot", Kind: KindAlert, Match: Match{Metric: "m"}, Cond: Cond{Threshold: &Threshold{Op: ">", Value: 0}}}
	if _, err := s.Put(reading, true); err != nil {
		t.Fatal(err)
	}
	s.Observe(rs, time.Time{})
	if n := len(s.in); n != 1 {
		t.Fatalf("%d batches queued with a rule reading them, want 1", n)
	}
}

// TestServiceCompilesOnce checks that the service uses the config rules
// compiled by its caller and that a change over the API compiles only the
// changed rule: every other rule keeps its compiled form and its state.
func TestServiceCompilesOnce(t *testing.T) {
	cfg := benchMix(50, 5, 10)
	pre, err := CompileAll(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &svcRecorder{}
	s, err := NewService(ServiceOptions{Config: cfg, Compiled: pre[1:], Alert: rec.alert})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	compiled := func(id string) *Compiled { return s.eng.byID[id].c }
	if compiled(pre[1].Rule.ID) != pre[1] || compiled(pre[0].Rule.ID) == nil {
		t.Fatal("config rules compiled again, or the one not handed over not compiled")
	}
	// An alert of a config rule stays active across changes of other rules.
	s.eng.Observe(point.Reading{Device: "dev-0001", Metric: "temperature", Time: base.UnixMilli(), Value: point.Float(99)})
	active := s.eng.Status()
	if active[0].ActiveAlerts != 1 {
		t.Fatalf("status of %s: %+v, want an active alert", active[0].ID, active[0])
	}
	before := map[string]*Compiled{}
	for _, c := range pre[1:] {
		before[c.Rule.ID] = compiled(c.Rule.ID)
	}
	hot, _ := ParseRuleJSON([]byte(svcHotRule))
	if _, err := s.Put(hot, true); err != nil {
		t.Fatal(err)
	}
	hot.Threshold.Value = 31
	if _, err := s.Put(hot, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("hot"); err != nil {
		t.Fatal(err)
	}
	for id, c := range before {
		if compiled(id) != c {
			t.Fatalf("rule %s compiled again", id)
		}
	}
	if after := s.eng.Status(); !reflect.DeepEqual(after, active) {
		t.Fatalf("status changed:\n got %+v\nwant %+v", after, active)
	}
}

// BenchmarkPutWith10000Rules is one change over the API with 10,000 rules
// loaded (the bench measured 585 ms when the whole set was compiled again).
func BenchmarkPutWith10000Rules(b *testing.B) {
	s, err := NewService(ServiceOptions{Config: benchMix(10_000, 50, 10)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	hot, _ := ParseRuleJSON([]byte(svcHotRule))
	if _, err := s.Put(hot, true); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		hot.Threshold = &Threshold{Op: ">", Value: float64(i % 100)}
		if _, err := s.Put(hot, false); err != nil {
			b.Fatal(err)
		}
	}
}

// TestServiceStoresQueuedPointsTogether checks that derived points queued
// together are stored by one Append, in order with the alerts between
// them.
func TestServiceStoresQueuedPointsTogether(t *testing.T) {
	var calls []string
	s, err := NewService(ServiceOptions{
		Append: func(rs []point.Reading) error {
			for _, r := range rs {
				calls = append(calls, r.Metric)
			}
			calls = append(calls, "|")
			return nil
		},
		Alert: func(a Alert, _ time.Time) { calls = append(calls, "alert "+a.Rule) },
	})
	if err != nil {
		t.Fatal(err)
	}
	pt := func(m string) Output { return Output{Kind: OutputPoint, Point: point.Reading{Metric: m}} }
	for _, o := range []Output{pt("b"), pt("c"), {Kind: OutputAlert, Alert: Alert{Rule: "r"}}, pt("d")} {
		s.emit(o)
	}
	s.handleQueued(pt("a")) // not started: nothing else reads s.out
	if got, want := strings.Join(calls, " "), "a b c | alert r d |"; got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
	s.Close()
}
