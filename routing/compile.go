package routing

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Sentinel errors; match with errors.Is.
var (
	// ErrInvalidRule wraps every Compile error (a *RuleError).
	ErrInvalidRule = errors.New("invalid routing rule")
)

// RuleError says which rule and key are wrong, and why.
type RuleError struct {
	Index  int    // position in the list given to Compile
	Name   string // the rule's name, possibly empty
	Key    string // dotted key, e.g. "match.topic"
	Reason string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("routing rule %d (%q): %s: %s", e.Index, e.Name, e.Key, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidRule) hold.
func (e *RuleError) Unwrap() error { return ErrInvalidRule }

// Action is what a matching rule does to a reading.
type Action uint8

const (
	ActionStore Action = iota
	ActionDrop
	ActionSample
	ActionForward
)

var actionNames = [...]string{"store", "drop", "sample", "forward"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", a)
}

// Priority is the uplink priority of a reading. The zero value is normal.
type Priority uint8

const (
	PriorityNormal Priority = iota
	PriorityHigh
	PriorityLow
)

func (p Priority) String() string {
	switch p {
	case PriorityNormal:
		return "normal"
	case PriorityHigh:
		return "high"
	case PriorityLow:
		return "low"
	}
	return fmt.Sprintf("priority(%d)", p)
}

// ParsePriority reads high, normal, low or bulk (an alias of low).
func ParsePriority(s string) (Priority, error) {
	switch s {
	case "high":
		return PriorityHigh, nil
	case "normal":
		return PriorityNormal, nil
	case "low", "bulk":
		return PriorityLow, nil
	}
	return 0, fmt.Errorf("unknown priority %q (want high, normal, low or bulk)", s)
}

// rule is a compiled Rule.
type rule struct {
	name       string
	order      int // position after sorting: the evaluation order
	topic      topicFilter
	device     glob
	deviceType glob
	metric     glob
	action     Action
	uplink     Priority
	setUplink  bool
	cont       bool
	keepOnly   bool       // no action given: store by default, but decide nothing
	sampler    *sampler   // ActionSample only
	fwdTopic   []tmplPart // ActionForward; nil when no topic
	fwdURL     string
	stats      *ruleStats
}

func compileRule(i int, r Rule) (*rule, error) {
	fail := func(key, format string, args ...any) error {
		return &RuleError{Index: i, Name: r.Name, Key: key, Reason: fmt.Sprintf(format, args...)}
	}
	if r.Name == "" {
		return nil, fail("name", "required")
	}
	c := &rule{name: r.Name, cont: r.Continue}
	var err error
	if c.topic, err = compileTopic(r.Match.Topic); err != nil {
		return nil, fail("match.topic", "%v", err)
	}
	for _, g := range []struct {
		key string
		pat string
		dst *glob
	}{{"match.device", r.Match.Device, &c.device}, {"match.device_type", r.Match.DeviceType, &c.deviceType}, {"match.metric", r.Match.Metric, &c.metric}} {
		if *g.dst, err = compileGlob(g.pat); err != nil {
			return nil, fail(g.key, "%v", err)
		}
	}
	if r.Uplink != "" {
		if c.uplink, err = ParsePriority(r.Uplink); err != nil {
			return nil, fail("uplink_priority", "%v", err)
		}
		c.setUplink = true
	}
	if err := c.compileAction(r, fail); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *rule) compileAction(r Rule, fail func(key, format string, args ...any) error) error {
	switch r.Action {
	case "":
		c.action, c.keepOnly = ActionStore, true
	case "store":
		c.action = ActionStore
	case "drop":
		c.action = ActionDrop
	case "sample":
		c.action = ActionSample
	case "forward":
		c.action = ActionForward
	default:
		return fail("action", "unknown action %q (want store, drop, sample or forward)", r.Action)
	}
	if c.action != ActionSample && r.Sample != (Sample{}) {
		return fail("sample", "only allowed with action sample")
	}
	if c.action != ActionForward && r.Forward != (Forward{}) {
		return fail("forward", "only allowed with action forward")
	}
	switch c.action {
	case ActionSample:
		return c.compileSample(r.Sample, fail)
	case ActionForward:
		return c.compileForward(r.Forward, fail)
	}
	return nil
}

func (c *rule) compileSample(s Sample, fail func(key, format string, args ...any) error) error {
	switch {
	case s.Every < 0:
		return fail("sample.every", "must be at least 1")
	case s.Every > 0 && s.Interval > 0:
		return fail("sample", "set every or interval, not both")
	case s.Every == 0 && s.Interval == 0:
		return fail("sample", "set every (keep 1 in N) or interval (at most one per interval)")
	}
	c.sampler = &sampler{every: uint64(s.Every), interval: s.Interval.D()}
	return nil
}

func (c *rule) compileForward(f Forward, fail func(key, format string, args ...any) error) error {
	if f.Topic == "" && f.URL == "" {
		return fail("forward", "set topic and/or url")
	}
	if f.Topic != "" {
		parts, err := compileTemplate(f.Topic)
		if err != nil {
			return fail("forward.topic", "%v", err)
		}
		c.fwdTopic = parts
	}
	if f.URL != "" {
		u, err := url.Parse(f.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fail("forward.url", "want an absolute http or https URL, got %q", f.URL)
		}
		c.fwdURL = f.URL
	}
	return nil
}

// Compile checks the rules and builds a Router with default Options.
func Compile(rules []Rule) (*Router, error) { return New(rules, Options{}) }

// compileAll compiles every rule, sorts them into evaluation order (lower
// Priority first, ties in list order) and indexes them by exact metric.
func compileAll(rules []Rule) ([]*rule, map[string][]int32, []int32, error) {
	type ordered struct {
		prio, index int
		r           *rule
	}
	list := make([]ordered, 0, len(rules))
	names := make(map[string]int, len(rules))
	for i, r := range rules {
		c, err := compileRule(i, r)
		if err != nil {
			return nil, nil, nil, err
		}
		if j, dup := names[r.Name]; dup {
			return nil, nil, nil, &RuleError{Index: i, Name: r.Name, Key: "name", Reason: fmt.Sprintf("duplicate of rule %d", j)}
		}
		names[r.Name] = i
		list = append(list, ordered{r.Priority, i, c})
	}
	sort.SliceStable(list, func(a, b int) bool { return list[a].prio < list[b].prio })
	out := make([]*rule, len(list))
	byMetric := make(map[string][]int32)
	var general []int32
	for i, o := range list {
		o.r.order = i
		out[i] = o.r
		if o.r.metric.kind == globLiteral {
			byMetric[o.r.metric.lit] = append(byMetric[o.r.metric.lit], int32(i))
		} else {
			general = append(general, int32(i))
		}
	}
	return out, byMetric, general, nil
}

// tmplPart is a literal or one of the placeholders of a forward topic.
type tmplPart struct {
	lit string
	ph  byte // 0 literal, 'd' device, 'm' metric, 't' topic
}

func compileTemplate(s string) ([]tmplPart, error) {
	if strings.ContainsAny(s, "+#\x00") {
		return nil, fmt.Errorf("topic %q: a publish topic has no wildcards or NUL", s)
	}
	var parts []tmplPart
	for s != "" {
		open := strings.IndexByte(s, '{')
		if open < 0 {
			parts = append(parts, tmplPart{lit: s})
			break
		}
		if open > 0 {
			parts = append(parts, tmplPart{lit: s[:open]})
		}
		end := strings.IndexByte(s[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed '{' in %q", s)
		}
		switch name := s[open+1 : open+end]; name {
		case "device":
			parts = append(parts, tmplPart{ph: 'd'})
		case "metric":
			parts = append(parts, tmplPart{ph: 'm'})
		case "topic":
			parts = append(parts, tmplPart{ph: 't'})
		default:
			return nil, fmt.Errorf("unknown placeholder {%s} (want {device}, {metric} or {topic})", name)
		}
		s = s[open+end+1:]
	}
	return parts, nil
}

var unwild = strings.NewReplacer("+", "_", "#", "_", "\x00", "_")

// render fills the template. Substituted values have MQTT wildcards
// replaced by '_', and an empty value becomes "_", so the result is always
// a valid, non-empty publish topic.
func render(parts []tmplPart, topic, device, metric string) string {
	var b strings.Builder
	for _, p := range parts {
		v := p.lit
		switch p.ph {
		case 'd':
			v = device
		case 'm':
			v = metric
		case 't':
			v = topic
		}
		if p.ph != 0 && v == "" {
			v = "_"
		}
		if p.ph != 0 && strings.ContainsAny(v, "+#\x00") {
			v = unwild.Replace(v)
		}
		b.WriteString(v)
	}
	return b.String()
}
