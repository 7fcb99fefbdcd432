package routing

import (
	"fmt"
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
)

// benchRules is a realistic mix of 50 rules: literal metrics (indexed),
// metric globs, device globs, topic filters and device types.
func benchRules() []Rule {
	var rules []Rule
	for i := 0; i < 50; i++ {
		r := Rule{Name: fmt.Sprintf("r%d", i), Priority: i % 7, Action: "drop"}
		switch i % 5 {
		case 0:
			r.Match.Metric = fmt.Sprintf("metric_%d", i)
		case 1:
			r.Match = Match{Topic: fmt.Sprintf("site%d/+/#", i), Metric: "*_alarm"}
		case 2:
			r.Match = Match{Device: fmt.Sprintf("dev%d-*", i)}
		case 3:
			r.Match = Match{DeviceType: fmt.Sprintf("type%d*", i), Metric: "t?mp*"}
		case 4:
			r = Rule{Name: r.Name, Match: Match{Metric: fmt.Sprintf("*ex%d*", i)}, Action: "sample", Sample: Sample{Interval: Duration(time.Minute)}}
		}
		rules = append(rules, r)
	}
	return rules
}

func benchReadings() []point.Reading {
	return []point.Reading{
		reading("kitchen-sensor", "temperature"), reading("kitchen-sensor", "humidity"),
		reading("plug-7", "power"), reading("plug-7", "energy"), reading("lamp-3", "linkquality"),
	}
}

func BenchmarkRouteNoMatch(b *testing.B) {
	r := mustNew(b, benchRules(), Options{})
	rs := benchReadings()
	typeOf := func(string) string { return "zigbee" }
	b.ReportAllocs()
	for b.Loop() {
		d := r.Route("zigbee2mqtt/kitchen-sensor", typeOf, rs)
		if d.Drop != nil || d.Forwards != nil {
			b.Fatal("unexpected match")
		}
	}
}

func BenchmarkRouteMatch(b *testing.B) {
	rules := append(benchRules(), Rule{Name: "fwd", Match: Match{Metric: "power"}, Action: "forward",
		Forward: Forward{Topic: "copy/{device}"}, Uplink: "high", Continue: true},
		Rule{Name: "lq", Match: Match{Metric: "linkquality"}, Action: "drop"},
		Rule{Name: "temp", Match: Match{Metric: "temperature"}, Action: "sample", Sample: Sample{Every: 10}})
	r := mustNew(b, rules, Options{})
	rs := benchReadings()
	b.ReportAllocs()
	for b.Loop() {
		r.Route("zigbee2mqtt/kitchen-sensor", nil, rs)
	}
}

func TestRouteNoMatchAllocs(t *testing.T) {
	r := mustNew(t, benchRules(), Options{})
	rs := benchReadings()
	typeOf := func(string) string { return "zigbee" }
	if n := testing.AllocsPerRun(100, func() { r.Route("zigbee2mqtt/kitchen-sensor", typeOf, rs) }); n != 0 {
		t.Errorf("Route with no match: %v allocs, want 0", n)
	}
}
