package alerts

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/rules"
)

// Alert is one alert lifecycle as the history keeps it. A zero time means
// the step has not happened.
type Alert struct {
	ID             uint64
	Rule           string
	Key            string // rules.Alert.Key: device, plus tags in braces
	Device         string
	Tags           []point.Tag
	Metric         string
	Severity       rules.Severity
	State          rules.AlertState
	Value          float64 // value that triggered the alert
	Message        string
	TriggeredAt    time.Time
	AcknowledgedAt time.Time
	AcknowledgedBy string
	ResolvedAt     time.Time
	ResolvedBy     string
}

// Active reports whether the alert is not resolved.
func (a *Alert) Active() bool { return a.State != rules.AlertResolved }

// TimeFormat is how the JSON form writes times: RFC 3339 with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// wire is the JSON shape of an Alert for the REST API and webhooks.
type wire struct {
	ID             uint64            `json:"id"`
	Rule           string            `json:"rule"`
	Key            string            `json:"key"`
	Device         string            `json:"device"`
	Tags           map[string]string `json:"tags,omitempty"`
	Metric         string            `json:"metric,omitempty"`
	Severity       string            `json:"severity"`
	State          string            `json:"state"`
	Value          *float64          `json:"value"` // null for NaN and infinities
	Message        string            `json:"message,omitempty"`
	TriggeredAt    string            `json:"triggered_at,omitempty"`
	AcknowledgedAt string            `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string            `json:"acknowledged_by,omitempty"`
	ResolvedAt     string            `json:"resolved_at,omitempty"`
	ResolvedBy     string            `json:"resolved_by,omitempty"`
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// MarshalJSON writes the API shape: snake_case keys, tags as an object,
// times in RFC 3339 with milliseconds, unset times omitted.
func (a Alert) MarshalJSON() ([]byte, error) {
	w := wire{
		ID: a.ID, Rule: a.Rule, Key: a.Key, Device: a.Device, Metric: a.Metric,
		Severity: string(a.Severity), State: string(a.State), Message: a.Message,
		TriggeredAt: formatTime(a.TriggeredAt), AcknowledgedAt: formatTime(a.AcknowledgedAt),
		AcknowledgedBy: a.AcknowledgedBy, ResolvedAt: formatTime(a.ResolvedAt), ResolvedBy: a.ResolvedBy,
	}
	if !math.IsNaN(a.Value) && !math.IsInf(a.Value, 0) {
		v := a.Value
		w.Value = &v
	}
	if len(a.Tags) > 0 {
		w.Tags = make(map[string]string, len(a.Tags))
		for _, t := range a.Tags {
			w.Tags[t.Key] = t.Value
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes (a null value reads as NaN).
func (a *Alert) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*a = Alert{
		ID: w.ID, Rule: w.Rule, Key: w.Key, Device: w.Device, Metric: w.Metric,
		Severity: rules.Severity(w.Severity), State: rules.AlertState(w.State), Message: w.Message,
		AcknowledgedBy: w.AcknowledgedBy, ResolvedBy: w.ResolvedBy, Value: math.NaN(),
	}
	if w.Value != nil {
		a.Value = *w.Value
	}
	for k, v := range w.Tags {
		a.Tags = append(a.Tags, point.Tag{Key: k, Value: v})
	}
	point.SortTags(a.Tags)
	var err error
	for _, f := range []struct {
		dst  *time.Time
		src  string
		name string
	}{{&a.TriggeredAt, w.TriggeredAt, "triggered_at"}, {&a.AcknowledgedAt, w.AcknowledgedAt, "acknowledged_at"}, {&a.ResolvedAt, w.ResolvedAt, "resolved_at"}} {
		if *f.dst, err = parseTime(f.src); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}
