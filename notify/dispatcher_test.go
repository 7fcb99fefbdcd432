package notify

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/edgevault/edgevault/alerts"
	"github.com/edgevault/edgevault/rules"
)

type published struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
}

// broker records what the mqtt channel publishes; gate, when set, holds
// every publish until a value arrives on it.
type broker struct {
	mu   sync.Mutex // guards msgs and fail
	msgs []published
	fail int // fail this many publishes first
	gate chan struct{}
}

func (b *broker) publish(topic string, payload []byte, qos byte, retain bool) error {
	if b.gate != nil {
		<-b.gate
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail > 0 {
		b.fail--
		return errors.New("broker unavailable")
	}
	b.msgs = append(b.msgs, published{topic, payload, qos, retain})
	return nil
}

func (b *broker) published() []published {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]published(nil), b.msgs...)
}

func TestMQTTChannel(t *testing.T) {
	b := &broker{fail: 1}
	e := start(t, []Channel{{Name: "bus", Kind: KindMQTT, Topic: "alerts/{severity}/{rule}/{device}/{state}", QoS: 1}},
		Options{Publish: b.publish})
	a := alert(3, rules.SeverityCritical)
	a.Device = "site/a+b#c"
	e.d.Notify(a)
	waitFor(t, "publish", func() bool { return len(b.published()) == 1 })
	m := b.published()[0]
	if m.topic != "alerts/critical/freezer-warm/site_a_b_c/triggered" || m.qos != 1 || m.retain {
		t.Fatalf("published %+v", m)
	}
	var got alerts.Alert
	if err := json.Unmarshal(m.payload, &got); err != nil || got.ID != 3 {
		t.Fatalf("payload %s: %v", m.payload, err)
	}
	if n := len(e.clock.Sleeps()); n != 1 {
		t.Fatalf("publish error retried %d times, want 1", n)
	}
}

func TestMinSeverity(t *testing.T) {
	b := &broker{}
	e := start(t, []Channel{{Name: "bus", Kind: KindMQTT, Topic: "a", MinSeverity: rules.SeverityWarning}},
		Options{Publish: b.publish})
	for _, sev := range []rules.Severity{rules.SeverityInfo, rules.SeverityWarning, rules.SeverityCritical} {
		e.d.Notify(alert(1, sev))
	}
	if err := e.d.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(b.published()); n != 2 {
		t.Fatalf("%d published, want warning and critical only", n)
	}
}

func TestRateLimit(t *testing.T) {
	b := &broker{}
	e := start(t, []Channel{{Name: "bus", Kind: KindMQTT, Topic: "a",
		RateLimit: &RateLimit{Per: rules.Duration(time.Minute), Burst: 2}}}, Options{Publish: b.publish})
	for i := range 5 {
		a := alert(uint64(i), rules.SeverityWarning)
		if i == 3 {
			a.Severity, a.Rule = rules.SeverityCritical, "smoke"
		}
		e.d.Notify(a)
	}
	// The burst's two are delivered by their own goroutines, the other
	// three held back meanwhile.
	waitFor(t, "rate limiting", func() bool { return e.status().RateLimited == 3 && e.status().Delivered == 2 })
	if n := len(b.published()); n != 2 {
		t.Fatalf("%d published within the burst, want 2", n)
	}
	if n := e.counter(t, "bus", "rate_limited"); n != 3 {
		t.Fatalf("rate_limited counter %v", n)
	}
	e.clock.Advance(30 * time.Second) // one token back: the summary goes out
	waitFor(t, "summary", func() bool { return e.status().Delivered == 3 })
	var s alerts.Alert
	if err := json.Unmarshal(b.published()[2].payload, &s); err != nil {
		t.Fatal(err)
	}
	if s.Rule != SummaryRule || s.Key != "bus" || s.Value != 3 || s.Severity != rules.SeverityCritical ||
		!strings.Contains(s.Message, "3 notifications") || !strings.Contains(s.Message, "freezer-warm, smoke") {
		t.Fatalf("summary %+v", s)
	}
	if st := e.status(); st.Delivered != 3 || st.Failed != 0 {
		t.Fatalf("status %+v", st)
	}
	if !strings.Contains(e.logs.String(), "notifications rate limited") {
		t.Fatal("rate limiting not logged")
	}
}

