package notify

import (
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/edgevault/edgevault/rules"
)

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(exampleYAML), false)
	f.Add([]byte(`{"channels":[{"name":"j","kind":"webhook","url":"http://x","retries":2}]}`), true)
	f.Add([]byte("channels: [{name: a, kind: email, smtp: {addr: 'h:25', from: a@b.c, to: [c@d.e]}}]"), false)
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		parse := ParseYAML
		if isJSON {
			parse = ParseJSON
		}
		chs, err := parse(data)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error not wrapping ErrConfig: %v", err)
			}
			return
		}
		if err := Validate(chs); err != nil {
			t.Fatalf("parsed channels do not validate: %v", err)
		}
	})
}

func BenchmarkNotify(b *testing.B) {
	d, err := New([]Channel{{Name: "bus", Kind: KindMQTT, Topic: "alerts/{rule}/{device}"}}, Options{
		Publish: func(string, []byte, byte, bool) error { return nil },
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)), QueueSize: 4096,
	})
	if err != nil {
		b.Fatal(err)
	}
	a := alert(1, rules.SeverityWarning)
	b.ReportAllocs()
	for b.Loop() {
		d.Notify(a)
	}
	b.StopTimer()
	if err := d.Close(); err != nil {
		b.Fatal(err)
	}
	s := d.Status()[0]
	b.ReportMetric(float64(s.QueueDropped)/float64(b.N), "dropped/op")
}

func BenchmarkEncodeAndSign(b *testing.B) {
	d := &Dispatcher{}
	a := alert(1, rules.SeverityWarning)
	b.ReportAllocs()
	for b.Loop() {
		m := d.encode(&a, false)
		_ = Sign("s3cret", m.body)
	}
}
