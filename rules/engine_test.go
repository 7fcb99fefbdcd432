package rules

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgevault/edgevault/point"
)

// scenario is one testdata/*.yaml file: rules, a replay of events against a
// fake clock, and the outputs expected, one line each (see render).
type scenario struct {
	Rules       []Rule                    `yaml:"rules"`
	Meta        map[string]map[string]any `yaml:"meta"`
	MaxFailures int                       `yaml:"max_failures"`
	Steps       []step                    `yaml:"steps"`
	Expect      []string                  `yaml:"expect"`
	Stats       map[string]uint64         `yaml:"stats"`
	Status      map[string]string         `yaml:"status"`
}

type step struct {
	In      *inReading   `yaml:"in"`
	Tick    *Duration    `yaml:"tick"`
	Status  *statusEvent `yaml:"status"`
	Ack     *alertRef    `yaml:"ack"`
	Resolve *alertRef    `yaml:"resolve"`
}

type inReading struct {
	Device string            `yaml:"device"`
	Metric string            `yaml:"metric"`
	Value  any               `yaml:"value"`
	At     Duration          `yaml:"at"`
	Tags   map[string]string `yaml:"tags"`
}

type statusEvent struct {
	Device string   `yaml:"device"`
	Online bool     `yaml:"online"`
	At     Duration `yaml:"at"`
}

type alertRef struct{ Rule, Device, By string }

// base is the origin of every time in the scenarios: an hour boundary, so
// windows align with round offsets.
var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			runScenario(t, f)
		})
	}
}

func runScenario(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var sc scenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&sc); err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	now := base
	var got []string
	e := New(Options{
		Now:         func() time.Time { return now },
		Emit:        func(o Output) { got = append(got, render(o)) },
		Meta:        func(d string) map[string]any { return sc.Meta[d] },
		MaxFailures: sc.MaxFailures,
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err := e.Set(sc.Rules); err != nil {
		t.Fatalf("set rules: %v", err)
	}
	for i, s := range sc.Steps {
		if err := s.apply(e, &now); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if strings.Join(got, "\n") != strings.Join(sc.Expect, "\n") {
		t.Errorf("outputs:\n got:\n  %s\n want:\n  %s", strings.Join(got, "\n  "), strings.Join(sc.Expect, "\n  "))
	}
	checkStats(t, e.Stats(), sc.Stats)
	checkStatus(t, e.Status(), sc.Status)
}

func (s step) apply(e *Engine, now *time.Time) error {
	switch {
	case s.In != nil:
		r, err := s.In.reading()
		if err != nil {
			return err
		}
		e.Observe(r)
	case s.Tick != nil:
		*now = base.Add(s.Tick.D())
		e.Tick()
	case s.Status != nil:
		e.DeviceStatus(s.Status.Device, s.Status.Online, base.Add(s.Status.At.D()))
	case s.Ack != nil:
		return e.Ack(s.Ack.Rule, s.Ack.Device, s.Ack.By)
	case s.Resolve != nil:
		return e.Resolve(s.Resolve.Rule, s.Resolve.Device, s.Resolve.By)
	default:
		return fmt.Errorf("empty step")
	}
	return nil
}

func (in *inReading) reading() (point.Reading, error) {
	r := point.Reading{Device: in.Device, Metric: in.Metric, Time: base.Add(in.At.D()).UnixMilli()}
	switch v := in.Value.(type) {
	case int:
		r.Value = point.Int(int64(v))
	case float64:
		r.Value = point.Float(v)
	case bool:
		r.Value = point.Bool(v)
	case string:
		r.Value = point.String(v)
	default:
		return r, fmt.Errorf("value %v: unsupported type %T", v, v)
	}
	for k, v := range in.Tags {
		r.Tags = append(r.Tags, point.Tag{Key: k, Value: v})
	}
	point.SortTags(r.Tags)
	return r, nil
}

// render writes an output as one comparable line:
//
//	point DEVICE METRIC @OFFSET = VALUE {k=v}
//	alert RULE KEY STATE SEVERITY @OFFSET = VALUE [by WHO]
//	error RULE
func render(o Output) string {
	switch o.Kind {
	case OutputPoint:
		p := o.Point
		s := fmt.Sprintf("point %s %s @%s = %s", p.Device, p.Metric, offset(p.Time), num(p.Value.Float()))
		for _, t := range p.Tags {
			s += fmt.Sprintf(" {%s=%s}", t.Key, t.Value)
		}
		return s
	case OutputAlert:
		a := o.Alert
		s := fmt.Sprintf("alert %s %s %s %s @%s = %s", a.Rule, a.Key, a.State, a.Severity, offset(a.Time), num(a.Value))
		if a.By != "" {
			s += " by " + a.By
		}
		return s
	}
	return "error " + o.Rule
}

func offset(ms int64) string { return time.UnixMilli(ms).Sub(base).String() }

func num(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

func checkStats(t *testing.T, st Stats, want map[string]uint64) {
	t.Helper()
	have := map[string]uint64{"readings": st.Readings, "late": st.Late, "dropped": st.Dropped, "outputs": st.Outputs, "errors": st.Errors}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h, ok := have[k]
		if !ok {
			t.Errorf("stats: unknown counter %q", k)
		} else if h != want[k] {
			t.Errorf("stats.%s = %d, want %d", k, h, want[k])
		}
	}
}

func checkStatus(t *testing.T, sts []RuleStatus, want map[string]string) {
	t.Helper()
	for _, s := range sts {
		if w, ok := want[s.ID]; ok && s.State != w {
			t.Errorf("rule %s state %q, want %q (last error %q)", s.ID, s.State, w, s.LastError)
		}
	}
}
