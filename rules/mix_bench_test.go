package rules

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
)

// mixMetrics are the metrics of sim's json format, which `edgevault bench
// rules` publishes.
var mixMetrics = []string{"temperature", "humidity", "pressure", "co2", "battery"}

// benchMix mirrors bench.RuleMix (bench/rulemix.go), which the rules
// package cannot import: per ten rules four thresholds, two expressions, a
// tumbling window (1m avg), a hopping window (5m every 1m, max), an any-2-of
// pattern and a trend or fluctuation alert over 5 minutes. Every
// fleetEvery-th rule watches every device (dev-*), the others one device
// each, drawn at random.
func benchMix(n, devices, fleetEvery int) []Rule {
	limit := map[string]float64{"temperature": 35, "humidity": 90, "pressure": 1045, "co2": 2000, "battery": 5}
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]Rule, 0, n)
	for i := range n {
		m := mixMetrics[(i/10)%len(mixMetrics)]
		id := fmt.Sprintf("mix-%05d", i)
		dev := "dev-*"
		if i%fleetEvery != 0 {
			dev = fmt.Sprintf("dev-%04d", rng.IntN(devices))
		}
		r := Rule{ID: id, Kind: KindAlert, Match: Match{Metric: m, Device: dev}, Severity: SeverityWarning}
		lim, below := limit[m], m == "battery"
		switch i % 10 {
		case 0, 1, 2, 3:
			op := ">"
			if below {
				op = "<"
			}
			r.Threshold = &Threshold{Op: op, Value: lim}
			if i%10 >= 2 {
				r.For = Duration(30 * time.Second)
			}
		case 4, 5:
			r.Expr = fmt.Sprintf(`value > %g || value < %g`, lim*1.2, -100+float64(i%10))
			if below {
				r.Expr = fmt.Sprintf(`value < %g && device != "spare"`, lim)
			}
		case 6:
			r.Kind = KindWindow
			r.Window = &Window{Type: "tumbling", Size: Duration(time.Minute), Aggregate: "avg", Output: WindowOutput{Metric: "avg_" + id}}
		case 7:
			r.Kind = KindWindow
			r.Window = &Window{Type: "hopping", Size: Duration(5 * time.Minute), Hop: Duration(time.Minute), Aggregate: "max", Output: WindowOutput{Metric: "max_" + id}}
		case 8:
			r.Kind, r.Match.Metric = KindPattern, ""
			r.Pattern = &Pattern{Type: "any", N: 2, Within: Duration(10 * time.Minute), Steps: []Step{
				{Match: Match{Metric: "temperature"}, Cond: Cond{Threshold: &Threshold{Op: ">", Value: 35}}},
				{Match: Match{Metric: "humidity"}, Cond: Cond{Threshold: &Threshold{Op: ">", Value: 90}}},
			}}
		case 9:
			if i%20 == 9 {
				r.Trend = &Trend{Over: Duration(5 * time.Minute), Above: ptr(5.0)}
			} else {
				r.Fluctuation = &Fluctuation{Over: Duration(5 * time.Minute), Above: 0.5}
			}
		}
		out = append(out, r)
	}
	return out
}

// mixStream generates sim-like json messages (five metrics, random walks)
// from devices in turn; each device publishes every step.
type mixStream struct {
	rng     *rand.Rand
	devices []string
	vals    [][5]float64
	step    int64
	t       int64
	i       int // next device and metric, round robin
}

func newMixStream(devices int, step time.Duration) *mixStream {
	s := &mixStream{rng: rand.New(rand.NewPCG(3, 4)), step: step.Milliseconds(), t: base.UnixMilli()}
	for d := range devices {
		s.devices = append(s.devices, fmt.Sprintf("dev-%04d", d))
		s.vals = append(s.vals, [5]float64{18 + 6*s.rng.Float64(), 35 + 20*s.rng.Float64(), 1000 + 25*s.rng.Float64(), 400 + float64(s.rng.IntN(200)), 80 + float64(s.rng.IntN(21))})
	}
	return s
}

var mixSteps = [5]float64{0.05, 0.1, 0.05, 2, 0}

func (s *mixStream) next() point.Reading {
	d, m := s.i/len(mixMetrics), s.i%len(mixMetrics)
	s.i++
	if s.i == len(s.devices)*len(mixMetrics) {
		s.i, s.t = 0, s.t+s.step
	}
	v := &s.vals[d][m]
	*v += mixSteps[m] * (2*s.rng.Float64() - 1)
	return point.Reading{Device: s.devices[d], Metric: mixMetrics[m], Time: s.t, Value: point.Float(*v)}
}

// BenchmarkObserveMix is `edgevault bench rules` in process: the bench's
// 1,000-rule mix (one rule in ten watching every device, 24 rules reached
// per reading on average) and 50 devices sending their five metrics every
// 5 ms (10,000 messages/s, the bench's saturating load), after enough
// readings that trend and fluctuation series hold MaxSamples samples.
func BenchmarkObserveMix(b *testing.B) {
	now := base
	outputs := 0
	e := New(Options{Now: func() time.Time { return now }, Emit: func(Output) { outputs++ }})
	if err := e.Set(benchMix(1000, 50, 10)); err != nil {
		b.Fatal(err)
	}
	s := newMixStream(50, 5*time.Millisecond)
	warm := 4200 * 50 * len(mixMetrics)
	for range warm {
		e.Observe(s.next())
	}
	outputs = 0
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		e.Observe(s.next())
		n++
	}
	b.ReportMetric(float64(outputs)/float64(n), "outputs/op")
}
