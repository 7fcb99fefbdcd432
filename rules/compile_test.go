package rules

import (
	"encoding/json"
	"errors"
	"path"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseYAMLStrict(t *testing.T) {
	good := `
rules:
  - id: hot
    kind: alert
    match: {metric: temperature, device: "sensor-*"}
    threshold: {op: ">", value: 30}
    for: 2m30s
    severity: critical
`
	rs, err := ParseYAML([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].For.D() != 150*time.Second || rs[0].Threshold.Value != 30 {
		t.Fatalf("decoded %+v", rs)
	}
	tests := []struct{ name, doc, want string }{
		{"unknown key", "rules:\n  - id: a\n    kind: alert\n    colour: red\n", "colour"},
		{"bad duration", "rules:\n  - id: a\n    for: soon\n", "soon"},
		{"duration not scalar", "rules:\n  - id: a\n    for: [1]\n", "duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseYAML([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want mention of %q", err, tt.want)
			}
		})
	}
}

func TestParseJSONStrict(t *testing.T) {
	r, err := ParseRuleJSON([]byte(`{"id":"w","kind":"window","match":{"metric":"t"},
		"window":{"type":"hopping","size":"10m","hop":"1m","output":{"metric":"t10"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(r); err != nil {
		t.Fatalf("compile: %v", err)
	}
	if r.Window.Hop.D() != time.Minute {
		t.Errorf("hop = %v", r.Window.Hop)
	}
	for name, doc := range map[string]string{
		"unknown field":    `{"id":"a","kind":"alert","nope":1}`,
		"numeric duration": `{"id":"a","for":60}`,
		"trailing data":    `{"id":"a"} {"id":"b"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseRuleJSON([]byte(doc)); err == nil {
				t.Errorf("accepted %s", doc)
			}
		})
	}
	rs, err := ParseJSON([]byte(`[{"id":"a","kind":"alert","condition":"value > 1"}]`))
	if err != nil || len(rs) != 1 || rs[0].Expr != "value > 1" {
		t.Fatalf("array form: %v %+v", err, rs)
	}
}

func TestCompileRefusesInvalidRules(t *testing.T) {
	thr := &Threshold{Op: ">", Value: 1}
	win := func(w Window) *Window {
		if w.Output.Metric == "" {
			w.Output.Metric = "out"
		}
		return &w
	}
	tests := []struct {
		name      string
		rule      Rule
		field     string
		line, col int
	}{
		{"empty id", Rule{Kind: KindAlert, Cond: Cond{Threshold: thr}}, "id", 0, 0},
		{"unknown kind", Rule{ID: "r", Kind: "cron"}, "kind", 0, 0},
		{"no condition", Rule{ID: "r", Kind: KindAlert}, "condition", 0, 0},
		{"two conditions", Rule{ID: "r", Kind: KindAlert, Cond: Cond{Threshold: thr, Expr: "true"}}, "condition", 0, 0},
		{"bad operator", Rule{ID: "r", Kind: KindAlert, Cond: Cond{Threshold: &Threshold{Op: "=>"}}}, "threshold.op", 0, 0},
		{"expr syntax", Rule{ID: "r", Kind: KindAlert, Cond: Cond{Expr: "value >"}}, "condition", 1, 7},
		{"expr unknown name", Rule{ID: "r", Kind: KindAlert, Cond: Cond{Expr: "value > 1 &&\n  temprature > 3"}}, "condition", 2, 3},
		{"expr not bool", Rule{ID: "r", Kind: KindAlert, Cond: Cond{Expr: "value + 1"}}, "condition", 0, 0},
		{"where error", Rule{ID: "r", Kind: KindAlert, Match: Match{Where: `tags["a"] ==`}, Cond: Cond{Threshold: thr}}, "match.where", 1, 0},
		{"bad glob", Rule{ID: "r", Kind: KindAlert, Match: Match{Device: "[a"}, Cond: Cond{Threshold: thr}}, "match.device", 0, 0},
		{"bad severity", Rule{ID: "r", Kind: KindAlert, Severity: "fatal", Cond: Cond{Threshold: thr}}, "severity", 0, 0},
		{"bad event", Rule{ID: "r", Kind: KindAlert, Match: Match{Event: "boot"}, Cond: Cond{Threshold: thr}}, "match.event", 0, 0},
		{"trend both", Rule{ID: "r", Kind: KindAlert, Cond: Cond{Trend: &Trend{Over: Duration(time.Minute)}}}, "trend", 0, 0},
		{"fluctuation zero", Rule{ID: "r", Kind: KindAlert, Cond: Cond{Fluctuation: &Fluctuation{Over: Duration(time.Minute)}}}, "fluctuation.above", 0, 0},
		{"window missing", Rule{ID: "r", Kind: KindWindow}, "window", 0, 0},
		{"window type", Rule{ID: "r", Kind: KindWindow, Window: win(Window{Type: "sliding"})}, "window.type", 0, 0},
		{"window no size", Rule{ID: "r", Kind: KindWindow, Window: win(Window{Type: "tumbling"})}, "window.size", 0, 0},
		{"hop above size", Rule{ID: "r", Kind: KindWindow, Window: win(Window{Type: "hopping", Size: Duration(time.Minute), Hop: Duration(time.Hour)})}, "window.hop", 0, 0},
		{"too many hops", Rule{ID: "r", Kind: KindWindow, Window: win(Window{Type: "hopping", Size: Duration(time.Hour), Hop: Duration(time.Millisecond)})}, "window.hop", 0, 0},
		{"too many panes", Rule{ID: "r", Kind: KindWindow, Window: win(Window{Type: "hopping", Size: Duration(time.Hour), Hop: Duration(59*time.Minute + 59*time.Second)})}, "window.hop", 0, 0},
		{"count zero", Rule{ID: "r", Kind: KindWindow, Window: win(Window{Type: "count"})}, "window.count", 0, 0},
		{"bad key", Rule{ID: "r", Kind: KindWindow, Window: win(Window{Type: "count", Count: 2, Key: "room"})}, "window.key", 0, 0},
		{"bad aggregate", Rule{ID: "r", Kind: KindWindow, Window: win(Window{Type: "count", Count: 2, Aggregate: "median"})}, "window.aggregate", 0, 0},
		{"value expr", Rule{ID: "r", Kind: KindWindow, Window: win(Window{Type: "count", Count: 2, Value: "w.avg +"})}, "window.value", 1, 7},
		{"no output metric", Rule{ID: "r", Kind: KindWindow, Window: &Window{Type: "count", Count: 2}}, "window.output.metric", 0, 0},
		{"window with condition", Rule{ID: "r", Kind: KindWindow, Cond: Cond{Threshold: thr}, Window: win(Window{Type: "count", Count: 2})}, "kind", 0, 0},
		{"pattern missing", Rule{ID: "r", Kind: KindPattern}, "pattern", 0, 0},
		{"pattern n", Rule{ID: "r", Kind: KindPattern, Pattern: &Pattern{Type: "any", N: 3, Within: Duration(time.Minute), Steps: []Step{{Cond: Cond{Threshold: thr}}}}}, "pattern.n", 0, 0},
		{"pattern step expr", Rule{ID: "r", Kind: KindPattern, Pattern: &Pattern{Type: "all", Within: Duration(time.Minute), Steps: []Step{{Cond: Cond{Threshold: thr}}, {Cond: Cond{Expr: "valu > 1"}}}}}, "pattern.steps[1].condition", 1, 1},
		{"pattern within", Rule{ID: "r", Kind: KindPattern, Pattern: &Pattern{Type: "all", Steps: []Step{{Cond: Cond{Threshold: thr}}}}}, "pattern.within", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.rule)
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if ce.Field != tt.field {
				t.Errorf("field = %q, want %q (%v)", ce.Field, tt.field, err)
			}
			if tt.line != 0 && (ce.Line != tt.line || (tt.col != 0 && ce.Column != tt.col)) {
				t.Errorf("position = %d:%d, want %d:%d (%v)", ce.Line, ce.Column, tt.line, tt.col, err)
			}
		})
	}
}

