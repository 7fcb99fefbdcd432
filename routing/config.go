package routing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"gopkg.in/yaml.v3"
)

// Rule is one routing rule as written in YAML or JSON. See the package
// documentation for the meaning of each key.
type Rule struct {
	Name     string  `yaml:"name" json:"name"`
	Priority int     `yaml:"priority,omitempty" json:"priority,omitempty"` // lower runs first; ties keep file order
	Match    Match   `yaml:"match,omitempty" json:"match,omitempty"`
	Action   string  `yaml:"action,omitempty" json:"action,omitempty"` // store (default), drop, sample, forward
	Sample   Sample  `yaml:"sample,omitempty" json:"sample,omitempty"`
	Forward  Forward `yaml:"forward,omitempty" json:"forward,omitempty"`
	Uplink   string  `yaml:"uplink_priority,omitempty" json:"uplink_priority,omitempty"` // high, normal, low (alias bulk); empty leaves it unset
	Continue bool    `yaml:"continue,omitempty" json:"continue,omitempty"`
}

// Match selects readings. Empty fields match everything; all set fields must
// match. Topic is an MQTT topic filter (+ one level, # the rest); the other
// fields are globs (* any run of characters, ? one character).
type Match struct {
	Topic      string `yaml:"topic,omitempty" json:"topic,omitempty"`
	Device     string `yaml:"device,omitempty" json:"device,omitempty"`
	DeviceType string `yaml:"device_type,omitempty" json:"device_type,omitempty"`
	Metric     string `yaml:"metric,omitempty" json:"metric,omitempty"`
}

// Sample keeps one reading in Every, or at most one per Interval, per series.
// Exactly one of the two is set on a sample rule.
type Sample struct {
	Every    int      `yaml:"every,omitempty" json:"every,omitempty"`
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
}

// Forward names where matched readings are sent besides the store: an MQTT
// topic template ({device}, {metric}, {topic}) and/or a webhook URL.
type Forward struct {
	Topic string `yaml:"topic,omitempty" json:"topic,omitempty"`
	URL   string `yaml:"url,omitempty" json:"url,omitempty"`
}

// File is the document ParseYAML and ParseJSON read.
type File struct {
	Rules []Rule `yaml:"rules" json:"rules"`
}

// ParseYAML decodes a File strictly: unknown keys are errors.
func ParseYAML(data []byte) ([]Rule, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && err != io.EOF {
		return nil, fmt.Errorf("parse routing rules: %w", err)
	}
	return f.Rules, nil
}

// ParseJSON decodes a File strictly: unknown keys are errors.
func ParseJSON(data []byte) ([]Rule, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse routing rules: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("parse routing rules: trailing data")
	}
	return f.Rules, nil
}

// Duration is a time.Duration written as a Go duration string ("5m", "90s").
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

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
