package notify

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const exampleYAML = `
channels:
  - name: ops-hook
    kind: webhook
    url: https://example.com/hook
    secret: s3cret
    min_severity: warning
    rate_limit: {per: 1m, burst: 10}
    retries: 3
    timeout: 5s
  - name: bus
    kind: mqtt
    topic: "alerts/{severity}/{rule}/{device}"
    qos: 1
  - name: mail
    kind: email
    smtp: {addr: "smtp.example.com:587", from: "edge@example.com", to: ["ops@example.com"], username: u, password: p}
  - name: journal
    kind: log
`

func TestParseYAMLExample(t *testing.T) {
	chs, err := ParseYAML([]byte(exampleYAML))
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 4 {
		t.Fatalf("%d channels", len(chs))
	}
	hook := chs[0]
	if hook.retries() != 3 || hook.timeout() != 5*time.Second || hook.RateLimit.Per.D() != time.Minute ||
		hook.RateLimit.Burst != 10 || hook.MinSeverity != "warning" {
		t.Fatalf("webhook decoded as %+v", hook)
	}
	if chs[1].QoS != 1 || chs[2].SMTP.To[0] != "ops@example.com" || chs[3].retries() != DefaultRetries ||
		chs[3].timeout() != DefaultTimeout {
		t.Fatalf("decoded as %+v", chs)
	}
}

func TestParseJSON(t *testing.T) {
	chs, err := ParseJSON([]byte(`{"channels":[{"name":"j","kind":"log","retries":0,"rate_limit":{"per":"10s","burst":1}}]}`))
	if err != nil || chs[0].retries() != 0 || chs[0].RateLimit.Per.D() != 10*time.Second {
		t.Fatalf("%+v %v", chs, err)
	}
	if _, err := ParseJSON([]byte(`{"channels":[{"name":"j","kind":"log","colour":"red"}]}`)); !errors.Is(err, ErrConfig) {
		t.Fatalf("unknown json key: %v", err)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown key", "channels: [{name: a, kind: log, colour: red}]", "colour"},
		{"missing name", "channels: [{kind: log}]", "channels[0].name"},
		{"duplicate name", "channels: [{name: a, kind: log}, {name: a, kind: log}]", "channels[1].name"},
		{"unknown kind", "channels: [{name: a, kind: pager}]", "channels[0].kind"},
		{"webhook without url", "channels: [{name: a, kind: webhook}]", "channels[0].url"},
		{"webhook bad scheme", "channels: [{name: a, kind: webhook, url: 'ftp://x'}]", "channels[0].url"},
		{"mqtt wildcard", "channels: [{name: a, kind: mqtt, topic: 'a/#'}]", "channels[0].topic"},
		{"mqtt qos", "channels: [{name: a, kind: mqtt, topic: a, qos: 3}]", "channels[0].qos"},
		{"email without smtp", "channels: [{name: a, kind: email}]", "channels[0].smtp"},
		{"email bad addr", "channels: [{name: a, kind: email, smtp: {addr: host, from: a@b.c, to: [c@d.e]}}]", "channels[0].smtp.addr"},
		{"email bad from", "channels: [{name: a, kind: email, smtp: {addr: 'h:25', from: nope, to: [c@d.e]}}]", "channels[0].smtp.from"},
		{"email no to", "channels: [{name: a, kind: email, smtp: {addr: 'h:25', from: a@b.c}}]", "channels[0].smtp.to"},
		{"email bad to", "channels: [{name: a, kind: email, smtp: {addr: 'h:25', from: a@b.c, to: [c@d.e, bad]}}]", "channels[0].smtp.to[1]"},
		{"password without user", "channels: [{name: a, kind: email, smtp: {addr: 'h:25', from: a@b.c, to: [c@d.e], password: p}}]", "channels[0].smtp.username"},
		{"field of another kind", "channels: [{name: a, kind: log, url: 'http://x'}]", "channels[0].url"},
		{"severity", "channels: [{name: a, kind: log, min_severity: fatal}]", "channels[0].min_severity"},
		{"retries", "channels: [{name: a, kind: log, retries: -1}]", "channels[0].retries"},
		{"rate per", "channels: [{name: a, kind: log, rate_limit: {burst: 1}}]", "channels[0].rate_limit.per"},
		{"rate burst", "channels: [{name: a, kind: log, rate_limit: {per: 1m}}]", "channels[0].rate_limit.burst"},
		{"bad duration", "channels: [{name: a, kind: log, timeout: soon}]", "soon"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseYAML([]byte(tc.yaml))
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an ErrConfig naming %q", err, tc.want)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New([]Channel{{Name: "a", Kind: "pager"}}, Options{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("invalid channel: %v", err)
	}
	if _, err := New([]Channel{{Name: "a", Kind: KindMQTT, Topic: "t"}}, Options{}); !errors.Is(err, ErrNoPublisher) {
		t.Fatalf("mqtt without publish: %v", err)
	}
}
