package alerts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/rules"
)

// Errors returned by the history. Match them with errors.Is.
var (
	// ErrNotFound: no alert has that id (never had, or was evicted).
	ErrNotFound = errors.New("alerts: not found")
	// ErrState: the transition is not allowed from the alert's state, such
	// as acknowledging a resolved alert.
	ErrState = errors.New("alerts: invalid state transition")
	// ErrCorrupt: a persisted record does not decode.
	ErrCorrupt = errors.New("alerts: corrupt record")
	// ErrBadFilter: a List filter names an unknown state or severity.
	ErrBadFilter = errors.New("alerts: bad filter")
)

// DefaultMaxEntries bounds the history when Options.MaxEntries is zero.
const DefaultMaxEntries = 100000

// SupersededBy is ResolvedBy of an open alert that a new trigger of the same
// rule and key replaced (the engine lost its state in a restart).
const SupersededBy = "edgevault:superseded"

const idLease = 1024

var seqKey = []byte("seq")

// Options tunes a History. The zero value works.
type Options struct {
	// Now is the clock of Ack and Resolve by id; nil means time.Now.
	Now func() time.Time
	// MaxEntries bounds the records kept; zero means DefaultMaxEntries.
	MaxEntries int
	// Registerer receives the metrics; nil means they are not registered.
	Registerer prometheus.Registerer
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// lifecycle names the alerts of one rule for one series key.
type lifecycle struct{ rule, key string }

// History is the durable alert history. It is safe for concurrent use.
type History struct {
	store    kv.Store
	opts     Options
	log      *slog.Logger
	recorded *prometheus.CounterVec
	evicted  prometheus.Counter
	entries  prometheus.Gauge

	mu     sync.Mutex           // guards the following
	index  []entry              // every record, ascending id
	latest map[lifecycle]uint64 // newest record id of each lifecycle
	intern map[string]string    // shares rule and device strings of the index
	nextID uint64               // next id to hand out
	leased uint64               // ids below it are covered by the persisted "seq"
}

// New opens the history kept in store, loading its index.
func New(store kv.Store, opts Options) (*History, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &History{
		store: store, opts: opts, log: opts.Logger,
		latest: map[lifecycle]uint64{}, intern: map[string]string{},
		recorded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgevault_alerts_recorded_total", Help: "Alert transitions written to the history, by state.",
		}, []string{"state"}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edgevault_alerts_evicted_total", Help: "Alert records deleted to keep the history bounded.",
		}),
		entries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edgevault_alerts_entries", Help: "Alert records in the history.",
		}),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{h.recorded, h.evicted, h.entries} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register alert metrics: %w", err)
			}
		}
	}
	if err := h.load(); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *History) load() error {
	var maxID uint64
	err := h.store.Scan([]byte{'r'}, func(k, v []byte) error {
		a, err := decodeRecord(v)
		if err == nil && (len(k) != 9 || binary.BigEndian.Uint64(k[1:]) != a.ID) {
			err = fmt.Errorf("%w: key does not match id %d", ErrCorrupt, a.ID)
		}
		if err != nil {
			h.log.Warn("alert history: skipping record", "key", fmt.Sprintf("%x", k), "err", err)
			return nil
		}
		h.index = append(h.index, h.entryOf(&a))
		h.latest[lifecycle{a.Rule, a.Key}] = a.ID
		maxID = max(maxID, a.ID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load alert history: %w", err)
	}
	seq, err := h.store.Get(seqKey)
	switch {
	case errors.Is(err, kv.ErrNotFound):
	case err != nil:
		return fmt.Errorf("load alert sequence: %w", err)
	case len(seq) == 8:
		h.nextID = binary.BigEndian.Uint64(seq)
	default:
		return fmt.Errorf("load alert sequence: %w: %d bytes", ErrCorrupt, len(seq))
	}
	h.nextID = max(h.nextID, maxID+1, 1)
	h.leased = h.nextID
	h.evictLocked()
	h.entries.Set(float64(len(h.index)))
	return nil
}

// allocID hands out the next id, persisting a new lease when the current
// one is used up, so ids never repeat across restarts.
func (h *History) allocID() (uint64, error) {
	if h.nextID >= h.leased {
		next := h.nextID + idLease
		if err := h.store.Put(seqKey, binary.BigEndian.AppendUint64(nil, next)); err != nil {
			return 0, fmt.Errorf("lease alert ids: %w", err)
		}
		h.leased = next
	}
	id := h.nextID
	h.nextID++
	return id, nil
}

// Record folds one engine transition into the history and returns the
// record as stored. The record is durable when Record returns.
func (h *History) Record(t rules.Alert) (Alert, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	lc := lifecycle{t.Rule, t.Key}
	var cur *Alert
	if id, ok := h.latest[lc]; ok {
		a, err := h.getLocked(id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Alert{}, err
		}
		if err == nil {
			cur = &a
		}
	}
	since := t.Since
	if since == 0 {
		since = t.Time
	}
	switch {
	case t.State == rules.AlertTriggered && cur != nil && cur.Active() && cur.TriggeredAt.UnixMilli() == since:
		return *cur, nil // the same trigger again
	case t.State == rules.AlertTriggered && cur != nil && cur.Active():
		if _, err := h.transition(cur, rules.AlertResolved, time.UnixMilli(t.Time), SupersededBy); err != nil {
			return Alert{}, err
		}
	case t.State != rules.AlertTriggered && cur != nil && cur.Active():
		return h.transition(cur, t.State, time.UnixMilli(t.Time), t.By)
	case t.State != rules.AlertTriggered && cur != nil && cur.TriggeredAt.UnixMilli() == since:
		return *cur, nil // already resolved, by hand through Resolve
	}
	return h.create(t, since)
}

// create writes a new record for t, which opens a lifecycle (or reports a
// later step of one whose trigger the history never saw).
func (h *History) create(t rules.Alert, since int64) (Alert, error) {
	id, err := h.allocID()
	if err != nil {
		return Alert{}, err
	}
	a := Alert{
		ID: id, Rule: t.Rule, Key: t.Key, Device: t.Device, Tags: t.Tags, Metric: t.Metric,
		Severity: t.Severity, State: rules.AlertTriggered, Value: t.Value, Message: t.Message,
		TriggeredAt: time.UnixMilli(since).UTC(),
	}
	at := time.UnixMilli(t.Time).UTC()
	if t.State == rules.AlertAcknowledged || t.State == rules.AlertResolved {
		a.State, a.AcknowledgedAt, a.AcknowledgedBy = rules.AlertAcknowledged, at, t.By
	}
	if t.State == rules.AlertResolved {
		a.State, a.AcknowledgedAt, a.AcknowledgedBy = rules.AlertResolved, time.Time{}, ""
		a.ResolvedAt, a.ResolvedBy = at, t.By
	}
	if err := h.store.Put(recordKey(id), encodeRecord(&a)); err != nil {
		return Alert{}, fmt.Errorf("write alert %d: %w", id, err)
	}
	h.index = append(h.index, h.entryOf(&a))
	h.latest[lifecycle{a.Rule, a.Key}] = id
	h.recorded.WithLabelValues(string(a.State)).Inc()
	h.evictLocked()
	h.entries.Set(float64(len(h.index)))
	return a, nil
}

// transition moves an active alert to state (acknowledged or resolved)
// and persists it. Acknowledging an acknowledged alert changes nothing.
func (h *History) transition(a *Alert, state rules.AlertState, at time.Time, by string) (Alert, error) {
	switch {
	case !a.Active():
		return *a, fmt.Errorf("alert %d is %s: %w", a.ID, a.State, ErrState)
	case state == rules.AlertAcknowledged && a.State == rules.AlertAcknowledged:
		return *a, nil
	case state == rules.AlertAcknowledged:
		a.AcknowledgedAt, a.AcknowledgedBy = at.UTC(), by
	case state == rules.AlertResolved:
		a.ResolvedAt, a.ResolvedBy = at.UTC(), by
	default:
		return *a, fmt.Errorf("alert %d to %q: %w", a.ID, state, ErrState)
	}
	a.State = state
	if err := h.store.Put(recordKey(a.ID), encodeRecord(a)); err != nil {
		return Alert{}, fmt.Errorf("write alert %d: %w", a.ID, err)
	}
	if i, ok := h.find(a.ID); ok {
		h.index[i].state = state
	}
	h.recorded.WithLabelValues(string(state)).Inc()
	return *a, nil
}

// Ack acknowledges alert id by whom, at Options.Now(). Acknowledging an
// acknowledged alert returns it unchanged; a resolved one is ErrState.
func (h *History) Ack(id uint64, by string) (Alert, error) {
	return h.byHand(id, rules.AlertAcknowledged, by)
}

// Resolve resolves alert id by hand, by whom, at Options.Now(). A resolved
// alert is ErrState.
func (h *History) Resolve(id uint64, by string) (Alert, error) {
	return h.byHand(id, rules.AlertResolved, by)
}

func (h *History) byHand(id uint64, state rules.AlertState, by string) (Alert, error) {
	at := h.opts.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	a, err := h.getLocked(id)
	if err != nil {
		return Alert{}, err
	}
	return h.transition(&a, state, at, by)
}

// Get returns alert id.
func (h *History) Get(id uint64) (Alert, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.getLocked(id)
}

func (h *History) getLocked(id uint64) (Alert, error) {
	if _, ok := h.find(id); !ok {
		return Alert{}, fmt.Errorf("alert %d: %w", id, ErrNotFound)
	}
	b, err := h.store.Get(recordKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return Alert{}, fmt.Errorf("alert %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Alert{}, fmt.Errorf("read alert %d: %w", id, err)
	}
	a, err := decodeRecord(b)
	if err != nil {
		return Alert{}, fmt.Errorf("read alert %d: %w", id, err)
	}
	return a, nil
}
