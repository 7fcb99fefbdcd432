package rules

import (
	"math"
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
)

// TestWindowExtremeTimes: a device's clock can say anything. Readings at
// the ends of int64 milliseconds must neither hang the windows (their
// arithmetic would overflow) nor be aggregated; they are counted late, and
// the windows of sane readings carry on.
func TestWindowExtremeTimes(t *testing.T) {
	now := base
	var got []string
	e := New(Options{Now: func() time.Time { return now }, Emit: func(o Output) {
		if o.Kind == OutputPoint {
			got = append(got, render(o))
		}
	}})
	err := e.Set([]Rule{
		{ID: "tumbling", Kind: KindWindow, Match: Match{Metric: "t"},
			Window: &Window{Type: "tumbling", Size: Duration(time.Minute), Aggregate: "count", Output: WindowOutput{Metric: "n1"}}},
		{ID: "hopping", Kind: KindWindow, Match: Match{Metric: "t"},
			Window: &Window{Type: "hopping", Size: Duration(10 * time.Minute), Hop: Duration(3 * time.Minute), Aggregate: "count", Output: WindowOutput{Metric: "n2"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, ts := range []int64{math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64 - 90_000, maxWindowTime + 1, math.MinInt64, math.MinInt64 + 1, -maxWindowTime - 1} {
			e.Observe(point.Reading{Device: "d", Metric: "t", Time: ts, Value: point.Float(1)})
			now = now.Add(time.Second)
			e.Tick()
		}
		e.Observe(point.Reading{Device: "d", Metric: "t", Time: base.Add(30 * time.Second).UnixMilli(), Value: point.Float(1)})
		now = base.Add(time.Hour)
		e.Tick()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the windows did not return from readings at the ends of time")
	}
	if st := e.Stats(); st.Late != 14 {
		t.Errorf("late = %d, want 14 (7 readings, 2 rules)", st.Late)
	}
	want := []string{"point d n1 @0s = 1", "point d n2 @-9m0s = 1", "point d n2 @-6m0s = 1", "point d n2 @-3m0s = 1", "point d n2 @0s = 1"}
	if len(got) != len(want) {
		t.Fatalf("outputs %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("output %d = %q, want %q", i, got[i], want[i])
		}
	}
}