func TestQueueOverflow(t *testing.T) {
	b := &broker{gate: make(chan struct{})}
	e := start(t, []Channel{{Name: "bus", Kind: KindMQTT, Topic: "a", Concurrency: 1}}, Options{Publish: b.publish, QueueSize: 2})
	// Alert 0 is under way, alert 1 is taken and waits for its turn.
	for i := range 2 {
		e.d.Notify(alert(uint64(i), rules.SeverityWarning))
		waitFor(t, "alert taken", func() bool { return len(e.d.channels[0].queue) == 0 })
	}
	for i := 2; i <= 6; i++ { // two fit in the queue, three do not
		e.d.Notify(alert(uint64(i), rules.SeverityWarning))
	}
	if s := e.status(); s.QueueDropped != 3 {
		t.Fatalf("queue_dropped %d, want 3", s.QueueDropped)
	}
	if n := e.counter(t, "bus", "queue_dropped"); n != 3 {
		t.Fatalf("queue_dropped counter %v", n)
	}
	for range 4 {
		b.gate <- struct{}{}
	}
	waitFor(t, "queued alerts", func() bool { return len(b.published()) == 4 })
	close(b.gate)
	e.d.Notify(alert(7, rules.SeverityWarning))
	waitFor(t, "last alert", func() bool { return len(b.published()) == 5 })
	logs := e.logs.String()
	if strings.Count(logs, "notification dropped") != 1 || !strings.Contains(logs, "dropped=3") {
		t.Fatalf("drops not logged once with their count:\n%s", logs)
	}
}

func TestLogChannel(t *testing.T) {
	e := start(t, []Channel{{Name: "journal", Kind: KindLog}}, Options{})
	e.d.Notify(alert(5, rules.SeverityCritical))
	waitFor(t, "delivery", func() bool { return e.status().Delivered == 1 })
	logs := e.logs.String()
	if !strings.Contains(logs, "level=ERROR msg=alert") || !strings.Contains(logs, "channel=journal") ||
		!strings.Contains(logs, "rule=freezer-warm") {
		t.Fatalf("log line missing:\n%s", logs)
	}
}

func TestStatusJSON(t *testing.T) {
	s := ChannelStatus{Name: "hook", Kind: "webhook", Failed: 2, LastError: "webhook: status 500",
		LastErrorAt: t0, ConsecutiveFailures: 2, State: "failing"}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"hook","kind":"webhook","delivered":0,"failed":2,"rate_limited":0,"queue_dropped":0,` +
		`"last_error":"webhook: status 500","consecutive_failures":2,"state":"failing","last_error_at":"2026-11-22T03:00:00.000Z"}`
	if string(b) != want {
		t.Fatalf("json\n got %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(ChannelStatus{Name: "x", State: "ok"})
	if strings.Contains(string(b), "last_error") {
		t.Fatalf("unset error written: %s", b)
	}
}

func TestNotifyConcurrentWithClose(t *testing.T) {
	b := &broker{}
	e := start(t, []Channel{{Name: "bus", Kind: KindMQTT, Topic: "a"}}, Options{Publish: b.publish, QueueSize: 8})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				e.d.Notify(alert(uint64(w*1000+i), rules.SeverityWarning))
			}
		})
	}
	if err := e.d.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s := e.status()
	if got := s.Delivered + s.QueueDropped; got != 800 || int(s.Delivered) != len(b.published()) {
		t.Fatalf("delivered %d + dropped %d != 800 notified (published %d)", s.Delivered, s.QueueDropped, len(b.published()))
	}
}

// A delivery observes the time from the alert's cause in
// edgevault_notification_latency_seconds{channel}; a failed one does not.
func TestNotificationLatency(t *testing.T) {
	b := &broker{fail: 1}
	e := start(t, []Channel{{Name: "bus", Kind: KindMQTT, Topic: "a", Retries: intp(0)}}, Options{Publish: b.publish})
	e.d.NotifySince(alert(1, rules.SeverityWarning), e.clock.Now().Add(-2*time.Second)) // fails
	waitFor(t, "the failure", func() bool { return e.status().Failed == 1 })
	e.d.NotifySince(alert(2, rules.SeverityWarning), e.clock.Now().Add(-3*time.Second))
	waitFor(t, "the delivery", func() bool { return e.status().Delivered == 1 })
	var m dto.Metric
	h, err := e.d.latency.GetMetricWithLabelValues("bus")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetHistogram(); got.GetSampleCount() != 1 || got.GetSampleSum() != 3 {
		t.Fatalf("latency histogram: %d samples, sum %v s; want 1 of 3 s", got.GetSampleCount(), got.GetSampleSum())
	}
	mf, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range mf {
		found = found || f.GetName() == "edgevault_notification_latency_seconds"
	}
	if !found {
		t.Fatal("edgevault_notification_latency_seconds not registered")
	}
}
