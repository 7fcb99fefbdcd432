package rules

import (
	"errors"
	"math"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Env is what an expression sees. Field names in expressions are the expr
// tags: value, device, tags["room"], meta["type"], latest("dev", "metric"),
// w.avg, agg["pm25"].max and so on.
type Env struct {
	Event  string            `expr:"event"`  // "reading", "status" or "window"
	Device string            `expr:"device"` // device of the reading or status change
	Metric string            `expr:"metric"`
	Value  float64           `expr:"value"` // numeric value; bool as 0/1; NaN for strings
	Text   string            `expr:"text"`  // string value, or the value formatted
	Tags   map[string]string `expr:"tags"`
	Time   int64             `expr:"time"`   // event time, Unix ms
	Online bool              `expr:"online"` // status events: the new state
	Meta   map[string]any    `expr:"meta"`   // device metadata from Options.Meta

	// W holds the aggregates of a window's (first) metric; Agg those of
	// every metric of the window, by metric name. Only set in window
	// value expressions.
	W   Agg            `expr:"w"`
	Agg map[string]Agg `expr:"agg"`

	// Latest returns the latest value of another series, NaN if unknown.
	Latest func(device, metric string) float64 `expr:"latest"`
}

// Agg is the set of aggregates of one metric over one window.
type Agg struct {
	Count  float64 `expr:"count"`
	Sum    float64 `expr:"sum"`
	Avg    float64 `expr:"avg"`
	Min    float64 `expr:"min"`
	Max    float64 `expr:"max"`
	Stddev float64 `expr:"stddev"`
	First  float64 `expr:"first"`
	Last   float64 `expr:"last"`
}

type resultKind int

const (
	resultBool resultKind = iota
	resultFloat
)

// maxExprNodes bounds the size of one expression so a hostile rule cannot
// make compilation or evaluation arbitrarily expensive.
const maxExprNodes = 2000

var exprFuncs = []expr.Option{
	expr.Function("aqi", func(p ...any) (any, error) {
		return AQI(p[0].(map[string]Agg)), nil
	}, new(func(map[string]Agg) float64)),
	expr.Function("aqi_sub", func(p ...any) (any, error) {
		return SubIndex(p[0].(string), p[1].(float64)), nil
	}, new(func(string, float64) float64)),
}

// exprCache shares the programs of identical expressions between the rules
// of one CompileAll: rule sets made from templates repeat expressions, and
// compiling one costs 100 µs or more. A program is read-only once
// compiled, so rules can share it. A nil exprCache shares nothing.
type exprCache map[exprKey]*vm.Program

type exprKey struct {
	src  string
	kind resultKind
}

func (ec exprCache) compile(rule, field, src string, kind resultKind) (*vm.Program, error) {
	k := exprKey{src, kind}
	if p := ec[k]; p != nil {
		return p, nil
	}
	p, err := compileExpr(rule, field, src, kind)
	if err == nil && ec != nil {
		ec[k] = p
	}
	return p, err
}

// compileExpr compiles one expression against Env; field names the rule key
// for error messages.
func compileExpr(rule, field, src string, kind resultKind) (*vm.Program, error) {
	opts := make([]expr.Option, 0, 5)
	opts = append(opts, expr.Env(Env{}), expr.MaxNodes(maxExprNodes))
	opts = append(opts, exprFuncs...)
	if kind == resultBool {
		opts = append(opts, expr.AsBool())
	} else {
		opts = append(opts, expr.AsFloat64())
	}
	p, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, exprError(rule, field, err)
	}
	return p, nil
}

func exprError(rule, field string, err error) *Error {
	var fe *file.Error
	if errors.As(err, &fe) {
		e := &Error{Rule: rule, Field: field, Msg: fe.Message}
		if fe.Line > 0 {
			e.Line, e.Column = fe.Line, fe.Column+1
		}
		return e
	}
	return &Error{Rule: rule, Field: field, Msg: err.Error()}
}

// exprUses reports whether an expression mentions an identifier; it is a
// cheap, conservative test used to skip building maps nobody reads.
func exprUses(src, ident string) bool { return strings.Contains(src, ident) }

var nan = math.NaN()
