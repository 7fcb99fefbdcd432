package rules

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
)

// TestFastVisitsChangeNothing runs the same readings through the benchmark
// mix, plus threshold rules with cooldowns and every operator, with and
// without the fast path for quiet thresholds (visit.quiet): the outputs
// must be the same, in the same order. The readings hover around the
// limits so that alerts trigger, hold, resolve and cool down, and some are
// ints and strings.
func TestFastVisitsChangeNothing(t *testing.T) {
	rs := benchMix(200, 10, 10)
	ops := []string{">", "<", ">=", "<=", "==", "!="}
	for i, op := range ops {
		rs = append(rs, Rule{ID: fmt.Sprintf("op-%d", i), Kind: KindAlert, Match: Match{Metric: "co2", Device: "dev-*"},
			Cond: Cond{Threshold: &Threshold{Op: op, Value: 2000}}, Cooldown: Duration(time.Duration(i) * 10 * time.Second)})
	}
	run := func(fast bool) []Output {
		now := base
		var outs []Output
		e := New(Options{Now: func() time.Time { return now }, Emit: func(o Output) { outs = append(outs, o) }})
		e.slowVisits = !fast
		if err := e.Set(rs); err != nil {
			t.Fatal(err)
		}
		limit := map[string]float64{"temperature": 35, "humidity": 90, "pressure": 1045, "co2": 2000, "battery": 5}
		rng := rand.New(rand.NewPCG(5, 6))
		for step := range 600 {
			ts := base.UnixMilli() + int64(step)*1000
			for d := range 10 {
				for _, m := range mixMetrics {
					v := point.Float(limit[m] * (0.9 + 0.2*rng.Float64()))
					switch rng.IntN(50) {
					case 0:
						v = point.Int(int64(limit[m]))
					case 1:
						v = point.String("n/a")
					}
					e.Observe(point.Reading{Device: fmt.Sprintf("dev-%04d", d), Metric: m, Time: ts, Value: v})
				}
			}
			if step%10 == 0 {
				now = time.UnixMilli(ts)
				e.Tick()
			}
		}
		return outs
	}
	slow, fast := run(false), run(true)
	if len(slow) < 1000 {
		t.Fatalf("only %d outputs: the readings do not exercise the rules", len(slow))
	}
	// Printed, not compared with reflect.DeepEqual: resolving on a string
	// reading carries a NaN value, and NaN != NaN.
	same := func(a, b Output) bool { return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b) }
	if len(slow) != len(fast) || !slices.EqualFunc(slow, fast, same) {
		for i := range min(len(slow), len(fast)) {
			if !same(slow[i], fast[i]) {
				t.Fatalf("output %d differs:\nslow %+v\nfast %+v", i, slow[i], fast[i])
			}
		}
		t.Fatalf("%d outputs without the fast path, %d with", len(slow), len(fast))
	}
}

// TestSeriesCacheEviction fills the hook-list caches past maxMatched, with
// readings with and without tags: the cache empties and refills, and each
// series still reaches exactly its rules.
func TestSeriesCacheEviction(t *testing.T) {
	var alerts []Alert
	e := New(Options{Now: func() time.Time { return base }, Emit: func(o Output) {
		if o.Kind == OutputAlert {
			alerts = append(alerts, o.Alert)
		}
	}})
	rs := []Rule{
		{ID: "hot", Kind: KindAlert, Match: Match{Metric: "t", Device: "*"}, Cond: Cond{Threshold: &Threshold{Op: ">", Value: 10}}},
		{ID: "one", Kind: KindAlert, Match: Match{Metric: "u", Device: "d-0"}, Cond: Cond{Threshold: &Threshold{Op: ">", Value: 10}}},
	}
	if err := e.Set(rs); err != nil {
		t.Fatal(err)
	}
	ts := base.UnixMilli()
	obs := func(dev, metric string, v float64, tags ...point.Tag) {
		e.Observe(point.Reading{Device: dev, Metric: metric, Time: ts, Value: point.Float(v), Tags: tags})
	}
	n := maxMatched + 100
	for i := range n {
		dev := fmt.Sprintf("d-%d", i)
		obs(dev, "t", 0)
		obs(dev, "u", 0)
		if i%7 == 0 {
			obs(dev, "t", 0, point.Tag{Key: "room", Value: "k"})
		}
	}
	if e.cachedSeries > maxMatched {
		t.Fatalf("%d series cached, bound %d", e.cachedSeries, maxMatched)
	}
	// d-0 was cached first and evicted since; the last device is cached.
	last := fmt.Sprintf("d-%d", n-1)
	obs("d-0", "u", 20)
	obs("d-1", "u", 20) // not d-0: no rule
	obs(last, "t", 20)
	obs("d-0", "t", 20, point.Tag{Key: "room", Value: "k"})
	var got []string
	for _, a := range alerts {
		got = append(got, a.Rule+"/"+a.Device)
	}
	want := []string{"one/d-0", "hot/" + last, "hot/d-0"}
	if !slices.Equal(got, want) {
		t.Fatalf("alerts %v, want %v", got, want)
	}
}
