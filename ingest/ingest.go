// Package ingest is the path of one message from the broker (or one HTTP
// line-protocol body) to the local store: decode with the parsing contracts,
// queue for the store's group commit, hand the readings to the rules, and
// once they are durable tell the registry. Whatever cannot be decoded or
// stored ends in the dead-letter store with its reason; only a failure to make
// the message durable at all is returned to the caller, which then must not
// acknowledge it.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/codec"
	"github.com/edgevault/edgevault/deadletter"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/routing"
	"github.com/edgevault/edgevault/store"
)

// Decoder turns a message into readings (codec.Set).
type Decoder interface {
	Decode(m codec.Message) (codec.Decoded, error)
}

// Appender stores readings durably (store.DB): AppendAsync queues them for
// the next group commit, and the Pending's Wait returns once they are
// durable.
type Appender interface {
	AppendAsync(readings []point.Reading) store.Pending
}

// DeadLetters keeps what could not be decoded or stored (deadletter.Store).
type DeadLetters interface {
	Add(l deadletter.Letter) error
}

// Registry learns devices, presence and latest values (registry.Registry).
type Registry interface {
	Observe(clientID string, readings []point.Reading, contract string)
	SetStatus(device string, online bool, at time.Time)
}

// Router decides which readings are stored and where else they go
// (routing.Router).
type Router interface {
	Route(topic string, deviceType func(device string) string, rs []point.Reading) routing.Decision
}

// Message is one publish to ingest.
type Message struct {
	ClientID string
	Topic    string
	Payload  []byte
	Received time.Time
}

// Pipeline is safe for concurrent use; each broker connection calls Handle
// from its own goroutine and the store group-commits their appends.
type Pipeline struct {
	dec      Decoder
	db       Appender
	dead     DeadLetters
	reg      Registry
	line     codec.LineOptions
	onQueued func([]point.Reading, time.Time)
	router   Router
	forward  func([]routing.Target)
	devType  func(string) string
	admit    func() error
	markHigh func(*point.Reading)
	log      *slog.Logger
	now      func() time.Time
	messages *prometheus.CounterVec
	readings *prometheus.CounterVec
	latency  prometheus.Histogram
	// Children of the vectors above used on every message, resolved once.
	stored, unmatched, readingsStored prometheus.Counter
}

// Options configures a Pipeline. Zero values are usable: no metrics, the
// default logger and the wall clock.
type Options struct {
	Line       codec.LineOptions // how /write bodies name devices and metrics
	Logger     *slog.Logger
	Now        func() time.Time
	Registerer prometheus.Registerer
	// OnQueued, when set, receives every batch of readings as soon as it
	// is queued for the store's group commit, before it is durable (the
	// rule engine: an alert must not wait for an fsync, nor queue behind
	// every publish in flight). It must not block and must not modify the
	// slice. A reading the store then rejects, or whose commit fails, has
	// been seen all the same. received is when the node received them.
	OnQueued func(readings []point.Reading, received time.Time)
	// Router, when set, applies the routing rules before readings are
	// stored; Forward carries out its forwards and must not block.
	Router     Router
	Forward    func([]routing.Target)
	DeviceType func(device string) string
	// Admit, when set, is asked before readings are stored; an error (the
	// uplink's disk budget is full under the block policy) means the
	// message is refused and not acknowledged.
	Admit func() error
	// MarkHigh, when set, is told about readings routed at high uplink
	// priority.
	MarkHigh func(r *point.Reading)
}

// New returns a pipeline over its four collaborators.
func New(dec Decoder, db Appender, dead DeadLetters, reg Registry, opts Options) *Pipeline {
	p := &Pipeline{dec: dec, db: db, dead: dead, reg: reg, line: opts.Line, onQueued: opts.OnQueued,
		router: opts.Router, forward: opts.Forward, devType: opts.DeviceType, admit: opts.Admit,
		markHigh: opts.MarkHigh, log: opts.Logger, now: opts.Now}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.messages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgevault_ingest_messages_total",
		Help: "Messages ingested, by outcome: stored, deadletter, unmatched (no contract), failed (not durable, not acknowledged).",
	}, []string{"outcome"})
	p.readings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgevault_ingest_readings_total",
		Help: "Readings ingested, by outcome: stored or rejected (kept as dead letters).",
	}, []string{"outcome"})
	p.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "edgevault_ingest_duration_seconds",
		Help:    "Time from receiving a message to its readings being durable.",
		Buckets: prometheus.ExponentialBuckets(25e-6, 2, 16),
	})
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(p.messages, p.readings, p.latency)
	}
	p.stored = p.messages.WithLabelValues("stored")
	p.unmatched = p.messages.WithLabelValues("unmatched")
	p.readingsStored = p.readings.WithLabelValues("stored")
	return p
}

