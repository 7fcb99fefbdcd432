package rules

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
)

// TestWindowsMatchNaive checks the panes of time windows (closeWindows)
// against windows computed from scratch: random streams, in order and out
// of order, starting on a window boundary and not, with lateness and ticks, through
// every aggregate and a value expression over two metrics, for sizes and
// hops that divide each other and ones that do not. Each window a key
// emits must be the one the readings it accepted give, emitted once the
// watermark passes its end, in order.
func TestWindowsMatchNaive(t *testing.T) {
	shapes := []struct {
		typ                 string
		size, hop, lateness time.Duration
	}{
		{"tumbling", 7 * time.Second, 0, 0},
		{"tumbling", time.Minute, 0, 20 * time.Second},
		{"hopping", 10 * time.Minute, 5 * time.Minute, 0},
		{"hopping", 10 * time.Minute, 3 * time.Minute, 2 * time.Minute},
		{"hopping", 5 * time.Minute, time.Minute, 30 * time.Second},
		{"hopping", 60 * time.Second, 45 * time.Second, 10 * time.Second},
		{"hopping", time.Hour, time.Minute, 0},
		{"hopping", time.Hour, time.Minute, 30 * time.Minute}, // panes skipped, then filled late
		{"hopping", 9 * time.Second, 9 * time.Second, 0},
	}
	aggs := []string{"count", "sum", "avg", "min", "max", "stddev", "first", "last"}
	for si, sh := range shapes {
		for _, origin := range []int64{base.UnixMilli(), base.UnixMilli() - 37*60_000 + 13_007} {
			name := fmt.Sprintf("%s-%v-%v-late%v-t0=%d", sh.typ, sh.size, sh.hop, sh.lateness, origin)
			t.Run(name, func(t *testing.T) {
				var rules []Rule
				for _, a := range aggs {
					rules = append(rules, Rule{ID: "w-" + a, Kind: KindWindow, Match: Match{Metric: "a"},
						Window: &Window{Type: sh.typ, Size: Duration(sh.size), Hop: Duration(sh.hop), Lateness: Duration(sh.lateness),
							Aggregate: a, Output: WindowOutput{Metric: "out_" + a}}})
				}
				rules = append(rules, Rule{ID: "w-expr", Kind: KindWindow, Match: Match{Metrics: []string{"a", "b"}},
					Window: &Window{Type: sh.typ, Size: Duration(sh.size), Hop: Duration(sh.hop), Lateness: Duration(sh.lateness),
						Value: `w.count * 1000 + w.first + ("a" in agg ? agg["a"].sum : 0) - ("b" in agg ? agg["b"].max : 0)`, Output: WindowOutput{Metric: "out_expr"}}})
				checkWindowsNaive(t, rules, origin, uint64(si))
			})
		}
	}
}

// winOut is a window's result: its start and value.
type winOut struct {
	start int64
	v     float64
}

// near allows the rounding by which merged panes and a sum from scratch
// may differ.
func (a winOut) near(b winOut) bool {
	return a.start == b.start && math.Abs(a.v-b.v) <= 1e-9*max(1, math.Abs(a.v), math.Abs(b.v))
}

type naiveReading struct {
	t      int64
	metric string
	v      float64
}

// naiveKey is a window key as the reference sees it: every reading it
// accepted, and the windows it has emitted.
type naiveKey struct {
	wm       int64
	accepted []naiveReading
	emitted  map[int64]bool
}

