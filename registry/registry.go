package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/kv"
)

// Errors returned by Update and New.
var (
	ErrNotFound = errors.New("device not found")
	ErrInvalid  = errors.New("invalid device update")
	ErrClosed   = errors.New("registry closed")
)

// Options configure a Registry. The zero value is usable.
type Options struct {
	OfflineAfter time.Duration         // last-seen timeout; 0 means 5 minutes
	Now          func() time.Time      // clock; nil means time.Now
	Logger       *slog.Logger          // nil means slog.Default()
	Registerer   prometheus.Registerer // nil means no metrics
}

// EventType names a registry event.
type EventType string

const (
	EventNew     EventType = "new"     // first message of a device
	EventOnline  EventType = "online"  // offline -> online
	EventOffline EventType = "offline" // online -> offline
)

// Event is delivered to subscribers, synchronously and outside registry locks.
type Event struct {
	Type   EventType
	Device string
	At     time.Time
}

const keyPrefix = "dev/"

// Registry is safe for concurrent use.
type Registry struct {
	store        kv.Store
	now          func() time.Time
	log          *slog.Logger
	offlineAfter int64 // ms

	mu      sync.RWMutex // guards devices, down and closed; taken before device.mu
	devices map[string]*device
	down    map[string]bool // clients the broker reported disconnected
	closed  bool

	subMu sync.Mutex // guards subs
	subs  []func(Event)

	online        atomic.Int64
	persistErrors prometheus.Counter
}

// New loads the devices persisted in store.
func New(store kv.Store, opts Options) (*Registry, error) {
	r := &Registry{store: store, now: opts.Now, log: opts.Logger,
		offlineAfter: opts.OfflineAfter.Milliseconds(),
		devices:      map[string]*device{}, down: map[string]bool{}}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.offlineAfter <= 0 {
		r.offlineAfter = (5 * time.Minute).Milliseconds()
	}
	err := store.Scan([]byte(keyPrefix), func(k, v []byte) error {
		d, err := loadDevice(v)
		if err != nil {
			return fmt.Errorf("device %q: %w", k[len(keyPrefix):], err)
		}
		r.devices[d.id] = d
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load registry: %w", err)
	}
	if err := r.registerMetrics(opts.Registerer); err != nil {
		return nil, fmt.Errorf("registry metrics: %w", err)
	}
	return r, nil
}

func (r *Registry) registerMetrics(reg prometheus.Registerer) error {
	r.persistErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgevault_registry_persist_errors_total",
		Help: "Device records that could not be written."})
	if reg == nil {
		return nil
	}
	cs := []prometheus.Collector{
		r.persistErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgevault_registry_devices",
			Help: "Devices known to the registry."}, func() float64 {
			r.mu.RLock()
			defer r.mu.RUnlock()
			return float64(len(r.devices))
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgevault_registry_devices_online",
			Help: "Devices currently online."}, func() float64 { return float64(r.online.Load()) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Subscribe registers fn for every later event. fn must not block for long:
// it runs on the caller's goroutine (the ingest path or Tick).
func (r *Registry) Subscribe(fn func(Event)) {
	r.subMu.Lock()
	defer r.subMu.Unlock()
	r.subs = append(r.subs, fn)
}

func (r *Registry) emit(evs []Event) {
	if len(evs) == 0 {
		return
	}
	r.subMu.Lock()
	subs := r.subs
	r.subMu.Unlock()
	for _, e := range evs {
		switch e.Type {
		case EventOnline:
			r.online.Add(1)
		case EventOffline:
			r.online.Add(-1)
		}
		for _, fn := range subs {
			fn(e)
		}
	}
}

// List returns all devices sorted by id.
func (r *Registry) List() []Device {
	r.mu.RLock()
	devs := make([]*device, 0, len(r.devices))
	for _, d := range r.devices {
		devs = append(devs, d)
	}
	r.mu.RUnlock()
	out := make([]Device, len(devs))
	for i, d := range devs {
		out[i] = d.snapshot()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Get returns one device.
func (r *Registry) Get(id string) (Device, bool) {
	r.mu.RLock()
	d := r.devices[id]
	r.mu.RUnlock()
	if d == nil {
		return Device{}, false
	}
	return d.snapshot(), true
}

// Flush persists last_seen and latest values of every device changed since
// the previous Flush.
func (r *Registry) Flush() error {
	r.mu.RLock()
	devs := make([]*device, 0, len(r.devices))
	for _, d := range r.devices {
		devs = append(devs, d)
	}
	r.mu.RUnlock()
	var errs []error
	for _, d := range devs {
		d.mu.Lock()
		if !d.dirty {
			d.mu.Unlock()
			continue
		}
		rec := d.record()
		d.dirty = false
		d.mu.Unlock()
		if err := r.put(rec); err != nil {
			d.mu.Lock()
			d.dirty = true
			d.mu.Unlock()
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close flushes; later Updates fail with ErrClosed.
func (r *Registry) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return r.Flush()
}

func (r *Registry) put(rec record) error {
	b, err := json.Marshal(rec)
	if err == nil {
		err = r.store.Put([]byte(keyPrefix+rec.ID), b)
	}
	if err != nil {
		r.persistErrors.Inc()
		return fmt.Errorf("persist device %q: %w", rec.ID, err)
	}
	return nil
}