// Handle ingests one message. It returns nil once the message is durable,
// as readings or as a dead letter, and an error when it is neither.
func (p *Pipeline) Handle(m Message) error {
	wait, err := p.HandleAsync(m)
	if err != nil || wait == nil {
		return err
	}
	return wait()
}

// HandleAsync does what Handle does up to the store's group commit and
// returns without waiting for it (the rules are told now): wait, when not
// nil, blocks until the readings are durable, then tells the registry, and
// returns what Handle would have. An error refuses the message now (not admitted,
// dead letter not kept). The caller must call wait exactly once, and must
// not acknowledge the message before it returns nil. One caller's messages
// are stored in the order it hands them over, so a broker connection can
// read its client's next publishes while earlier ones commit.
func (p *Pipeline) HandleAsync(m Message) (wait func() error, err error) {
	if m.Received.IsZero() {
		m.Received = p.now()
	}
	dec, err := p.dec.Decode(codec.Message{Topic: m.Topic, Payload: m.Payload, Received: m.Received.UnixMilli()})
	if errors.Is(err, codec.ErrNoContract) {
		// Not telemetry: the broker still routes it to subscribers.
		p.unmatched.Inc()
		return nil, nil
	}
	if err != nil {
		return nil, p.deadLetter(m, dec.Contract, err.Error())
	}
	for _, s := range dec.Status {
		p.reg.SetStatus(s.Device, s.Online, m.Received)
	}
	readings := p.route(m.Topic, dec.Readings)
	if len(readings) == 0 {
		p.stored.Inc()
		return nil, nil
	}
	return p.storeAsync(m, dec.Contract, readings)
}

// route applies the routing rules: it starts the forwards and returns the
// readings to store (the same slice when nothing is dropped).
func (p *Pipeline) route(topic string, readings []point.Reading) []point.Reading {
	if p.router == nil || len(readings) == 0 {
		return readings
	}
	d := p.router.Route(topic, p.devType, readings)
	if len(d.Forwards) > 0 && p.forward != nil {
		p.forward(d.Forwards)
	}
	if d.Priority != nil && p.markHigh != nil {
		for i := range readings {
			if d.PriorityOf(i) == routing.PriorityHigh {
				p.markHigh(&readings[i])
			}
		}
	}
	return d.Keep(readings)
}

// StoreReadings routes and stores readings decoded elsewhere (the gateway
// protocol) exactly as Handle stores those of a contract: nil once durable.
func (p *Pipeline) StoreReadings(m Message, contract string, readings []point.Reading) error {
	wait, err := p.StoreReadingsAsync(m, contract, readings)
	if err != nil || wait == nil {
		return err
	}
	return wait()
}

// StoreReadingsAsync is StoreReadings split as HandleAsync is: wait, when
// not nil, must be called once and returns once the readings are durable.
func (p *Pipeline) StoreReadingsAsync(m Message, contract string, readings []point.Reading) (wait func() error, err error) {
	if m.Received.IsZero() {
		m.Received = p.now()
	}
	readings = p.route(m.Topic, readings)
	if len(readings) == 0 {
		return nil, nil
	}
	return p.storeAsync(m, contract, readings)
}

// DeadLetter keeps a message, or a part of one, that could not be decoded.
func (p *Pipeline) DeadLetter(m Message, contract, reason string) error {
	if m.Received.IsZero() {
		m.Received = p.now()
	}
	return p.deadLetter(m, contract, reason)
}

// storeAsync queues readings for the store's next group commit and hands
// them to the rules; wait dead-letters the ones the store rejected and tells
// the registry about the others.
func (p *Pipeline) storeAsync(m Message, contract string, readings []point.Reading) (wait func() error, err error) {
	if err := p.admitted(); err != nil {
		p.log.Warn("ingest refused", "topic", m.Topic, "client", m.ClientID, "err", err)
		return nil, err
	}
	pending := p.queue(readings, m.Received)
	return func() error {
		res, err := pending.Wait()
		if err != nil {
			p.messages.WithLabelValues("failed").Inc()
			p.log.Error("ingest not durable", "topic", m.Topic, "client", m.ClientID, "err", err)
			return fmt.Errorf("store %d readings: %w", len(readings), err)
		}
		p.readingsStored.Add(float64(res.Stored))
		if len(res.Rejected) > 0 {
			p.readings.WithLabelValues("rejected").Add(float64(len(res.Rejected)))
			reasons := make([]string, 0, len(res.Rejected))
			for _, r := range res.Rejected {
				reasons = append(reasons, r.Err.Error())
			}
			if err := p.deadLetter(m, contract, strings.Join(reasons, "; ")); err != nil {
				return err
			}
		} else {
			p.stored.Inc()
		}
		if res.Stored > 0 {
			p.reg.Observe(m.ClientID, storedOnly(readings, res.Rejected), contract)
		}
		p.latency.Observe(p.now().Sub(m.Received).Seconds())
		return nil
	}, nil
}

