// Package deadletter keeps the payloads that could not be decoded or stored,
// with their topic, client, contract and the reason, so that an operator can
// see what a device sends and fix its contract. The store is bounded: past
// MaxEntries the oldest letters are evicted, and every eviction is counted.
//
// Letters are persisted through a kv.Store under an 8-byte big-endian id, so
// key order is arrival order; ids are never reused after a restart.
package deadletter

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/kv"
)

// Errors returned by List.
var (
	ErrBadFilter = errors.New("bad dead-letter filter")
)

// Defaults and bounds.
const (
	DefaultMaxEntries = 10000
	DefaultMaxPayload = 64 << 10
	DefaultLimit      = 100
	MaxLimit          = 1000
)

// Options configure a Store. The zero value is usable.
type Options struct {
	MaxEntries int                   // letters kept; 0 means DefaultMaxEntries
	MaxPayload int                   // payload bytes kept per letter; 0 means DefaultMaxPayload
	Now        func() time.Time      // clock for letters without a Time; nil means time.Now
	Registerer prometheus.Registerer // nil means no metrics
}

// Store is safe for concurrent use.
type Store struct {
	kv         kv.Store
	maxEntries int
	maxPayload int
	now        func() time.Time

	mu     sync.Mutex // guards index and nextID; held across writes so ids stay ordered
	index  []entry    // stored letters, oldest first: List filters here without I/O
	nextID uint64

	added   *prometheus.CounterVec
	evicted prometheus.Counter
}

// New opens the dead letters persisted in store.
func New(store kv.Store, opts Options) (*Store, error) {
	s := &Store{kv: store, maxEntries: opts.MaxEntries, maxPayload: opts.MaxPayload, now: opts.Now, nextID: 1}
	if s.maxEntries <= 0 {
		s.maxEntries = DefaultMaxEntries
	}
	if s.maxPayload <= 0 {
		s.maxPayload = DefaultMaxPayload
	}
	if s.now == nil {
		s.now = time.Now
	}
	err := store.Scan(nil, func(k, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("bad key %x", k)
		}
		l, err := decode(v)
		if err != nil {
			return fmt.Errorf("letter %x: %w", k, err)
		}
		id := binary.BigEndian.Uint64(k)
		s.index = append(s.index, entry{id: id, time: l.Time, topic: l.Topic})
		s.nextID = id + 1
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load dead letters: %w", err)
	}
	s.added = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgevault_deadletters_total",
		Help: "Payloads kept as dead letters, by reason class."}, []string{"reason_class"})
	s.evicted = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgevault_deadletters_evicted_total",
		Help: "Dead letters evicted because the store was full."})
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{s.added, s.evicted} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("dead-letter metrics: %w", err)
			}
		}
	}
	if err := s.evict(); err != nil {
		return nil, err
	}
	return s, nil
}

func key(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// Add stores a letter; it is durable when Add returns. ID is assigned, Time
// defaults to now, and a payload longer than MaxPayload is truncated with
// Truncated set and Size keeping the original length.
func (s *Store) Add(l Letter) error {
	if l.Time.IsZero() {
		l.Time = s.now()
	}
	l.Size = len(l.Payload)
	if len(l.Payload) > s.maxPayload {
		l.Payload, l.Truncated = l.Payload[:s.maxPayload], true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l.ID = s.nextID
	b, err := json.Marshal(stored(l))
	if err != nil {
		return fmt.Errorf("encode dead letter: %w", err)
	}
	if err := s.kv.Put(key(l.ID), b); err != nil {
		return fmt.Errorf("store dead letter: %w", err)
	}
	s.nextID++
	s.index = append(s.index, entry{id: l.ID, time: l.Time, topic: l.Topic})
	s.added.WithLabelValues(ReasonClass(l.Reason)).Inc()
	return s.evict()
}

// evict drops the oldest letters past maxEntries; s.mu must be held.
func (s *Store) evict() error {
	for len(s.index) > s.maxEntries {
		if err := s.kv.Delete(key(s.index[0].id)); err != nil {
			return fmt.Errorf("evict dead letter: %w", err)
		}
		s.index = s.index[1:]
		s.evicted.Inc()
	}
	if cap(s.index) > 2*s.maxEntries { // let the evicted prefix be collected
		s.index = slices.Clone(s.index)
	}
	return nil
}

// Count returns the number of letters kept.
func (s *Store) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.index)
}

// entry is what List filters on, kept in memory for every stored letter.
type entry struct {
	id    uint64
	time  time.Time
	topic string
}

// ReasonClass maps a free-text reason to a bounded metric label: the text
// before the first colon, if it is a short lowercase word or phrase, else
// "other".
func ReasonClass(reason string) string {
	c, _, _ := strings.Cut(reason, ":")
	if c == "" || len(c) > 32 {
		return "other"
	}
	for _, r := range c {
		if (r < 'a' || r > 'z') && r != ' ' && r != '-' && r != '_' {
			return "other"
		}
	}
	return strings.ReplaceAll(c, " ", "_")
}
