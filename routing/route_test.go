package routing

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/edgevault/edgevault/point"
)

func reading(device, metric string) point.Reading {
	return point.Reading{Device: device, Metric: metric, Time: 1_700_000_000_000, Value: point.Float(1)}
}

func types(m map[string]string) func(string) string {
	return func(d string) string { return m[d] }
}

func mustNew(t testing.TB, rules []Rule, opts Options) *Router {
	t.Helper()
	r, err := New(rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRouteMatching(t *testing.T) {
	devTypes := types(map[string]string{"lamp1": "zigbee_bulb", "plug1": "shelly_plug"})
	tests := []struct {
		name  string
		match Match
		topic string
		r     point.Reading
		want  bool // matched: the drop rule dropped it
	}{
		{"empty match is catch-all", Match{}, "x", reading("d", "m"), true},
		{"topic exact", Match{Topic: "zigbee2mqtt/lamp1"}, "zigbee2mqtt/lamp1", reading("lamp1", "state"), true},
		{"topic hash", Match{Topic: "zigbee2mqtt/#"}, "zigbee2mqtt/lamp1", reading("lamp1", "state"), true},
		{"topic plus", Match{Topic: "shellies/+/power"}, "shellies/plug1/power", reading("plug1", "power"), true},
		{"topic mismatch", Match{Topic: "tasmota/#"}, "zigbee2mqtt/lamp1", reading("lamp1", "state"), false},
		{"device glob", Match{Device: "lamp*"}, "t", reading("lamp1", "state"), true},
		{"device glob mismatch", Match{Device: "lamp?"}, "t", reading("lamp10", "state"), false},
		{"device type via func", Match{DeviceType: "zigbee_*"}, "t", reading("lamp1", "state"), true},
		{"device type mismatch", Match{DeviceType: "zigbee_*"}, "t", reading("plug1", "state"), false},
		{"device type unknown device", Match{DeviceType: "?*"}, "t", reading("ghost", "state"), false},
		{"metric literal (indexed)", Match{Metric: "linkquality"}, "t", reading("lamp1", "linkquality"), true},
		{"metric literal mismatch", Match{Metric: "linkquality"}, "t", reading("lamp1", "battery"), false},
		{"metric glob", Match{Metric: "*_alarm"}, "t", reading("d", "smoke_alarm"), true},
		{"all keys must match", Match{Topic: "zigbee2mqtt/#", Metric: "linkquality", DeviceType: "shelly*"}, "zigbee2mqtt/lamp1", reading("lamp1", "linkquality"), false},
		{"all keys match", Match{Topic: "zigbee2mqtt/#", Metric: "linkquality", DeviceType: "zigbee*", Device: "lamp1"}, "zigbee2mqtt/lamp1", reading("lamp1", "linkquality"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, []Rule{{Name: "r", Match: tt.match, Action: "drop"}}, Options{})
			d := r.Route(tt.topic, devTypes, []point.Reading{tt.r})
			if got := !d.Stored(0); got != tt.want {
				t.Errorf("dropped = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRouteNoRulesAndNilDeviceType(t *testing.T) {
	rs := []point.Reading{reading("a", "m")}
	d := mustNew(t, nil, Options{}).Route("t", nil, rs)
	if !d.Stored(0) || d.PriorityOf(0) != PriorityNormal || len(d.Forwards) != 0 {
		t.Fatalf("empty router decided %+v", d)
	}
	r := mustNew(t, []Rule{{Name: "typed", Match: Match{DeviceType: "x*"}, Action: "drop"}}, Options{})
	if d := r.Route("t", nil, rs); !d.Stored(0) {
		t.Fatal("device_type rule matched without a type lookup")
	}
}

func TestRouteOrderAndContinue(t *testing.T) {
	tests := []struct {
		name       string
		rules      []Rule
		r          point.Reading
		stored     bool
		prio       Priority
		forwardTos []string
	}{
		{
			name: "lower priority number first",
			rules: []Rule{
				{Name: "drop-late", Priority: 20, Match: Match{Metric: "temp"}, Action: "drop"},
				{Name: "keep-early", Priority: 10, Match: Match{Device: "kitchen"}, Action: "store"},
			},
			r: reading("kitchen", "temp"), stored: true,
		},
		{
			name: "ties keep list order",
			rules: []Rule{
				{Name: "first", Match: Match{Metric: "temp"}, Action: "drop"},
				{Name: "second", Match: Match{Metric: "t*"}, Action: "store"},
			},
			r: reading("kitchen", "temp"), stored: false,
		},
		{
			name: "indexed and general rules merge in order",
			rules: []Rule{
				{Name: "general-hi", Priority: 1, Match: Match{Metric: "te*"}, Uplink: "high", Continue: true},
				{Name: "exact", Priority: 2, Match: Match{Metric: "temp"}, Action: "drop"},
				{Name: "general-lo", Priority: 3, Match: Match{Metric: "*"}, Action: "store"},
			},
			r: reading("k", "temp"), stored: false, prio: PriorityHigh,
		},
		{
			name: "no continue stops evaluation",
			rules: []Rule{
				{Name: "fwd", Match: Match{Metric: "smoke"}, Action: "forward", Forward: Forward{Topic: "alarms/{device}"}},
				{Name: "drop", Action: "drop"},
			},
			r: reading("hall", "smoke"), stored: true, forwardTos: []string{"alarms/hall"},
		},
		{
			name: "continue forward then drop",
			rules: []Rule{
				{Name: "fwd", Match: Match{Metric: "smoke"}, Action: "forward", Forward: Forward{Topic: "alarms/{device}"}, Continue: true},
				{Name: "drop", Action: "drop"},
			},
			r: reading("hall", "smoke"), stored: false, forwardTos: []string{"alarms/hall"},
		},
		{
			name: "first storage decision wins",
			rules: []Rule{
				{Name: "keep", Match: Match{Device: "hall"}, Action: "store", Continue: true},
				{Name: "drop", Action: "drop"},
			},
			r: reading("hall", "smoke"), stored: true,
		},
		{
			name: "first priority wins, forwards accumulate",
			rules: []Rule{
				{Name: "a", Action: "forward", Forward: Forward{URL: "http://hook/a"}, Uplink: "low", Continue: true},
				{Name: "b", Action: "forward", Forward: Forward{Topic: "copy/{topic}/{metric}"}, Uplink: "high", Continue: true},
				{Name: "c", Action: "forward", Forward: Forward{URL: "http://hook/a"}},
			},
			r: reading("hall", "smoke"), stored: true, prio: PriorityLow,
			forwardTos: []string{"http://hook/a", "copy/site/x/smoke"},
		},
		{
			name:  "bulk is low",
			rules: []Rule{{Name: "bulk", Uplink: "bulk"}},
			r:     reading("a", "b"), stored: true, prio: PriorityLow,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, tt.rules, Options{})
			d := r.Route("site/x", nil, []point.Reading{tt.r})
			if d.Stored(0) != tt.stored {
				t.Errorf("stored = %v, want %v", d.Stored(0), tt.stored)
			}
			if d.PriorityOf(0) != tt.prio {
				t.Errorf("priority = %v, want %v", d.PriorityOf(0), tt.prio)
			}
			var got []string
			for _, f := range d.Forwards {
				got = append(got, f.Topic+f.URL)
				if len(f.Readings) != 1 || f.Readings[0].Device != tt.r.Device {
					t.Errorf("forward %s carries %v", f.Topic+f.URL, f.Readings)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.forwardTos, ",") {
				t.Errorf("forwards = %v, want %v", got, tt.forwardTos)
			}
		})
	}
}

func TestRouteBatchGroupsForwards(t *testing.T) {
	r := mustNew(t, []Rule{
		{Name: "alarms", Match: Match{Metric: "*alarm"}, Action: "forward", Forward: Forward{Topic: "alarms/{device}"}, Uplink: "high"},
		{Name: "noise", Match: Match{Metric: "linkquality"}, Action: "drop"},
	}, Options{})
	rs := []point.Reading{
		reading("a", "smoke_alarm"), reading("a", "linkquality"), reading("b", "water_alarm"),
		reading("a", "temp"), reading("a", "water_alarm"),
	}
	d := r.Route("t", nil, rs)
	keep := d.Keep(rs)
	if len(keep) != 4 || keep[1].Metric != "water_alarm" {
		t.Errorf("kept %v", keep)
	}
	wantPrio := []Priority{PriorityHigh, PriorityNormal, PriorityHigh, PriorityNormal, PriorityHigh}
	for i, p := range wantPrio {
		if d.PriorityOf(i) != p {
			t.Errorf("priority[%d] = %v, want %v", i, d.PriorityOf(i), p)
		}
	}
	if len(d.Forwards) != 2 || d.Forwards[0].Topic != "alarms/a" || len(d.Forwards[0].Readings) != 2 ||
		d.Forwards[1].Topic != "alarms/b" || d.Forwards[0].Rule != "alarms" {
		t.Errorf("forwards %+v", d.Forwards)
	}
	s := r.Stats()
	if s.Dropped != 1 || s.Forwarded != 3 || s.Rules[0].Matched != 3 {
		t.Errorf("stats %+v", s)
	}
	if d2 := r.Route("t", nil, rs[3:4]); d2.Drop != nil || d2.Priority != nil || d2.Forwards != nil {
		t.Errorf("unmatched batch allocated a decision: %+v", d2)
	}
}

func TestRenderSanitizesWildcards(t *testing.T) {
	parts, err := compileTemplate("fwd/{device}/{metric}")
	if err != nil {
		t.Fatal(err)
	}
	if got := render(parts, "t", "a+b", "c#"); got != "fwd/a_b/c_" {
		t.Errorf("render = %q", got)
	}
	if got := render(parts[1:2], "t", "", "m"); got != "_" {
		t.Errorf("render of an empty device = %q, want _", got)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestSampleEvery(t *testing.T) {
	r := mustNew(t, []Rule{{Name: "power", Match: Match{Metric: "power"}, Action: "sample", Sample: Sample{Every: 3}}}, Options{})
	tagged := reading("plug", "power")
	tagged.Tags = []point.Tag{{Key: "phase", Value: "L1"}}
	var got []string
	for i := 0; i < 7; i++ {
		d := r.Route("t", nil, []point.Reading{reading("plug", "power"), reading("other", "power"), tagged})
		got = append(got, fmt.Sprintf("%v%v%v", b01(d.Stored(0)), b01(d.Stored(1)), b01(d.Stored(2))))
	}
	// Each series keeps its own counter: first kept, then one in three.
	want := "111,000,000,111,000,000,111"
	if strings.Join(got, ",") != want {
		t.Errorf("kept pattern %s, want %s", strings.Join(got, ","), want)
	}
	if s := r.Stats(); s.SampledOut != 12 || s.Rules[0].Series != 3 {
		t.Errorf("stats %+v", s)
	}
}

func b01(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestSampleInterval(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	r := mustNew(t, []Rule{{Name: "temp", Action: "sample", Sample: Sample{Interval: Duration(time.Minute)}}}, Options{Now: clk.Now})
	steps := []struct {
		name    string
		advance time.Duration
		kept    bool
	}{
		{"first kept", 0, true},
		{"same instant skipped", 0, false},
		{"within interval skipped", 59 * time.Second, false},
		{"interval elapsed kept", time.Second, true},
		{"just after skipped", time.Second, false},
		{"long gap kept", time.Hour, true},
	}
	for _, s := range steps {
		clk.Add(s.advance)
		d := r.Route("t", nil, []point.Reading{reading("k", "temp")})
		if d.Stored(0) != s.kept {
			t.Errorf("%s: stored = %v, want %v", s.name, d.Stored(0), s.kept)
		}
	}
}

func TestSampleBoundedState(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	reg := prometheus.NewRegistry()
	r := mustNew(t, []Rule{
		{Name: "every", Match: Match{Metric: "power"}, Action: "sample", Sample: Sample{Every: 100}},
		{Name: "interval", Match: Match{Metric: "temp"}, Action: "sample", Sample: Sample{Interval: Duration(time.Minute)}},
	}, Options{Now: clk.Now, MaxSeriesPerRule: 2, Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	route := func(dev, metric string) bool {
		return r.Route("t", nil, []point.Reading{reading(dev, metric)}).Stored(0)
	}
	route("a", "power")
	route("b", "power")
	// Series c does not fit: every reading is stored and counted, none sampled.
	for i := 0; i < 3; i++ {
		if !route("c", "power") {
			t.Fatal("overflowing series was sampled out")
		}
	}
	if route("a", "power") {
		t.Error("tracked series a was not sampled")
	}
	route("a", "temp")
	route("b", "temp")
	if !route("c", "temp") {
		t.Fatal("overflowing interval series was sampled out")
	}
	// Once the interval passed, expired state is swept and c is tracked.
	clk.Add(time.Minute)
	if !route("c", "temp") || route("c", "temp") {
		t.Error("after the sweep c should be kept once then sampled")
	}
	s := r.Stats()
	if s.Overflow != 4 || s.Rules[0].Overflow != 3 || s.Rules[0].Series != 2 || s.Rules[1].Series != 1 {
		t.Errorf("stats %+v", s)
	}
	vec, err := newReadingsVec(reg) // the already registered vector
	if err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, vec.WithLabelValues("every", "overflow")); got != 3 {
		t.Errorf("overflow counter = %v, want 3", got)
	}
	if got := counterValue(t, vec.WithLabelValues("every", "sampled_out")); got != 1 {
		t.Errorf("sampled_out counter = %v, want 1", got)
	}
}

func TestRebuildSharesRegisteredCounter(t *testing.T) {
	reg := prometheus.NewRegistry()
	rules := []Rule{{Name: "drop", Action: "drop"}}
	for i := 0; i < 2; i++ {
		r := mustNew(t, rules, Options{Registerer: reg})
		r.Route("t", nil, []point.Reading{reading("a", "b")})
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || len(mfs[0].GetMetric()) != 5 {
		t.Fatalf("gathered %v, err %v", mfs, err)
	}
	vec, _ := newReadingsVec(reg)
	if got := counterValue(t, vec.WithLabelValues("drop", "dropped")); got != 2 {
		t.Errorf("dropped = %v, want 2 across rebuilds", got)
	}
}

func TestRouteConcurrent(t *testing.T) {
	r := mustNew(t, []Rule{{Name: "s", Action: "sample", Sample: Sample{Every: 2}}}, Options{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				r.Route("t", nil, []point.Reading{reading("d", "m")})
			}
		}()
	}
	wg.Wait()
	if s := r.Stats(); s.SampledOut != 1000 || s.Rules[0].Matched != 2000 {
		t.Errorf("stats %+v", s)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