// admitted asks Admit; a refusal is counted as failed.
func (p *Pipeline) admitted() error {
	if p.admit == nil {
		return nil
	}
	if err := p.admit(); err != nil {
		p.messages.WithLabelValues("failed").Inc()
		return fmt.Errorf("not accepted: %w", err)
	}
	return nil
}

// queue queues readings for the store's next group commit and tells the
// rules about them.
func (p *Pipeline) queue(readings []point.Reading, received time.Time) store.Pending {
	pending := p.db.AppendAsync(readings)
	if p.onQueued != nil {
		p.onQueued(readings, received)
	}
	return pending
}

func (p *Pipeline) deadLetter(m Message, contract, reason string) error {
	err := p.dead.Add(deadletter.Letter{
		Time: m.Received, ClientID: m.ClientID, Topic: m.Topic,
		Contract: contract, Reason: reason, Payload: m.Payload,
	})
	if err != nil {
		p.messages.WithLabelValues("failed").Inc()
		return fmt.Errorf("keep dead letter: %w", err)
	}
	p.messages.WithLabelValues("deadletter").Inc()
	return nil
}

// storedOnly drops rejected readings; rejections are rare, so the common
// case returns the slice as it is.
func storedOnly(readings []point.Reading, rejected []store.Rejection) []point.Reading {
	if len(rejected) == 0 {
		return readings
	}
	skip := make(map[int]bool, len(rejected))
	for _, r := range rejected {
		skip[r.Index] = true
	}
	out := make([]point.Reading, 0, len(readings)-len(rejected))
	for i, r := range readings {
		if !skip[i] {
			out = append(out, r)
		}
	}
	return out
}

// PartialWriteError reports the lines of a /write body that were not stored;
// the good lines were.
type PartialWriteError struct {
	Written int
	Errors  []string
}

// BadLines lists the reasons, one per bad line (the API shows them).
func (e *PartialWriteError) BadLines() []string { return e.Errors }

func (e *PartialWriteError) Error() string {
	const show = 5
	msg := e.Errors
	if len(msg) > show {
		msg = append(msg[:show:show], fmt.Sprintf("and %d more", len(e.Errors)-show))
	}
	return "partial write: " + strings.Join(msg, "; ")
}

// WriteLines ingests an InfluxDB line-protocol body (HTTP /write). Good
// lines are stored even when others are bad; the bad ones are kept as one
// dead letter and reported in a *PartialWriteError.
func (p *Pipeline) WriteLines(ctx context.Context, body []byte, precision string) (int, error) {
	received := p.now()
	readings, bad, err := codec.ParseLineProtocol(body, precision, p.line, received.UnixMilli())
	if err != nil {
		return 0, err
	}
	m := Message{ClientID: "http", Topic: "http/write", Payload: body, Received: received}
	readings = p.route(m.Topic, readings)
	written := 0
	if len(readings) > 0 {
		if err := p.admitted(); err != nil {
			return 0, err
		}
		res, err := p.queue(readings, received).Wait()
		if err != nil {
			p.messages.WithLabelValues("failed").Inc()
			return 0, fmt.Errorf("store %d readings: %w", len(readings), err)
		}
		written = res.Stored
		p.readingsStored.Add(float64(res.Stored))
		p.reg.Observe(m.ClientID, storedOnly(readings, res.Rejected), "line-protocol")
		for _, r := range res.Rejected {
			bad = append(bad, codec.LineError{Line: -1, Err: r.Err})
		}
	}
	if len(bad) == 0 {
		p.stored.Inc()
		return written, nil
	}
	reasons := make([]string, len(bad))
	for i, b := range bad {
		reasons[i] = b.Error()
	}
	p.readings.WithLabelValues("rejected").Add(float64(len(bad)))
	if err := p.deadLetter(m, "line-protocol", strings.Join(reasons, "; ")); err != nil {
		return written, err
	}
	return written, &PartialWriteError{Written: written, Errors: reasons}
}
