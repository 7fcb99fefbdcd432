package notify

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/alerts"
	"github.com/edgevault/edgevault/rules"
)

// SummaryRule is the Rule of the synthetic alert that stands for the alerts
// a channel's rate limit held back.
const SummaryRule = "edgevault:rate-limited"

// ChannelStatus is the health of one channel, for the REST API.
type ChannelStatus struct {
	Name                string    `json:"name"`
	Kind                string    `json:"kind"`
	Delivered           uint64    `json:"delivered"`
	Failed              uint64    `json:"failed"`
	RateLimited         uint64    `json:"rate_limited"`
	QueueDropped        uint64    `json:"queue_dropped"`
	LastError           string    `json:"last_error,omitempty"`
	LastErrorAt         time.Time `json:"-"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	State               string    `json:"state"` // ok | failing
}

// MarshalJSON writes last_error_at in RFC 3339 with milliseconds, omitted
// when there was no error.
func (s ChannelStatus) MarshalJSON() ([]byte, error) {
	type plain ChannelStatus
	var at string
	if !s.LastErrorAt.IsZero() {
		at = s.LastErrorAt.UTC().Format(alerts.TimeFormat)
	}
	return json.Marshal(struct {
		plain
		LastErrorAt string `json:"last_error_at,omitempty"`
	}{plain(s), at})
}

// channel is one configured channel at run time.
type channel struct {
	cfg     *Channel
	send    sender
	minRank int
	queue   chan queued
	bucket  *bucket // nil: no rate limit
	outcome map[string]prometheus.Counter
	latency prometheus.Observer

	// Owned by the channel's goroutine: alerts held back by the rate limit.
	held      int
	heldFrom  time.Time
	heldTo    time.Time
	heldRules []string
	heldSev   rules.Severity

	// slots holds a token per delivery under way (cap: concurrency).
	slots chan struct{}

	mu        sync.Mutex    // guards the following
	st        ChannelStatus // counters and last error
	dropping  bool          // the queue was full at the last Notify
	dropBurst int           // alerts dropped since dropping began
	// busy maps the id of each alert being delivered to the messages of
	// the same alert that arrived since, to deliver in order after it;
	// waiting counts those, bounded like the queue.
	busy    map[uint64][]*message
	waiting int
}

func (d *Dispatcher) newChannel(cfg *Channel) (*channel, error) {
	s, err := d.newSender(cfg)
	if err != nil {
		return nil, err
	}
	c := &channel{cfg: cfg, send: s, queue: make(chan queued, d.opts.QueueSize),
		slots: make(chan struct{}, cfg.concurrency()), busy: map[uint64][]*message{},
		st: ChannelStatus{Name: cfg.Name, Kind: cfg.Kind, State: "ok"}}
	c.outcome = map[string]prometheus.Counter{}
	for _, o := range []string{"delivered", "failed", "rate_limited", "queue_dropped"} {
		c.outcome[o] = d.total.WithLabelValues(cfg.Name, o)
	}
	c.latency = d.latency.WithLabelValues(cfg.Name)
	if cfg.MinSeverity != "" {
		c.minRank = severityRank(cfg.MinSeverity)
	}
	if r := cfg.RateLimit; r != nil {
		c.bucket = newBucket(r.Burst, r.Per.D(), d.opts.Now())
	}
	return c, nil
}

// run is the channel's delivery goroutine.
func (d *Dispatcher) run(c *channel) {
	defer d.wg.Done()
	for {
		var wake <-chan time.Time
		if c.held > 0 {
			wait := c.bucket.wait(d.opts.Now())
			wake = time.After(min(max(wait, 10*time.Millisecond), time.Second))
		}
		select {
		case q, ok := <-c.queue:
			if !ok {
				d.flushHeld(c)
				if c.held > 0 {
					d.log.Warn("notifications held by rate limit not summarized: closing", "channel", c.cfg.Name, "count", c.held)
				}
				return
			}
			d.handle(c, &q)
		case <-wake:
			d.flushHeld(c)
		}
	}
}

func (d *Dispatcher) handle(c *channel, q *queued) {
	a := &q.a
	if d.ctx.Err() != nil {
		d.dropped(c, *a, "closed before delivery")
		return
	}
	d.flushHeld(c)
	if c.bucket != nil && !c.bucket.take(d.opts.Now()) {
		d.hold(c, a)
		return
	}
	m := d.encode(a, false)
	m.since = q.since
	d.dispatch(c, m)
}

// dispatch starts m's delivery once a slot is free, waiting for one (the
// queue fills meanwhile), or files it behind the delivery under way of the
// same alert: one alert's transitions reach the channel in order, while
// other alerts need not wait for a slow or retried delivery.
func (d *Dispatcher) dispatch(c *channel, m *message) {
	id := m.alert.ID
	c.mu.Lock()
	if q, ok := c.busy[id]; ok {
		full := c.waiting >= d.opts.QueueSize
		if !full {
			c.busy[id], c.waiting = append(q, m), c.waiting+1
		}
		c.mu.Unlock()
		if full {
			d.dropped(c, m.alert, "queue full")
		}
		return
	}
	c.mu.Unlock()
	c.slots <- struct{}{}
	c.mu.Lock()
	c.busy[id] = nil
	c.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() { <-c.slots }()
		for ; m != nil; m = c.next(id) {
			if d.ctx.Err() != nil {
				d.dropped(c, m.alert, "closed before delivery")
				continue
			}
			d.deliver(c, m)
		}
	}()
}

// next takes the next message of alert id to deliver, or ends its turn.
func (c *channel) next(id uint64) *message {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.busy[id]
	if len(q) == 0 {
		delete(c.busy, id)
		return nil
	}
	c.busy[id], c.waiting = q[1:], c.waiting-1
	return q[0]
}

// hold counts an alert over the rate limit and folds it into the summary.
func (d *Dispatcher) hold(c *channel, a *alerts.Alert) {
	now := d.opts.Now()
	if c.held == 0 {
		c.heldFrom, c.heldRules, c.heldSev = now, c.heldRules[:0], rules.SeverityInfo
		d.log.Warn("notifications rate limited", "channel", c.cfg.Name, "alert", a.ID, "rule", a.Rule)
	}
	c.held++
	c.heldTo = now
	if !slices.Contains(c.heldRules, a.Rule) && len(c.heldRules) < 20 {
		c.heldRules = append(c.heldRules, a.Rule)
	}
	if severityRank(a.Severity) > severityRank(c.heldSev) {
		c.heldSev = a.Severity
	}
	c.mu.Lock()
	c.st.RateLimited++
	c.mu.Unlock()
	c.outcome["rate_limited"].Inc()
}

// flushHeld sends the summary of held alerts when a token is free.
func (d *Dispatcher) flushHeld(c *channel) {
	now := d.opts.Now()
	if c.held == 0 || d.ctx.Err() != nil || !c.bucket.take(now) {
		return
	}
	r := c.cfg.RateLimit
	s := alerts.Alert{
		Rule: SummaryRule, Key: c.cfg.Name, Severity: c.heldSev, State: rules.AlertTriggered,
		Value: float64(c.held), TriggeredAt: now,
		Message: fmt.Sprintf("%d notifications of channel %s held back by its rate limit (%d per %s) from %s to %s; rules: %s",
			c.held, c.cfg.Name, r.Burst, r.Per.D(), c.heldFrom.UTC().Format(alerts.TimeFormat),
			c.heldTo.UTC().Format(alerts.TimeFormat), strings.Join(c.heldRules, ", ")),
	}
	c.held = 0
	d.dispatch(c, d.encode(&s, true))
}

func (d *Dispatcher) dropped(c *channel, a alerts.Alert, why string) {
	c.mu.Lock()
	c.st.QueueDropped++
	first := !c.dropping
	c.dropping = true
	c.dropBurst++
	c.mu.Unlock()
	c.outcome["queue_dropped"].Inc()
	if first {
		d.log.Warn("notification dropped", "channel", c.cfg.Name, "reason", why, "alert", a.ID, "rule", a.Rule,
			"state", a.State)
	}
}

// enqueued ends a burst of drops, logging how many there were.
func (c *channel) enqueued(log *slog.Logger) {
	c.mu.Lock()
	n := c.dropBurst
	was := c.dropping
	c.dropping, c.dropBurst = false, 0
	c.mu.Unlock()
	if was {
		log.Warn("notification queue accepting again", "channel", c.cfg.Name, "dropped", n)
	}
}

func (c *channel) succeeded() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.Delivered++
	c.st.ConsecutiveFailures = 0
	c.st.State = "ok"
}

func (c *channel) failed(err error, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.Failed++
	c.st.ConsecutiveFailures++
	c.st.LastError, c.st.LastErrorAt = err.Error(), at
	c.st.State = "failing"
}

// Status returns the health of every channel, in configuration order.
func (d *Dispatcher) Status() []ChannelStatus {
	out := make([]ChannelStatus, 0, len(d.channels))
	for _, c := range d.channels {
		c.mu.Lock()
		out = append(out, c.st)
		c.mu.Unlock()
	}
	return out
}

// bucket is a token bucket on the injected clock: burst tokens, refilled
// at burst per period. Only the channel's goroutine uses it.
type bucket struct {
	burst  float64
	perTok time.Duration // time to earn one token
	tokens float64
	last   time.Time
}

func newBucket(burst int, per time.Duration, now time.Time) *bucket {
	return &bucket{burst: float64(burst), perTok: max(per/time.Duration(burst), 1), tokens: float64(burst), last: now}
}

func (b *bucket) refill(now time.Time) {
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(b.burst, b.tokens+float64(el)/float64(b.perTok))
		b.last = now
	}
}

func (b *bucket) take(now time.Time) bool {
	b.refill(now)
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// wait is how long until a token is free.
func (b *bucket) wait(now time.Time) time.Duration {
	b.refill(now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(b.perTok))
}
