package rules

import (
	"path"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/edgevault/edgevault/point"
)

// Compiled is a validated rule ready for an Engine. It is immutable and may
// be shared.
type Compiled struct {
	Rule Rule

	match matcher
	cond  *condition // alert
	win   *windowSpec
	pat   *patternSpec

	usesLatest bool
}

type matcher struct {
	exact  []string // metric names indexed exactly
	globs  []glob   // metric globs; checked for every reading
	any    bool     // no metric constraint
	device string
	devGl  bool
	devG   glob // device, when devGl
	tags   []tagMatch
	status bool
	where  *boolExpr // nil when the match has none
}

type tagMatch struct {
	key string
	g   glob
}

// glob is a compiled path.Match pattern: a pattern without special
// characters is compared, and the common "prefix*" form is a prefix test.
type glob struct {
	pattern string
	form    uint8
}

const (
	globPath   uint8 = iota // path.Match
	globEqual               // no special characters
	globPrefix              // pattern[:len-1] then any characters but '/'
)

func newGlob(pattern string) glob {
	const special = `*?[\`
	switch i := strings.IndexAny(pattern, special); {
	case i < 0:
		return glob{pattern, globEqual}
	case i == len(pattern)-1 && pattern[i] == '*':
		return glob{pattern, globPrefix}
	}
	return glob{pattern, globPath}
}

func (g glob) match(s string) bool {
	switch g.form {
	case globEqual:
		return s == g.pattern
	case globPrefix:
		n := len(g.pattern) - 1
		return len(s) >= n && s[:n] == g.pattern[:n] && strings.IndexByte(s[n:], '/') < 0
	}
	ok, _ := path.Match(g.pattern, s)
	return ok
}

type condKind uint8

const (
	condThreshold condKind = iota + 1
	condExpr
	condTrend
	condFluct
)

type condition struct {
	kind       condKind
	op         opCode
	thr        float64
	expr       *boolExpr // condExpr
	over       int64     // ms
	per        float64
	above      *float64
	below      *float64
	minSamples int
}

// boolExpr is a compiled boolean expression, a condition or a match's
// where: its program and what of Env it reads, and, when it only compares
// value, device or metric with literals, the same expression as Go
// closures (fastexpr.go), which then run instead of the program.
type boolExpr struct {
	prog   *vm.Program
	fast   fastBool
	tagsIn bool // it reads tags
	metaIn bool // it reads meta
}

func compileBool(ec exprCache, rule, field, src string) (*boolExpr, error) {
	p, err := ec.compile(rule, field, src, resultBool)
	if err != nil {
		return nil, err
	}
	return &boolExpr{prog: p, fast: fastFor(p), tagsIn: exprUses(src, "tags"), metaIn: exprUses(src, "meta")}, nil
}

// Compile validates a rule and compiles its expressions. An invalid rule is
// refused with an *Error naming the field, the reason and, for expressions,
// the line and column.
func Compile(r Rule) (*Compiled, error) { return compile(r, nil) }

// compile is Compile sharing the programs of expressions with ec.
func compile(r Rule, ec exprCache) (*Compiled, error) {
	if err := point.ValidName(r.ID); err != nil {
		return nil, invalid(r.ID, "id", "%v", err)
	}
	c := &Compiled{Rule: r}
	m, err := compileMatch(ec, r.ID, "match", &r.Match)
	if err != nil {
		return nil, err
	}
	c.match = m
	switch r.Kind {
	case KindWindow:
		err = c.compileWindow(ec)
	case KindAlert:
		err = c.compileAlert(ec)
	case KindPattern:
		err = c.compilePattern(ec)
	default:
		return nil, invalid(r.ID, "kind", "unknown kind %q (want window, alert or pattern)", r.Kind)
	}
	if err != nil {
		return nil, err
	}
	c.usesLatest = ruleUses(&r, "latest")
	return c, nil
}

func (c *Compiled) compileAlert(ec exprCache) error {
	r := &c.Rule
	if r.Window != nil || r.Pattern != nil {
		return invalid(r.ID, "kind", "alert rules take no window or pattern")
	}
	if err := checkSeverity(r); err != nil {
		return err
	}
	cond, err := compileCond(ec, r.ID, "", &r.Cond)
	if err != nil {
		return err
	}
	if c.match.status && (cond.kind == condTrend || cond.kind == condFluct) {
		return invalid(r.ID, "match.event", "status events take a threshold or condition, not trend or fluctuation")
	}
	c.cond = cond
	return nil
}

func checkSeverity(r *Rule) error {
	switch r.Severity {
	case "":
		r.Severity = SeverityWarning
	case SeverityInfo, SeverityWarning, SeverityCritical:
	default:
		return invalid(r.ID, "severity", "unknown severity %q (want info, warning or critical)", r.Severity)
	}
	return nil
}

func compileMatch(ec exprCache, rule, field string, m *Match) (matcher, error) {
	var out matcher
	switch m.Event {
	case "", "reading":
	case "status":
		out.status = true
	default:
		return out, invalid(rule, field+".event", "unknown event %q (want reading or status)", m.Event)
	}
	names := m.metrics()
	if out.status && len(names) > 0 {
		return out, invalid(rule, field+".metric", "status events have no metric")
	}
	if err := out.setMetrics(rule, field, names); err != nil {
		return out, err
	}
	if err := checkGlob(rule, field+".device", m.Device); err != nil {
		return out, err
	}
	out.device, out.devGl, out.devG = m.Device, isGlob(m.Device), newGlob(m.Device)
	if m.Device == "*" {
		out.device = ""
	}
	for k, v := range m.Tags {
		if err := checkGlob(rule, field+".tags."+k, v); err != nil {
			return out, err
		}
		out.tags = append(out.tags, tagMatch{k, newGlob(v)})
	}
	if m.Where != "" {
		x, err := compileBool(ec, rule, field+".where", m.Where)
		if err != nil {
			return out, err
		}
		out.where = x
	}
	return out, nil
}

func (out *matcher) setMetrics(rule, field string, names []string) error {
	for _, n := range names {
		if err := checkGlob(rule, field+".metric", n); err != nil {
			return err
		}
		switch {
		case slices.Contains(out.exact, n) || slices.Contains(out.globs, newGlob(n)):
			// listed twice: index it once
		case n == "*":
			out.any = true
		case isGlob(n):
			out.globs = append(out.globs, newGlob(n))
		default:
			out.exact = append(out.exact, n)
		}
	}
	if len(names) == 0 {
		out.any = true
	}
	return nil
}

func checkGlob(rule, field, pattern string) error {
	if _, err := path.Match(pattern, ""); err != nil {
		return invalid(rule, field, "bad pattern %q: %v", pattern, err)
	}
	return nil
}

func compileCond(ec exprCache, rule, prefix string, c *Cond) (*condition, error) {
	set := 0
	for _, b := range []bool{c.Threshold != nil, c.Expr != "", c.Trend != nil, c.Fluctuation != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		return nil, invalid(rule, prefix+"condition", "want exactly one of threshold, condition, trend or fluctuation (have %d)", set)
	}
	switch {
	case c.Threshold != nil:
		return compileThreshold(rule, prefix, c.Threshold)
	case c.Expr != "":
		x, err := compileBool(ec, rule, prefix+"condition", c.Expr)
		if err != nil {
			return nil, err
		}
		return &condition{kind: condExpr, expr: x}, nil
	case c.Trend != nil:
		return compileTrend(rule, prefix, c.Trend)
	}
	return compileFluct(rule, prefix, c.Fluctuation)
}

func compileThreshold(rule, prefix string, t *Threshold) (*condition, error) {
	op, ok := opCodes[t.Op]
	if !ok {
		return nil, invalid(rule, prefix+"threshold.op", "unknown operator %q (want >, <, >=, <=, == or !=)", t.Op)
	}
	return &condition{kind: condThreshold, op: op, thr: t.Value}, nil
}

// opCode is a threshold's comparison, decoded once at compile time.
type opCode uint8

const (
	opGT opCode = iota
	opLT
	opGE
	opLE
	opEQ
	opNE
)

var opCodes = map[string]opCode{">": opGT, "<": opLT, ">=": opGE, "<=": opLE, "==": opEQ, "!=": opNE}

// maxSpan bounds window sizes and condition durations; state older than a
// week is not real-time analytics and would only cost memory.
const maxSpan = 7 * 24 * time.Hour

func checkSpan(rule, field string, d Duration) error {
	if d <= 0 {
		return invalid(rule, field, "must be a positive duration")
	}
	if d.D() > maxSpan {
		return invalid(rule, field, "longer than %v", maxSpan)
	}
	return nil
}

func compileTrend(rule, prefix string, t *Trend) (*condition, error) {
	if err := checkSpan(rule, prefix+"trend.over", t.Over); err != nil {
		return nil, err
	}
	if (t.Above == nil) == (t.Below == nil) {
		return nil, invalid(rule, prefix+"trend", "want exactly one of above or below")
	}
	per := t.Per
	if per == 0 {
		per = Duration(time.Minute)
	}
	ms := t.MinSamples
	if ms == 0 {
		ms = 3
	}
	if ms < 2 {
		return nil, invalid(rule, prefix+"trend.min_samples", "must be at least 2")
	}
	return &condition{kind: condTrend, over: t.Over.ms(), per: float64(per.ms()), above: t.Above, below: t.Below, minSamples: ms}, nil
}

func compileFluct(rule, prefix string, f *Fluctuation) (*condition, error) {
	if err := checkSpan(rule, prefix+"fluctuation.over", f.Over); err != nil {
		return nil, err
	}
	if f.Above <= 0 {
		return nil, invalid(rule, prefix+"fluctuation.above", "must be positive (0.2 means 20 %%)")
	}
	ms := f.MinSamples
	if ms == 0 {
		ms = 2
	}
	if ms < 2 {
		return nil, invalid(rule, prefix+"fluctuation.min_samples", "must be at least 2")
	}
	return &condition{kind: condFluct, over: f.Over.ms(), thr: f.Above, minSamples: ms}, nil
}

func ruleUses(r *Rule, ident string) bool {
	srcs := []string{r.Match.Where, r.Expr}
	if r.Window != nil {
		srcs = append(srcs, r.Window.Value)
	}
	if r.Pattern != nil {
		for _, s := range r.Pattern.Steps {
			srcs = append(srcs, s.Match.Where, s.Expr)
		}
	}
	return exprUses(strings.Join(srcs, "\n"), ident)
}

// matches reports whether a reading passes the static part of the matcher
// (metric, device, tags); the where expression is evaluated by the engine.
func (m *matcher) matches(r *point.Reading) bool {
	if !m.matchDevice(r.Device) {
		return false
	}
	if !m.any && !m.matchMetric(r.Metric) {
		return false
	}
	for _, t := range m.tags {
		v, ok := tagValue(r.Tags, t.key)
		if !ok || !t.g.match(v) {
			return false
		}
	}
	return true
}

func (m *matcher) matchDevice(d string) bool {
	if m.device == "" {
		return true
	}
	if !m.devGl {
		return m.device == d
	}
	return m.devG.match(d)
}

func (m *matcher) matchMetric(metric string) bool {
	for _, e := range m.exact {
		if e == metric {
			return true
		}
	}
	for _, g := range m.globs {
		if g.match(metric) {
			return true
		}
	}
	return false
}

func tagValue(tags []point.Tag, key string) (string, bool) {
	for _, t := range tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}
