package rules

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
)

type recorder struct {
	mu  sync.Mutex
	out []Output
}

func (r *recorder) emit(o Output) {
	r.mu.Lock()
	r.out = append(r.out, o)
	r.mu.Unlock()
}

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, o := range r.out {
		s = append(s, render(o))
	}
	r.out = nil
	return s
}

func testEngine(rec *recorder, now *time.Time) *Engine {
	return New(Options{
		Now:    func() time.Time { return *now },
		Emit:   rec.emit,
		Logger: slog.New(slog.DiscardHandler),
	})
}

func reading(dev, metric string, v float64, at time.Duration) point.Reading {
	return point.Reading{Device: dev, Metric: metric, Time: base.Add(at).UnixMilli(), Value: point.Float(v)}
}

func hotRule(limit float64) Rule {
	return Rule{ID: "hot", Kind: KindAlert, Match: Match{Metric: "t"}, Cond: Cond{Threshold: &Threshold{Op: ">", Value: limit}}}
}

func TestSetIsAtomicAndKeepsUnchangedState(t *testing.T) {
	rec, now := &recorder{}, base
	e := testEngine(rec, &now)
	if err := e.Set([]Rule{hotRule(30)}); err != nil {
		t.Fatal(err)
	}
	e.Observe(reading("d", "t", 35, 0))
	// An invalid set changes nothing.
	bad := Rule{ID: "bad", Kind: KindAlert, Cond: Cond{Expr: "nope("}}
	if err := e.Set([]Rule{hotRule(40), bad}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Set(bad) = %v", err)
	}
	// The same definition keeps the active alert: no second trigger.
	if err := e.Set([]Rule{hotRule(30)}); err != nil {
		t.Fatal(err)
	}
	e.Observe(reading("d", "t", 36, time.Second))
	// A changed definition resolves the old alert and applies at once.
	if err := e.Set([]Rule{hotRule(40)}); err != nil {
		t.Fatal(err)
	}
	e.Observe(reading("d", "t", 36, 2*time.Second))
	e.Observe(reading("d", "t", 41, 3*time.Second))
	// Removing the rule resolves its alert.
	if err := e.Set(nil); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"alert hot d triggered warning @0s = 35",
		"alert hot d resolved warning @0s = 36",
		"alert hot d triggered warning @3s = 41",
		"alert hot d resolved warning @0s = 41",
	}
	got := rec.lines()
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("output %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestLatestFromOptions(t *testing.T) {
	rec, now := &recorder{}, base
	e := New(Options{
		Now:  func() time.Time { return now },
		Emit: rec.emit,
		Latest: func(d, m string) (float64, bool) {
			return 3, d == "tank" && m == "level"
		},
	})
	r := Rule{ID: "pump-dry", Kind: KindAlert, Match: Match{Metric: "pump"}, Cond: Cond{Expr: `value == 1 && latest("tank", "level") < 5`}}
	if err := e.Set([]Rule{r}); err != nil {
		t.Fatal(err)
	}
	e.Observe(reading("p", "pump", 1, 0))
	if got := rec.lines(); len(got) != 1 || got[0] != "alert pump-dry p triggered warning @0s = 1" {
		t.Fatalf("got %q", got)
	}
}

func TestMaxKeysCountsDropped(t *testing.T) {
	rec, now := &recorder{}, base
	e := New(Options{Now: func() time.Time { return now }, Emit: rec.emit, MaxKeys: 2})
	w := Rule{ID: "w", Kind: KindWindow, Match: Match{Metric: "t"}, Window: &Window{Type: "count", Count: 10, Output: WindowOutput{Metric: "c"}}}
	if err := e.Set([]Rule{w}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a", "b", "c", "a"} {
		e.Observe(reading(d, "t", 1, 0))
	}
	if st := e.Stats(); st.Dropped != 1 || st.Readings != 4 {
		t.Errorf("stats = %+v, want 1 dropped of 4", st)
	}
}

func TestAckUnknownAlert(t *testing.T) {
	rec, now := &recorder{}, base
	e := testEngine(rec, &now)
	if err := e.Set([]Rule{hotRule(1)}); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"unknown rule": e.Ack("nope", "d", "x"),
		"no alert":     e.Ack("hot", "d", "x"),
		"resolve none": e.Resolve("hot", "d", "x"),
	} {
		if !errors.Is(err, ErrNoAlert) {
			t.Errorf("%s: err = %v, want ErrNoAlert", name, err)
		}
	}
}

