package notify

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/edgevault/edgevault/alerts"
	"github.com/edgevault/edgevault/rules"
)

var t0 = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

// fakeClock is the injected clock; sleeps advance it instead of waiting.
type fakeClock struct {
	mu     sync.Mutex // guards the following
	now    time.Time
	sleeps []time.Duration
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	clock *fakeClock
	logs  *syncBuffer
	reg   *prometheus.Registry
	d     *Dispatcher
}

func start(t *testing.T, channels []Channel, opts Options) *env {
	t.Helper()
	e := &env{clock: newClock(), logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	opts.Now, opts.Sleep, opts.Registerer = e.clock.Now, e.clock.Sleep, e.reg
	opts.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := New(channels, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.d = d
	t.Cleanup(func() { _ = d.Close() })
	return e
}

// status returns the status of the first channel.
func (e *env) status() ChannelStatus { return e.d.Status()[0] }

func (e *env) counter(t *testing.T, channel, outcome string) float64 {
	t.Helper()
	var m dto.Metric
	if err := e.d.total.WithLabelValues(channel, outcome).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func alert(id uint64, sev rules.Severity) alerts.Alert {
	return alerts.Alert{ID: id, Rule: "freezer-warm", Key: "freezer-1", Device: "freezer-1", Metric: "temperature",
		Severity: sev, State: rules.AlertTriggered, Value: -4.5, Message: "freezer-1 at -4.5", TriggeredAt: t0}
}

func intp(i int) *int { return &i }
