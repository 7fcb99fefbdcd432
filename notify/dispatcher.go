package notify

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/alerts"
)

// Errors of the Dispatcher.
var (
	// ErrCloseTimeout: Close gave up on deliveries still under way.
	ErrCloseTimeout = errors.New("notify: close deadline passed")
	// ErrNoPublisher: an mqtt channel is configured without Options.Publish.
	ErrNoPublisher = errors.New("notify: mqtt channel without a publish function")
)

// Defaults of Options' zero fields.
const (
	DefaultQueueSize    = 256
	DefaultCloseTimeout = 10 * time.Second
	backoffBase         = time.Second
	backoffMax          = 5 * time.Minute
	closeGrace          = time.Second
)

// Options wires a Dispatcher to the outside. The zero value works for
// channels other than mqtt.
type Options struct {
	// Now is the clock of rate limits, timestamps and Status; nil: time.Now.
	Now func() time.Time
	// Sleep waits between retries, returning early with ctx's error when it
	// is cancelled; nil waits on a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger; nil: slog.Default(). The log channel writes here too.
	Logger *slog.Logger
	// Registerer receives edgevault_notifications_total; nil: not registered.
	Registerer prometheus.Registerer
	// Publish sends mqtt channels' messages; required when one is configured.
	Publish PublishFunc
	// HTTPClient posts webhooks; nil: a client without its own timeout (each
	// attempt has the channel's timeout).
	HTTPClient *http.Client
	// TLSConfig verifies SMTP servers upgraded with STARTTLS; nil: system roots.
	TLSConfig *tls.Config
	// QueueSize bounds each channel's queue; zero: DefaultQueueSize.
	QueueSize int
	// CloseTimeout bounds how long Close drains; zero: DefaultCloseTimeout.
	CloseTimeout time.Duration
}

// Dispatcher fans alerts out to channels. It is safe for concurrent use.
type Dispatcher struct {
	opts     Options
	log      *slog.Logger
	channels []*channel
	total    *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ctx      context.Context // cancelled when Close gives up
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu     sync.RWMutex // guards closed and sends on the queues
	closed bool
}

// New validates channels and starts one delivery goroutine for each.
func New(channels []Channel, opts Options) (*Dispatcher, error) {
	if err := Validate(channels); err != nil {
		return nil, err
	}
	opts = withDefaults(opts)
	d := &Dispatcher{opts: opts, log: opts.Logger, total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgevault_notifications_total",
		Help: "Notifications by channel and outcome: delivered, failed, rate_limited, queue_dropped.",
	}, []string{"channel", "outcome"}), latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "edgevault_notification_latency_seconds",
		Help: "From the cause of an alert transition (the reading that set it off reaching the rules) " +
			"to its notification delivered, retries included, by channel.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15), // 1 ms to 16 s
	}, []string{"channel"})}
	for i := range channels {
		c, err := d.newChannel(&channels[i])
		if err != nil {
			return nil, err
		}
		d.channels = append(d.channels, c)
	}
	if opts.Registerer != nil {
		for _, m := range []prometheus.Collector{d.total, d.latency} {
			if err := opts.Registerer.Register(m); err != nil {
				return nil, fmt.Errorf("register notify metrics: %w", err)
			}
		}
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	for _, c := range d.channels {
		d.wg.Add(1)
		go d.run(c)
	}
	return d, nil
}

func withDefaults(o Options) Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Dispatcher) newSender(cfg *Channel) (sender, error) {
	switch cfg.Kind {
	case KindWebhook:
		return &webhook{url: cfg.URL, secret: cfg.Secret, client: d.opts.HTTPClient, now: d.opts.Now}, nil
	case KindMQTT:
		if d.opts.Publish == nil {
			return nil, fmt.Errorf("channel %q: %w", cfg.Name, ErrNoPublisher)
		}
		return &mqttSender{topic: cfg.Topic, qos: cfg.QoS, publish: d.opts.Publish}, nil
	case KindEmail:
		return &emailSender{cfg: *cfg.SMTP, tls: d.opts.TLSConfig, now: d.opts.Now}, nil
	}
	return &logSender{log: d.log.With("channel", cfg.Name)}, nil
}