func TestDisabledRuleIsIgnored(t *testing.T) {
	rec, now := &recorder{}, base
	e := testEngine(rec, &now)
	r := hotRule(1)
	r.Disabled = true
	if err := e.Set([]Rule{r}); err != nil {
		t.Fatal(err)
	}
	e.Observe(reading("d", "t", 5, 0))
	if got := rec.lines(); len(got) != 0 {
		t.Errorf("disabled rule emitted %q", got)
	}
	if st := e.Status(); len(st) != 1 || st[0].State != "disabled" {
		t.Errorf("status = %+v", st)
	}
}

// TestConcurrentUse exercises every entry point from several goroutines;
// run with -race.
func TestConcurrentUse(t *testing.T) {
	rec, now := &recorder{}, base
	var nowMu sync.Mutex
	e := New(Options{
		Now:  func() time.Time { nowMu.Lock(); defer nowMu.Unlock(); return now },
		Emit: rec.emit,
	})
	rules := []Rule{hotRule(50), {ID: "w", Kind: KindWindow, Match: Match{Metric: "t"},
		Window: &Window{Type: "tumbling", Size: Duration(time.Second), Output: WindowOutput{Metric: "t1s"}}}}
	if err := e.Set(rules); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				e.Observe(reading("d", "t", float64(i%100), time.Duration(i)*10*time.Millisecond))
				switch i % 100 {
				case 0:
					e.Tick()
				case 50:
					_ = e.Set(rules)
					_ = e.Status()
				}
			}
		}()
	}
	wg.Wait()
	if st := e.Stats(); st.Readings != 2000 {
		t.Errorf("readings = %d", st.Readings)
	}
}

func TestIdleStateIsForgotten(t *testing.T) {
	rec, now := &recorder{}, base
	e := testEngine(rec, &now)
	rules := []Rule{
		{ID: "w", Kind: KindWindow, Match: Match{Metric: "t"}, Window: &Window{Type: "tumbling", Size: Duration(time.Minute), Output: WindowOutput{Metric: "t1m"}}},
		{ID: "f", Kind: KindAlert, Match: Match{Metric: "t"}, Cond: Cond{Fluctuation: &Fluctuation{Over: Duration(time.Minute), Above: 1}}},
	}
	if err := e.Set(rules); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		e.Observe(reading(fmt.Sprintf("d%d", i), "t", 1, 0))
	}
	now = base.Add(5 * time.Minute)
	e.Tick()
	e.mu.Lock()
	w, f := len(e.byID["w"].win), len(e.byID["f"].series)
	e.mu.Unlock()
	if w != 0 || f != 0 {
		t.Errorf("after idle tick: %d window keys, %d series, want none", w, f)
	}
	if got := len(rec.lines()); got != 100 {
		t.Errorf("%d window outputs, want 100", got)
	}
	// A reading for a window already emitted is late, not a duplicate.
	e.Observe(reading("d1", "t", 1, 30*time.Second))
	if st := e.Stats(); st.Late != 1 {
		t.Errorf("late = %d, want 1", st.Late)
	}
}

func TestDeviceIndexedRule(t *testing.T) {
	rec, now := &recorder{}, base
	e := testEngine(rec, &now)
	r := Rule{ID: "any-metric", Kind: KindAlert, Match: Match{Device: "boiler"}, Cond: Cond{Threshold: &Threshold{Op: ">", Value: 90}}}
	if err := e.Set([]Rule{r}); err != nil {
		t.Fatal(err)
	}
	e.Observe(reading("other", "temp", 95, 0))
	e.Observe(reading("boiler", "pressure", 95, time.Second))
	if got := rec.lines(); len(got) != 1 || got[0] != "alert any-metric boiler triggered warning @1s = 95" {
		t.Errorf("got %q", got)
	}
}

func TestSetAgainRetriesRuleInErrorState(t *testing.T) {
	rec, now := &recorder{}, base
	e := New(Options{Now: func() time.Time { return now }, Emit: rec.emit, MaxFailures: 2, Logger: slog.New(slog.DiscardHandler)})
	bad := []Rule{{ID: "bad", Kind: KindAlert, Match: Match{Metric: "s"}, Cond: Cond{Expr: "int(text) > 1"}}}
	if err := e.Set(bad); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		e.Observe(point.Reading{Device: "d", Metric: "s", Value: point.String("x")})
	}
	out := rec.out
	if st := e.Status()[0]; st.State != "error" || st.Errors != 2 || len(out) != 2 || !errors.Is(out[1].Err, ErrRuleError) {
		t.Fatalf("status %+v, outputs %+v", st, out)
	}
	if err := e.Set(bad); err != nil {
		t.Fatal(err)
	}
	if st := e.Status()[0]; st.State != "ok" {
		t.Errorf("after Set: state %q", st.State)
	}
}
