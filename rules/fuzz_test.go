package rules

import (
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
)

// FuzzCompile feeds arbitrary bytes to the YAML rule parser and to the
// expression compiler; neither may panic, and whatever compiles must run
// against a few readings without panicking.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"rules:\n  - id: a\n    kind: alert\n    threshold: {op: '>', value: 1}\n",
		"rules:\n  - id: w\n    kind: window\n    match: {metric: t}\n    window: {type: hopping, size: 1m, hop: 10s, output: {metric: o}}\n",
		"rules:\n  - id: p\n    kind: pattern\n    pattern: {type: any, n: 1, within: 1m, steps: [{match: {metric: t}, trend: {over: 1m, above: 1}}]}\n",
		"rules: [{id: x, kind: alert, for: 1h, condition: 'latest(device, \"m\") > value'}]",
		"value > 80 && tags[\"room\"] == \"k\"",
		"aqi_sub(\"pm25\", value) > 100 || meta.type == nil",
		"int(text) / 0 > 1",
		"rules: [{id: &a x}]",
		"]]]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var rules []Rule
		if rs, err := ParseYAML(data); err == nil {
			rules = rs
		}
		rules = append(rules, Rule{ID: "fuzz-expr", Kind: KindAlert, Cond: Cond{Expr: string(data)}})
		var ok []Rule
		for _, r := range rules {
			if _, err := Compile(r); err == nil {
				ok = append(ok, r)
			}
		}
		now := base
		e := New(Options{Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler), MaxKeys: 100})
		if err := e.Set(ok); err != nil {
			return // duplicate ids
		}
		for i, v := range []point.Value{point.Float(81), point.Int(-3), point.String("x"), point.Bool(true)} {
			e.Observe(point.Reading{Device: "d", Metric: "t", Tags: []point.Tag{{Key: "room", Value: "k"}}, Time: base.UnixMilli() + int64(i)*1000, Value: v})
		}
		// A device's clock can say anything.
		for _, ts := range []int64{math.MaxInt64, math.MinInt64, math.MaxInt64 - 1000} {
			e.Observe(point.Reading{Device: "d2", Metric: "t", Time: ts, Value: point.Float(81)})
		}
		e.DeviceStatus("d", false, now)
		now = now.Add(time.Hour)
		e.Tick()
	})
}
