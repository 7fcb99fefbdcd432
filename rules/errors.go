package rules

import (
	"errors"
	"fmt"
)

// Sentinel errors. Compile errors are *Error values that match ErrInvalid.
var (
	// ErrInvalid marks a rule that does not compile.
	ErrInvalid = errors.New("invalid rule")
	// ErrNoAlert is returned by Ack and Resolve when no alert is active for
	// the rule and device.
	ErrNoAlert = errors.New("no active alert")
	// ErrRuleError marks a rule put in the error state after repeated
	// run-time failures.
	ErrRuleError = errors.New("rule in error state")
)

// Error explains why a rule was refused. Field is the path of the offending
// key ("window.size", "pattern.steps[1].condition"); for expressions Line and
// Column (both 1-based) locate the error inside the expression text.
type Error struct {
	Rule   string `json:"rule"`
	Field  string `json:"field,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Msg    string `json:"message"`
}

func (e *Error) Error() string {
	s := "rule " + quoteID(e.Rule)
	if e.Field != "" {
		s += ": " + e.Field
	}
	s += ": " + e.Msg
	if e.Line > 0 {
		s += fmt.Sprintf(" (line %d, column %d)", e.Line, e.Column)
	}
	return s
}

// Is makes errors.Is(err, ErrInvalid) true for every *Error.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

func quoteID(id string) string { return fmt.Sprintf("%q", id) }

func invalid(rule, field, format string, args ...any) *Error {
	return &Error{Rule: rule, Field: field, Msg: fmt.Sprintf(format, args...)}
}