func checkWindowsNaive(t *testing.T, rules []Rule, origin int64, seed uint64) {
	t.Helper()
	now := time.UnixMilli(origin)
	got := map[string][]winOut{} // rule/device
	e := New(Options{Now: func() time.Time { return now }, Emit: func(o Output) {
		if o.Kind == OutputPoint {
			k := o.Rule + "/" + o.Point.Device
			v, _ := o.Point.Value.AsFloat()
			got[k] = append(got[k], winOut{o.Point.Time, v})
		}
	}})
	if err := e.Set(rules); err != nil {
		t.Fatal(err)
	}
	want := map[string][]winOut{}
	keys := map[string]*naiveKey{} // rule/device
	var engNow int64               // the engine's clock before its first Tick
	spec := func(r Rule) (size, hop, late int64) {
		w := r.Window
		size, hop, late = w.Size.ms(), w.Hop.ms(), w.Lateness.ms()
		if hop == 0 {
			hop = size
		}
		return
	}
	// emit appends to want the windows of k that the watermark wm closes.
	emit := func(r Rule, dev string, k *naiveKey, wm int64) {
		size, hop, _ := spec(r)
		var starts []int64
		for _, x := range k.accepted {
			for s := floorTo(x.t, hop); s > x.t-size; s -= hop {
				if s+size <= wm && !k.emitted[s] && !slices.Contains(starts, s) {
					starts = append(starts, s)
				}
			}
		}
		slices.Sort(starts)
		for _, s := range starts {
			k.emitted[s] = true
			var in []naiveReading
			for _, x := range k.accepted {
				if x.t >= s && x.t < s+size {
					in = append(in, x)
				}
			}
			want[r.ID+"/"+dev] = append(want[r.ID+"/"+dev], winOut{s, naiveValue(r, in)})
		}
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	size0, _, _ := spec(rules[0])
	cur := origin
	devices := []string{"d1", "d2", "d3"}
	for i := range 3000 {
		if i%97 == 96 {
			now = now.Add(time.Duration(rng.Int64N(size0)) * time.Millisecond)
			engNow = max(engNow, now.UnixMilli())
			e.Tick()
			for _, r := range rules {
				_, _, late := spec(r)
				for _, dev := range devices {
					if k := keys[r.ID+"/"+dev]; k != nil {
						emit(r, dev, k, max(k.wm, engNow)-late)
					}
				}
			}
			continue
		}
		// Mostly forward in steps of up to a tenth of the size, sometimes
		// back by up to half of it (late or out of order).
		step := rng.Int64N(size0/10 + 1)
		if rng.IntN(8) == 0 {
			step = -rng.Int64N(size0/2 + 1)
		}
		cur += step
		x := naiveReading{t: cur, metric: "a", v: math.Round(rng.NormFloat64()*1000) / 100}
		if rng.IntN(3) == 0 {
			x.metric = "b"
		}
		dev := devices[rng.IntN(len(devices))]
		e.Observe(point.Reading{Device: dev, Metric: x.metric, Time: x.t, Value: point.Float(x.v)})
		for _, r := range rules {
			if !slices.Contains(append(r.Match.Metrics, r.Match.Metric), x.metric) {
				continue
			}
			_, _, late := spec(r)
			k := keys[r.ID+"/"+dev]
			if k == nil {
				k = &naiveKey{wm: math.MinInt64, emitted: map[int64]bool{}}
				keys[r.ID+"/"+dev] = k
			}
			k.wm = max(k.wm, x.t)
			wm := max(k.wm, engNow) - late
			if x.t >= wm {
				k.accepted = append(k.accepted, x)
			}
			emit(r, dev, k, wm)
		}
	}
	n := 0
	for k, w := range want {
		n += len(w)
		g := got[k]
		if !slices.EqualFunc(g, w, winOut.near) {
			t.Errorf("%s:\n got  %v\n want %v", k, g, w)
		}
	}
	for k := range got {
		if want[k] == nil {
			t.Errorf("%s: unexpected windows %v", k, got[k])
		}
	}
	if n < 100 {
		t.Fatalf("only %d windows: the stream does not exercise the windows", n)
	}
}

// naiveValue is a window's result from its readings (in arrival order).
func naiveValue(r Rule, in []naiveReading) float64 {
	agg := func(metric string) (Agg, bool) {
		var g Agg
		var firstT, lastT int64
		var vs []float64
		for _, x := range in {
			if x.metric != metric {
				continue
			}
			if len(vs) == 0 || x.t < firstT {
				g.First, firstT = x.v, x.t
			}
			if len(vs) == 0 || x.t >= lastT {
				g.Last, lastT = x.v, x.t
			}
			vs = append(vs, x.v)
		}
		if len(vs) == 0 {
			return g, false
		}
		g.Count = float64(len(vs))
		g.Min, g.Max = slices.Min(vs), slices.Max(vs)
		for _, v := range vs {
			g.Sum += v
		}
		g.Avg = g.Sum / g.Count
		if len(vs) > 1 {
			var ss float64
			for _, v := range vs {
				ss += (v - g.Avg) * (v - g.Avg)
			}
			g.Stddev = math.Sqrt(ss / g.Count)
		}
		return g, true
	}
	if r.Window.Value == "" {
		g, _ := agg("a")
		return pick(g, r.Window.Aggregate)
	}
	w, _ := agg(in[0].metric)
	v := w.Count*1000 + w.First
	if a, ok := agg("a"); ok {
		v += a.Sum
	}
	if b, ok := agg("b"); ok {
		v -= b.Max
	}
	return v
}

func TestFloorCeil(t *testing.T) {
	for _, c := range []struct{ t, m, floor, ceil int64 }{
		{0, 5, 0, 0}, {7, 5, 5, 10}, {10, 5, 10, 10}, {-1, 5, -5, 0}, {-5, 5, -5, -5}, {-7, 5, -10, -5},
	} {
		if f, c2 := floorTo(c.t, c.m), ceilTo(c.t, c.m); f != c.floor || c2 != c.ceil {
			t.Errorf("floorTo/ceilTo(%d, %d) = %d, %d; want %d, %d", c.t, c.m, f, c2, c.floor, c.ceil)
		}
	}
	if g := gcd(600_000, 180_000); g != 60_000 {
		t.Errorf("gcd = %d", g)
	}
}
