package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/edgevault/edgevault/rules"
)

// ruleLimit is, per json metric, a bound the sim's random walks rarely
// cross: the mix's alerts are real rules that mostly stay quiet, as on a
// healthy site. below marks a lower bound (battery).
var ruleLimit = map[string]struct {
	v     float64
	below bool
}{
	"temperature": {35, false},
	"humidity":    {90, false},
	"pressure":    {1045, false},
	"co2":         {2000, false},
	"battery":     {5, true},
}

// ProbeRule is the alert rule the latency probes trigger: the only critical
// rule, so the only one the bench's webhook hears of.
const ProbeRule = "bench-probe"

// probeMetric and probeLimit: a probe reading above the limit triggers
// ProbeRule for its device, one below resolves it.
const (
	probeMetric = "latency_probe"
	probeLimit  = 50
	probePrefix = "probe"
)

// probeRuleDef is ProbeRule: any probe device, no `for`, no cooldown.
func probeRuleDef() rules.Rule {
	return rules.Rule{ID: ProbeRule, Kind: rules.KindAlert, Severity: rules.SeverityCritical,
		Match: rules.Match{Metric: probeMetric, Device: probePrefix + "-*"},
		Cond:  rules.Cond{Threshold: &rules.Threshold{Op: ">", Value: probeLimit}}}
}

// RuleMix returns n rules over the json metrics of the devices
// prefix-0000 .. prefix-(devices-1), in the mix of the rules package's own
// benchmarks: per ten rules, four threshold alerts, two expression alerts,
// a tumbling window (1m avg), a hopping window (5m every 1m, max), an
// any-2-of pattern over temperature and humidity, and a trend or
// fluctuation alert over 5 minutes. Every fleetEvery-th rule watches every
// device (prefix-*), the others one device each, drawn at random (seeded);
// the metric cycles every ten rules, so every kind sees every metric.
func RuleMix(n, devices int, prefix string, fleetEvery int) []rules.Rule {
	out := make([]rules.Rule, 0, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		m := jsonMetrics[(i/10)%len(jsonMetrics)]
		id := fmt.Sprintf("mix-%05d", i)
		dev := prefix + "-*"
		if fleetEvery <= 0 || i%fleetEvery != 0 {
			dev = fmt.Sprintf("%s-%04d", prefix, rng.IntN(max(devices, 1)))
		}
		r := rules.Rule{ID: id, Kind: rules.KindAlert, Match: rules.Match{Metric: m, Device: dev}, Severity: rules.SeverityWarning}
		lim := ruleLimit[m]
		switch i % 10 {
		case 0, 1, 2, 3:
			op := ">"
			if lim.below {
				op = "<"
			}
			r.Threshold = &rules.Threshold{Op: op, Value: lim.v}
			if i%10 >= 2 {
				r.For = rules.Duration(30 * time.Second)
			}
		case 4, 5:
			r.Expr = fmt.Sprintf(`value > %g || value < %g`, lim.v*1.2, -100+float64(i%10))
			if lim.below {
				r.Expr = fmt.Sprintf(`value < %g && device != "spare"`, lim.v)
			}
		case 6:
			r.Kind = rules.KindWindow
			r.Window = &rules.Window{Type: "tumbling", Size: rules.Duration(time.Minute), Aggregate: "avg",
				Output: rules.WindowOutput{Metric: "avg_" + id}}
		case 7:
			r.Kind = rules.KindWindow
			r.Window = &rules.Window{Type: "hopping", Size: rules.Duration(5 * time.Minute), Hop: rules.Duration(time.Minute),
				Aggregate: "max", Output: rules.WindowOutput{Metric: "max_" + id}}
		case 8:
			r.Kind, r.Match.Metric = rules.KindPattern, ""
			r.Pattern = &rules.Pattern{Type: "any", N: 2, Within: rules.Duration(10 * time.Minute), Steps: []rules.Step{
				{Match: rules.Match{Metric: "temperature"}, Cond: rules.Cond{Threshold: &rules.Threshold{Op: ">", Value: 35}}},
				{Match: rules.Match{Metric: "humidity"}, Cond: rules.Cond{Threshold: &rules.Threshold{Op: ">", Value: 90}}},
			}}
		case 9:
			over := rules.Duration(5 * time.Minute)
			if i%20 == 9 {
				r.Trend = &rules.Trend{Over: over, Above: ptrTo(5.0)}
			} else {
				r.Fluctuation = &rules.Fluctuation{Over: over, Above: 0.5}
			}
		}
		out = append(out, r)
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

// mixCounts counts the rules of a mix by kind of condition, for the report.
func mixCounts(rs []rules.Rule) map[string]int {
	c := map[string]int{}
	for _, r := range rs {
		switch {
		case r.Window != nil:
			c["window_"+r.Window.Type]++
		case r.Pattern != nil:
			c["pattern"]++
		case r.Threshold != nil:
			c["threshold"]++
		case r.Expr != "":
			c["expression"]++
		case r.Trend != nil:
			c["trend"]++
		case r.Fluctuation != nil:
			c["fluctuation"]++
		}
	}
	return c
}

// rulesPerReading is how many rules of rs a json reading of one of the
// devices reaches on average (pattern rules count once): the engine's work
// per reading grows with it.
func rulesPerReading(rs []rules.Rule, devices int, prefix string) float64 {
	total := 0
	for d := range devices {
		dev := fmt.Sprintf("%s-%04d", prefix, d)
		for _, m := range jsonMetrics {
			for _, r := range rs {
				if reaches(r, dev, m, prefix) {
					total++
				}
			}
		}
	}
	return float64(total) / float64(max(devices*len(jsonMetrics), 1))
}

func reaches(r rules.Rule, dev, metric, prefix string) bool {
	if r.Match.Device != prefix+"-*" && r.Match.Device != dev {
		return false
	}
	if r.Pattern != nil {
		return slices.ContainsFunc(r.Pattern.Steps, func(s rules.Step) bool { return s.Match.Metric == metric })
	}
	return r.Match.Metric == metric
}