func TestCompileAllRefusesDuplicates(t *testing.T) {
	r := Rule{ID: "a", Kind: KindAlert, Cond: Cond{Expr: "value > 1"}}
	_, err := CompileAll([]Rule{r, r, {ID: "b", Kind: "x"}})
	if err == nil || !strings.Contains(err.Error(), "duplicate id") || !strings.Contains(err.Error(), `rule "b"`) {
		t.Fatalf("err = %v, want duplicate and kind errors joined", err)
	}
}

func TestRuleJSONRoundTrip(t *testing.T) {
	rs, err := ParseYAML([]byte(`
rules:
  - id: pm
    kind: pattern
    severity: critical
    pattern:
      type: any
      n: 2
      within: 10m
      steps:
        - {match: {metric: temperature}, threshold: {op: ">", value: 80}}
        - {match: {metric: power}, fluctuation: {over: 10m, above: 0.2}}
        - {match: {metric: level}, trend: {over: 1h, per: 1h, below: -3}}
`))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(File{Rules: rs})
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseJSON(data)
	if err != nil {
		t.Fatalf("parse %s: %v", data, err)
	}
	if !reflect.DeepEqual(rs, back) {
		t.Errorf("round trip changed the rules:\n%+v\n%+v", rs, back)
	}
	if _, err := CompileAll(back); err != nil {
		t.Error(err)
	}
}

// TestGlobMatchesPathMatch checks the compiled globs against path.Match
// on every pattern and name made of three pieces of an alphabet of
// literals, separators and special characters.
func TestGlobMatchesPathMatch(t *testing.T) {
	alphabet := []string{"", "a", "b", "/", "*", "?", "[a]", `\`, "-"}
	var words []string
	for _, a := range alphabet {
		for _, b := range alphabet {
			for _, c := range alphabet[:5] {
				words = append(words, a+b+c)
			}
		}
	}
	for _, p := range words {
		g := newGlob(p)
		for _, s := range words {
			want, err := path.Match(p, s)
			if err != nil {
				want = false
			}
			if got := g.match(s); got != want {
				t.Fatalf("glob %q (form %d) on %q = %v, path.Match %v", p, g.form, s, got, want)
			}
		}
	}
}

// TestCompileAllSharesPrograms checks that rules with the same expression
// share its program, and that each rule still reports its own errors.
func TestCompileAllSharesPrograms(t *testing.T) {
	rule := func(id, cond string) Rule {
		return Rule{ID: id, Kind: KindAlert, Match: Match{Metric: "t"}, Cond: Cond{Expr: cond}}
	}
	cs, err := CompileAll([]Rule{rule("a", "value > 1"), rule("b", "value > 1"), rule("c", "value > 2")})
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].cond.expr.prog != cs[1].cond.expr.prog || cs[0].cond.expr.prog == cs[2].cond.expr.prog {
		t.Fatal("programs not shared between identical expressions only")
	}
	_, err = CompileAll([]Rule{rule("a", "value >"), rule("b", "value >")})
	if err == nil || !strings.Contains(err.Error(), `rule "a"`) || !strings.Contains(err.Error(), `rule "b"`) {
		t.Fatalf("errors = %v, want one per rule", err)
	}
}