// Notify queues a for every channel whose min_severity it reaches. It never
// blocks: a channel whose queue is full drops a, counted and logged.
func (d *Dispatcher) Notify(a alerts.Alert) { d.NotifySince(a, d.opts.Now()) }

// NotifySince is Notify for an alert whose cause happened at since (the
// reading that set it off reaching the rules): a delivery observes the
// time from since in edgevault_notification_latency_seconds.
func (d *Dispatcher) NotifySince(a alerts.Alert, since time.Time) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, c := range d.channels {
		if severityRank(a.Severity) < c.minRank {
			continue
		}
		if d.closed {
			d.dropped(c, a, "dispatcher closed")
			continue
		}
		select {
		case c.queue <- queued{a, since}:
			c.enqueued(d.log)
		default:
			d.dropped(c, a, "queue full")
		}
	}
}

func (d *Dispatcher) encode(a *alerts.Alert, summary bool) *message {
	body, err := json.Marshal(a)
	if err != nil { // an Alert always marshals; keep the error visible anyway
		body = []byte(fmt.Sprintf(`{"id":%d,"error":%q}`, a.ID, err.Error()))
	}
	return &message{alert: *a, body: body, summary: summary}
}

// queued is an alert in a channel's queue, with when its cause happened.
type queued struct {
	a     alerts.Alert
	since time.Time
}

// deliver sends m with retries and records the outcome.
func (d *Dispatcher) deliver(c *channel, m *message) {
	var err error
	attempts := 0
	for {
		attempts++
		ctx, cancel := context.WithTimeout(d.ctx, c.cfg.timeout())
		err = c.send.send(ctx, m)
		cancel()
		if err == nil {
			if !m.since.IsZero() {
				c.latency.Observe(d.opts.Now().Sub(m.since).Seconds())
			}
			c.outcome["delivered"].Inc()
			c.succeeded()
			return
		}
		if attempts > c.cfg.retries() || isPermanent(err) || d.ctx.Err() != nil {
			break
		}
		wait := backoff(attempts)
		var ra retryAfterError
		if errors.As(err, &ra) {
			wait = max(wait, min(ra.after, backoffMax))
		}
		d.log.Debug("notification retry", "channel", c.cfg.Name, "alert", m.alert.ID, "attempt", attempts, "wait", wait, "err", err)
		if d.opts.Sleep(d.ctx, wait) != nil {
			break
		}
	}
	c.failed(err, d.opts.Now())
	c.outcome["failed"].Inc()
	d.log.Warn("notification failed", "channel", c.cfg.Name, "alert", m.alert.ID, "rule", m.alert.Rule,
		"state", m.alert.State, "attempts", attempts, "err", err)
}

// backoff is the wait after the given failed attempt (1-based): base
// doubling up to backoffMax, drawn between half and all of it.
func backoff(attempt int) time.Duration {
	d := backoffMax
	if attempt < 20 {
		d = min(backoffBase<<(attempt-1), backoffMax)
	}
	return d/2 + rand.N(d/2+1)
}

// Close stops accepting alerts and waits for the queues to drain, up to
// Options.CloseTimeout; then it cancels deliveries under way, counts what
// is left as dropped and returns ErrCloseTimeout.
func (d *Dispatcher) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	for _, c := range d.channels {
		close(c.queue)
	}
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	timer := time.NewTimer(d.opts.CloseTimeout)
	defer timer.Stop()
	select {
	case <-done:
		d.cancel()
		return nil
	case <-timer.C:
	}
	// Webhook and email attempts end on cancel; a Publish func cannot be
	// cancelled, so give up waiting on it after a grace period.
	d.cancel()
	grace := time.NewTimer(closeGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		d.log.Warn("notify: deliveries still blocked after close", "grace", closeGrace)
	}
	return fmt.Errorf("%w after %s", ErrCloseTimeout, d.opts.CloseTimeout)
}
