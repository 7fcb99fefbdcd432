package rules

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
)

const benchMetrics = 100

// mixedRules builds n rules in a realistic mix over benchMetrics metrics:
// 40 % threshold alerts, 20 % expression alerts, 20 % windows (tumbling,
// hopping, count), 10 % patterns, 10 % trend or fluctuation alerts.
func mixedRules(n int) []Rule {
	rules := make([]Rule, 0, n)
	for i := 0; i < n; i++ {
		m := fmt.Sprintf("m%d", i%benchMetrics)
		id := fmt.Sprintf("r%d", i)
		r := Rule{ID: id, Kind: KindAlert, Match: Match{Metric: m}, For: Duration(time.Minute)}
		switch i % 10 {
		case 0, 1, 2, 3:
			r.Threshold = &Threshold{Op: ">", Value: float64(90 + i%10)}
		case 4, 5:
			r.Expr = fmt.Sprintf(`value > %d && device != "d0"`, 80+i%20)
		case 6:
			r.Kind, r.For = KindWindow, 0
			r.Window = &Window{Type: "tumbling", Size: Duration(time.Minute), Output: WindowOutput{Metric: "avg_" + id}}
		case 7:
			r.Kind, r.For = KindWindow, 0
			r.Window = &Window{Type: "hopping", Size: Duration(5 * time.Minute), Hop: Duration(time.Minute), Aggregate: "max", Output: WindowOutput{Metric: "max_" + id}}
		case 8:
			r.Kind, r.For, r.Match = KindPattern, 0, Match{}
			r.Pattern = &Pattern{Type: "any", N: 2, Within: Duration(10 * time.Minute), Steps: []Step{
				{Match: Match{Metric: m}, Cond: Cond{Threshold: &Threshold{Op: ">", Value: 95}}},
				{Match: Match{Metric: fmt.Sprintf("m%d", (i+1)%benchMetrics)}, Cond: Cond{Expr: "value > 97"}},
			}}
		case 9:
			if i%20 == 9 {
				r.Trend = &Trend{Over: Duration(5 * time.Minute), Above: ptr(5.0)}
			} else {
				r.Fluctuation = &Fluctuation{Over: Duration(5 * time.Minute), Above: 0.5}
			}
		}
		rules = append(rules, r)
	}
	return rules
}

func ptr[T any](v T) *T { return &v }

// BenchmarkObserve measures the hot path with 1,000 mixed rules: readings
// from 200 devices over 100 metrics, a second apart per device.
func BenchmarkObserve(b *testing.B) {
	now := base
	outputs := 0
	e := New(Options{Now: func() time.Time { return now }, Emit: func(Output) { outputs++ }})
	if err := e.Set(mixedRules(1000)); err != nil {
		b.Fatal(err)
	}
	readings := make([]point.Reading, 20_000)
	for i := range readings {
		readings[i] = point.Reading{
			Device: fmt.Sprintf("d%d", i%200),
			Metric: fmt.Sprintf("m%d", i%benchMetrics),
			Time:   base.UnixMilli() + int64(i/200)*1000,
			Value:  point.Float(float64(i*7%100) + 0.5),
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var t0 int64
	for i := 0; i < b.N; i++ {
		r := readings[i%len(readings)]
		if i%len(readings) == 0 && i > 0 {
			t0 += int64(len(readings)/200) * 1000
		}
		r.Time += t0
		e.Observe(r)
	}
	b.ReportMetric(float64(outputs)/float64(b.N), "outputs/op")
}

// BenchmarkLoad10000Rules measures compiling and loading 10,000 mixed rules
// (target < 2 s) and the heap they hold (target < 50 KB per rule).
func BenchmarkLoad10000Rules(b *testing.B) {
	rules := mixedRules(10_000)
	for i := 0; i < b.N; i++ {
		heap0 := heapInUse()
		e := New(Options{})
		start := time.Now()
		if err := e.Set(rules); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/load")
		b.ReportMetric(float64(heapInUse()-heap0)/float64(len(rules)), "B/rule")
		runtime.KeepAlive(e)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestMemoryPerRule(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 2,000 rules")
	}
	rules := mixedRules(2000)
	heap0 := heapInUse()
	e := New(Options{})
	if err := e.Set(rules); err != nil {
		t.Fatal(err)
	}
	per := float64(heapInUse()-heap0) / float64(len(rules))
	runtime.KeepAlive(e)
	t.Logf("%.0f bytes per rule", per)
	if per > 50_000 {
		t.Errorf("%.0f bytes per rule, want < 50 KB", per)
	}
}

// BenchmarkObserveNoMatch is the cost of a reading no rule names, with
// 1,000 rules loaded: the price every unrelated reading pays.
func BenchmarkObserveNoMatch(b *testing.B) {
	e := New(Options{})
	if err := e.Set(mixedRules(1000)); err != nil {
		b.Fatal(err)
	}
	r := point.Reading{Device: "d", Metric: "unrelated", Time: base.UnixMilli(), Value: point.Float(1)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e.Observe(r)
	}
}

// BenchmarkActiveRuleMemory reports the heap per rule of 1,000 mixed rules
// after 10 minutes of 1 Hz readings from 200 devices (windows open, trend
// and fluctuation samples held).
func BenchmarkActiveRuleMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		heap0 := heapInUse()
		e := New(Options{})
		if err := e.Set(mixedRules(1000)); err != nil {
			b.Fatal(err)
		}
		for s := 0; s < 600; s++ {
			for d := 0; d < 200; d++ {
				e.Observe(point.Reading{
					Device: fmt.Sprintf("d%d", d), Metric: fmt.Sprintf("m%d", d%benchMetrics),
					Time: base.UnixMilli() + int64(s)*1000, Value: point.Float(float64((s+d)%100) + 0.5),
				})
			}
		}
		b.ReportMetric(float64(heapInUse()-heap0)/1000, "B/rule")
		runtime.KeepAlive(e)
	}
}

// BenchmarkHoppingWindow is one hopping window of an hour every minute
// (the last hour's average, updated each minute) over 50 devices reading
// every second: a reading is aggregated once, into its pane, and each
// minute a key's window merges its sixty panes.
func BenchmarkHoppingWindow(b *testing.B) {
	now := base
	outputs := 0
	e := New(Options{Now: func() time.Time { return now }, Emit: func(Output) { outputs++ }})
	err := e.Set([]Rule{{ID: "avg-1h", Kind: KindWindow, Match: Match{Metric: "temperature"},
		Window: &Window{Type: "hopping", Size: Duration(time.Hour), Hop: Duration(time.Minute), Aggregate: "avg",
			Output: WindowOutput{Metric: "temperature_avg_1h"}}}})
	if err != nil {
		b.Fatal(err)
	}
	devices := make([]string, 50)
	for i := range devices {
		devices[i] = fmt.Sprintf("dev-%02d", i)
	}
	i := 0
	next := func() point.Reading {
		d := i % len(devices)
		t := base.UnixMilli() + int64(i/len(devices))*1000
		i++
		return point.Reading{Device: devices[d], Metric: "temperature", Time: t, Value: point.Float(20 + float64(i%7))}
	}
	for range 2 * 3600 * len(devices) { // two hours: every window full
		e.Observe(next())
	}
	outputs = 0
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		e.Observe(next())
		n++
	}
	b.ReportMetric(float64(outputs)/float64(n), "outputs/op")
}
