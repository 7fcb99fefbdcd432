package routing

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
)

func TestCompileErrors(t *testing.T) {
	ok := Rule{Name: "ok"}
	tests := []struct {
		name  string
		rules []Rule
		index int
		key   string
		why   string
	}{
		{"missing name", []Rule{{Action: "drop"}}, 0, "name", "required"},
		{"duplicate name", []Rule{ok, ok}, 1, "name", "duplicate of rule 0"},
		{"unknown action", []Rule{ok, {Name: "x", Action: "keep"}}, 1, "action", `unknown action "keep"`},
		{"bad topic hash", []Rule{{Name: "x", Match: Match{Topic: "a/#/b"}}}, 0, "match.topic", "'#' must be"},
		{"bad topic plus", []Rule{{Name: "x", Match: Match{Topic: "a/b+"}}}, 0, "match.topic", "'+' must be"},
		{"bad glob utf8", []Rule{{Name: "x", Match: Match{Metric: "\xff"}}}, 0, "match.metric", "UTF-8"},
		{"bad priority", []Rule{{Name: "x", Uplink: "urgent"}}, 0, "uplink_priority", `unknown priority "urgent"`},
		{"sample without rate", []Rule{{Name: "x", Action: "sample"}}, 0, "sample", "set every"},
		{"sample both", []Rule{{Name: "x", Action: "sample", Sample: Sample{Every: 2, Interval: Duration(time.Second)}}}, 0, "sample", "not both"},
		{"sample negative", []Rule{{Name: "x", Action: "sample", Sample: Sample{Every: -1}}}, 0, "sample.every", "at least 1"},
		{"sample on drop", []Rule{{Name: "x", Action: "drop", Sample: Sample{Every: 2}}}, 0, "sample", "only allowed with action sample"},
		{"forward empty", []Rule{{Name: "x", Action: "forward"}}, 0, "forward", "topic and/or url"},
		{"forward on store", []Rule{{Name: "x", Forward: Forward{Topic: "a"}}}, 0, "forward", "only allowed with action forward"},
		{"forward wildcard topic", []Rule{{Name: "x", Action: "forward", Forward: Forward{Topic: "a/+"}}}, 0, "forward.topic", "no wildcards"},
		{"forward unknown placeholder", []Rule{{Name: "x", Action: "forward", Forward: Forward{Topic: "a/{room}"}}}, 0, "forward.topic", "unknown placeholder {room}"},
		{"forward unclosed placeholder", []Rule{{Name: "x", Action: "forward", Forward: Forward{Topic: "a/{device"}}}, 0, "forward.topic", "unclosed"},
		{"forward bad url", []Rule{{Name: "x", Action: "forward", Forward: Forward{URL: "ftp://h/x"}}}, 0, "forward.url", "http or https"},
		{"forward relative url", []Rule{{Name: "x", Action: "forward", Forward: Forward{URL: "/hook"}}}, 0, "forward.url", "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.rules)
			var re *RuleError
			if !errors.As(err, &re) || !errors.Is(err, ErrInvalidRule) {
				t.Fatalf("err = %v, want a *RuleError", err)
			}
			if re.Index != tt.index || re.Key != tt.key || !strings.Contains(re.Reason, tt.why) {
				t.Errorf("got index %d key %q reason %q", re.Index, re.Key, re.Reason)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("message %q does not name the key", err)
			}
		})
	}
}

func TestParseStrict(t *testing.T) {
	tests := []struct {
		name, yaml, json, want string
	}{
		{"unknown key", "rules:\n  - name: a\n    acton: drop\n", `{"rules":[{"name":"a","acton":"drop"}]}`, "acton"},
		{"unknown match key", "rules:\n  - name: a\n    match: {room: x}\n", `{"rules":[{"name":"a","match":{"room":"x"}}]}`, "room"},
		{"bad duration", "rules:\n  - name: a\n    sample: {interval: soon}\n", `{"rules":[{"name":"a","sample":{"interval":"soon"}}]}`, "soon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseYAML([]byte(tt.yaml)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("yaml err = %v, want mention of %q", err, tt.want)
			}
			if _, err := ParseJSON([]byte(tt.json)); err == nil {
				t.Errorf("json err = nil")
			}
		})
	}
	rs, err := ParseJSON([]byte(`{"rules":[{"name":"a","action":"sample","sample":{"interval":"30s"},"uplink_priority":"low"}]}`))
	if err != nil || len(rs) != 1 || rs[0].Sample.Interval.D() != 30*time.Second || rs[0].Uplink != "low" {
		t.Fatalf("json rules %+v, err %v", rs, err)
	}
}

func TestExampleFile(t *testing.T) {
	data, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ParseYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	rs := []point.Reading{
		reading("lamp", "linkquality"), reading("lamp", "state"), reading("hall", "smoke_alarm"),
		reading("plug", "power"), reading("plug", "power"), reading("node", "alert_count"),
	}
	d := r.Route("zigbee2mqtt/lamp", nil, rs)
	stored := []bool{false, true, true, true, false, true}
	prio := []Priority{PriorityNormal, PriorityNormal, PriorityHigh, PriorityLow, PriorityLow, PriorityHigh}
	for i := range rs {
		if d.Stored(i) != stored[i] || d.PriorityOf(i) != prio[i] {
			t.Errorf("%s: stored %v prio %v, want %v %v", rs[i].Metric, d.Stored(i), d.PriorityOf(i), stored[i], prio[i])
		}
	}
	if len(d.Forwards) != 1 || d.Forwards[0].Topic != "site/alarms/hall" {
		t.Errorf("forwards %+v", d.Forwards)
	}
}

func FuzzCompile(f *testing.F) {
	if data, err := os.ReadFile("testdata/example.yaml"); err == nil {
		f.Add(string(data), "zigbee2mqtt/lamp", "lamp", "power")
	}
	f.Add("rules:\n  - name: a\n    match: {topic: 'a/+/#', device: 'x*?y'}\n    action: drop\n", "a/b/c", "xzy", "m")
	f.Add("rules:\n  - name: s\n    action: sample\n    sample: {interval: 1s}\n", "t", "d", "m")
	f.Add("rules:\n  - name: f\n    action: forward\n    forward: {topic: '{topic}/{device}/{metric}', url: 'http://h/x'}\n", "t/#", "d+", "m")
	f.Add("rules: [{name: x, match: {metric: '*'}, continue: true}, {name: y, priority: -1}]", "", "", "")
	f.Fuzz(func(t *testing.T, doc, topic, device, metric string) {
		rules, err := ParseYAML([]byte(doc))
		if err != nil {
			return
		}
		r, err := Compile(rules)
		if err != nil {
			var re *RuleError
			if !errors.As(err, &re) || re.Index < 0 || re.Index >= len(rules) || re.Key == "" {
				t.Fatalf("compile error %v does not locate the rule", err)
			}
			return
		}
		rs := []point.Reading{{Device: device, Metric: metric, Value: point.Int(1)}}
		d := r.Route(topic, func(string) string { return device }, rs)
		for _, fw := range d.Forwards {
			if (fw.Topic == "") == (fw.URL == "") || strings.ContainsAny(fw.Topic, "+#\x00") || len(fw.Readings) == 0 {
				t.Fatalf("bad forward %+v", fw)
			}
		}
		_ = d.Keep(rs)
	})
}
