package rules

import (
	"time"

	"github.com/edgevault/edgevault/point"
)

// OutputKind tags the variant an Output carries.
type OutputKind uint8

const (
	OutputPoint OutputKind = iota + 1 // a derived point (window result)
	OutputAlert                       // an alert transition
	OutputError                       // a rule failed at run time
)

func (k OutputKind) String() string {
	switch k {
	case OutputPoint:
		return "point"
	case OutputAlert:
		return "alert"
	case OutputError:
		return "error"
	}
	return "invalid"
}

// Output is what the engine hands to Options.Emit: exactly one of Point,
// Alert or Err is meaningful, as Kind says.
type Output struct {
	Kind  OutputKind
	Rule  string
	Point point.Reading
	Alert Alert
	Err   error
	// Received is when the readings that caused the output were received
	// (ObserveBatchAt's wall-clock time); zero for outputs of other calls
	// (Observe, Tick, Ack).
	Received time.Time
}

// AlertState is a step of the alert lifecycle.
type AlertState string

const (
	AlertTriggered    AlertState = "triggered"
	AlertAcknowledged AlertState = "acknowledged"
	AlertResolved     AlertState = "resolved"
)

// Alert is one transition of the alert of a rule for a series. There is at
// most one active alert per rule and Key; Rule, Key and Since (the trigger
// time) identify an alert across its transitions. Key is the device id,
// followed by the tags in braces when the series has tags
// ("rooms{room=kitchen}"). Pattern rules matched across devices use "*".
type Alert struct {
	Rule     string
	Key      string
	Device   string
	Tags     []point.Tag
	Metric   string // metric of the reading that caused the transition, if any
	Severity Severity
	State    AlertState
	Value    float64 // value that caused the transition
	Time     int64   // Unix ms of the transition
	Since    int64   // Unix ms the alert triggered
	Message  string
	By       string // who acknowledged or resolved by hand; "" for the engine
}
