package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Kind selects what a rule does with the readings it matches.
type Kind string

const (
	KindWindow  Kind = "window"  // aggregate into derived points
	KindAlert   Kind = "alert"   // raise and resolve alerts
	KindPattern Kind = "pattern" // complex event patterns raising alerts
)

// Rule is the user-facing definition of one rule, as written in YAML or JSON.
// The schema is described in doc.go.
type Rule struct {
	ID          string `yaml:"id" json:"id"`
	Kind        Kind   `yaml:"kind" json:"kind"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	Disabled    bool   `yaml:"disabled,omitempty" json:"disabled,omitempty"`
	Match       Match  `yaml:"match" json:"match"`

	// Window is required for KindWindow.
	Window *Window `yaml:"window,omitempty" json:"window,omitempty"`

	// Cond is the condition of KindAlert.
	Cond `yaml:",inline"`
	// For is how long the condition must hold before an alert triggers.
	For Duration `yaml:"for,omitempty" json:"for,omitempty"`
	// Cooldown is the least time between two triggers for one device.
	Cooldown Duration `yaml:"cooldown,omitempty" json:"cooldown,omitempty"`
	Severity Severity `yaml:"severity,omitempty" json:"severity,omitempty"`
	// Message may hold {rule}, {device}, {metric} and {value} placeholders.
	Message string `yaml:"message,omitempty" json:"message,omitempty"`

	// Pattern is required for KindPattern.
	Pattern *Pattern `yaml:"pattern,omitempty" json:"pattern,omitempty"`
}

// Match selects the events a rule (or a pattern step) sees.
type Match struct {
	Metric  string            `yaml:"metric,omitempty" json:"metric,omitempty"`   // exact name or glob; empty: any
	Metrics []string          `yaml:"metrics,omitempty" json:"metrics,omitempty"` // several exact names or globs
	Device  string            `yaml:"device,omitempty" json:"device,omitempty"`   // glob; empty: any
	Tags    map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`       // tag key -> glob
	Event   string            `yaml:"event,omitempty" json:"event,omitempty"`     // "reading" (default) or "status"
	Where   string            `yaml:"where,omitempty" json:"where,omitempty"`     // boolean expression filter
}

// Window configures a windowed aggregation.
type Window struct {
	Type      string       `yaml:"type" json:"type"` // tumbling, hopping or count
	Size      Duration     `yaml:"size,omitempty" json:"size,omitempty"`
	Hop       Duration     `yaml:"hop,omitempty" json:"hop,omitempty"`
	Count     int          `yaml:"count,omitempty" json:"count,omitempty"`
	Key       string       `yaml:"key,omitempty" json:"key,omitempty"` // device (default), all, tag:NAME, meta:NAME
	Aggregate string       `yaml:"aggregate,omitempty" json:"aggregate,omitempty"`
	Value     string       `yaml:"value,omitempty" json:"value,omitempty"` // numeric expression over w and agg
	Lateness  Duration     `yaml:"lateness,omitempty" json:"lateness,omitempty"`
	Output    WindowOutput `yaml:"output" json:"output"`
}

// WindowOutput names the derived series a window writes.
type WindowOutput struct {
	Metric string `yaml:"metric" json:"metric"`
	Device string `yaml:"device,omitempty" json:"device,omitempty"` // for keys other than device; default: rule id
}

// Cond is one condition: exactly one of its fields is set.
type Cond struct {
	Threshold   *Threshold   `yaml:"threshold,omitempty" json:"threshold,omitempty"`
	Expr        string       `yaml:"condition,omitempty" json:"condition,omitempty"`
	Trend       *Trend       `yaml:"trend,omitempty" json:"trend,omitempty"`
	Fluctuation *Fluctuation `yaml:"fluctuation,omitempty" json:"fluctuation,omitempty"`
}

// Threshold compares the value of a reading with a constant.
type Threshold struct {
	Op    string  `yaml:"op" json:"op"` // >, <, >=, <=, ==, !=
	Value float64 `yaml:"value" json:"value"`
}

// Trend holds when the least-squares slope of a metric over a duration is
// above or below a limit, in units per Per (default one minute).
type Trend struct {
	Over       Duration `yaml:"over" json:"over"`
	Per        Duration `yaml:"per,omitempty" json:"per,omitempty"`
	Above      *float64 `yaml:"above,omitempty" json:"above,omitempty"`
	Below      *float64 `yaml:"below,omitempty" json:"below,omitempty"`
	MinSamples int      `yaml:"min_samples,omitempty" json:"min_samples,omitempty"`
}

// Fluctuation holds when (max-min)/|mean| of a metric over a duration is
// above a ratio (0.2 means 20 %).
type Fluctuation struct {
	Over       Duration `yaml:"over" json:"over"`
	Above      float64  `yaml:"above" json:"above"`
	MinSamples int      `yaml:"min_samples,omitempty" json:"min_samples,omitempty"`
}

// Pattern configures a complex event pattern.
type Pattern struct {
	Type   string   `yaml:"type" json:"type"` // all, any or sequence
	N      int      `yaml:"n,omitempty" json:"n,omitempty"`
	Within Duration `yaml:"within" json:"within"`
	Per    string   `yaml:"per,omitempty" json:"per,omitempty"` // device (default) or all
	Steps  []Step   `yaml:"steps" json:"steps"`
}

// Step is one condition of a pattern.
type Step struct {
	Name  string `yaml:"name,omitempty" json:"name,omitempty"`
	Match Match  `yaml:"match" json:"match"`
	Cond  `yaml:",inline"`
}

// Severity of an alert.
type Severity string

const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Duration is a time.Duration written as a Go duration string ("5m", "90s")
// in YAML and JSON.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) ms() int64 { return int64(time.Duration(d) / time.Millisecond) }

func (d *Duration) parse(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("negative duration %q", s)
	}
	*d = Duration(v)
	return nil
}

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: duration must be a string like 5m", n.Line)
	}
	if err := d.parse(n.Value); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"5m\"")
	}
	return d.parse(s)
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// File is the document ParseYAML and ParseJSON read: a list of rules.
type File struct {
	Rules []Rule `yaml:"rules" json:"rules"`
}

// ParseYAML decodes rules strictly: unknown keys are errors.
func ParseYAML(data []byte) ([]Rule, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && err != io.EOF {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	return f.Rules, nil
}

// ParseJSON decodes rules strictly: unknown keys are errors. It accepts a
// File object or a bare array of rules.
func ParseJSON(data []byte) ([]Rule, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		var rs []Rule
		if err := decodeStrict(data, &rs); err != nil {
			return nil, fmt.Errorf("parse rules: %w", err)
		}
		return rs, nil
	}
	var f File
	if err := decodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	return f.Rules, nil
}

// ParseRuleJSON decodes one rule strictly, as a REST body would carry it.
func ParseRuleJSON(data []byte) (Rule, error) {
	var r Rule
	if err := decodeStrict(data, &r); err != nil {
		return Rule{}, fmt.Errorf("parse rule: %w", err)
	}
	return r, nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}

func (m *Match) metrics() []string {
	out := append([]string(nil), m.Metrics...)
	if m.Metric != "" {
		out = append(out, m.Metric)
	}
	return out
}

func isGlob(s string) bool { return strings.ContainsAny(s, "*?[") }
