package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
)

// Service errors, mapped to HTTP statuses by the API.
var (
	ErrNotFound = errors.New("rule not found")
	ErrExists   = errors.New("rule already exists")
	ErrReadOnly = errors.New("rule is defined in the config file; change it there")
)

// Source says where a rule was defined.
const (
	SourceConfig = "config"
	SourceAPI    = "api"
)

// ServiceOptions configures a Service. Zero values are usable except
// Append and Alert, which default to discarding.
type ServiceOptions struct {
	// Engine configures the engine; its Emit is the service's own.
	Engine Options
	// Store keeps the rules made over the API; nil keeps them in memory.
	Store kv.Store
	// Config are the rules of the config file, read-only over the API.
	Config []Rule
	// Compiled is Config compiled already (CompileAll, as config
	// validation does), so that the service does not compile it again; a
	// rule of Config it lacks is compiled. nil compiles all of Config.
	Compiled []*Compiled
	// Append stores derived points (window results).
	Append func([]point.Reading) error
	// Alert receives alert transitions, on the service's goroutine, with
	// the wall-clock time the reading that caused the transition reached
	// the rules (Observe), or the time of the transition for those that
	// time or a call caused (a `for` elapsing, a window closing, a device
	// going offline, an acknowledgement).
	Alert func(a Alert, received time.Time)
	// QueueSize bounds the batches of readings waiting for the engine
	// (default 4096); a full queue drops the batch for rules only (it is
	// stored all the same) and counts it.
	QueueSize int
	// Tick is how often time-driven state advances (default 1s).
	Tick       time.Duration
	Registerer prometheus.Registerer
}

// RuleView is a rule with where it came from and how it runs.
type RuleView struct {
	Rule   Rule       `json:"rule"`
	Source string     `json:"source"`
	Status RuleStatus `json:"status"`
}

// Service runs the engine beside ingest: readings are handed over through
// a bounded queue, so rules never slow or block ingest, and rule changes
// apply without a restart.
type Service struct {
	o      ServiceOptions
	eng    *Engine
	in     chan observed
	out    chan Output
	stop   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once

	dropped *prometheus.CounterVec

	mu   sync.Mutex // guards cfg, api and comp, and serialises rule changes
	cfg  map[string]Rule
	api  map[string]Rule
	comp []*Compiled // every rule of cfg and api, compiled, by id
}

// NewService compiles the config rules and loads the stored ones.
func NewService(o ServiceOptions) (*Service, error) {
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.Engine.Logger == nil {
		o.Engine.Logger = slog.Default()
	}
	s := &Service{o: o, in: make(chan observed, o.QueueSize), out: make(chan Output, o.QueueSize),
		stop: make(chan struct{}), cfg: map[string]Rule{}, api: map[string]Rule{}}
	s.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgevault_rules_dropped_total",
		Help: "Batches of readings (stage=input) or rule outputs (stage=output) dropped because the rule engine fell behind.",
	}, []string{"stage"})
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.dropped)
	}
	o.Engine.Emit = s.emit
	s.eng = New(o.Engine)
	for _, r := range o.Config {
		s.cfg[r.ID] = r
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	if err := s.compile(o.Compiled); err != nil {
		return nil, err
	}
	s.apply()
	return s, nil
}

// compile compiles the rules that pre lacks, in id order (so the error
// lists invalid rules in that order); caller owns s.
func (s *Service) compile(pre []*Compiled) error {
	have := make(map[string]*Compiled, len(pre))
	for _, c := range pre {
		have[c.Rule.ID] = c
	}
	todo := make([]Rule, 0, len(s.cfg)+len(s.api))
	for id, r := range s.cfg {
		if c := have[id]; c != nil {
			s.comp = append(s.comp, c)
		} else {
			todo = append(todo, r)
		}
	}
	for _, r := range s.api {
		todo = append(todo, r)
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].ID < todo[j].ID })
	cs, err := CompileAll(todo)
	if err != nil {
		return err
	}
	s.comp = append(s.comp, cs...)
	slices.SortFunc(s.comp, func(a, b *Compiled) int { return strings.Compare(a.Rule.ID, b.Rule.ID) })
	return nil
}

// setCompiled adds or replaces a rule of comp; caller holds mu.
func (s *Service) setCompiled(c *Compiled) {
	i, found := s.find(c.Rule.ID)
	if found {
		s.comp[i] = c
	} else {
		s.comp = slices.Insert(s.comp, i, c)
	}
}

// find is where the rule id is or would be in comp; caller holds mu.
func (s *Service) find(id string) (int, bool) {
	return slices.BinarySearchFunc(s.comp, id, func(c *Compiled, id string) int { return strings.Compare(c.Rule.ID, id) })
}

func (s *Service) load() error {
	if s.o.Store == nil {
		return nil
	}
	return s.o.Store.Scan(nil, func(k, v []byte) error {
		r, err := ParseRuleJSON(v)
		if err != nil {
			s.o.Engine.Logger.Warn("stored rule unreadable, ignored", "rule", string(k), "err", err)
			return nil
		}
		if _, dup := s.cfg[r.ID]; dup {
			s.o.Engine.Logger.Warn("stored rule shadowed by the config file", "rule", r.ID)
			return nil
		}
		s.api[r.ID] = r
		return nil
	})
}

// apply hands the whole rule set, in id order, to the engine, which keeps
// the state of every rule whose *Compiled it already has; caller holds mu
// or owns s.
func (s *Service) apply() {
	s.eng.SetCompiled(s.comp)
}

// Start runs the engine goroutine and the output goroutine.
func (s *Service) Start() {
	s.wg.Add(2)
	go s.run()
	go s.deliver()
}

func (s *Service) run() {
	defer s.wg.Done()
	tick := time.NewTicker(s.o.Tick)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case b := <-s.in:
			s.eng.ObserveBatchAt(b.rs, b.at)
		case <-tick.C:
			s.eng.Tick()
		}
	}
}

func (s *Service) deliver() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case o := <-s.out:
			s.handleQueued(o)
		}
	}
}

// maxAppend bounds the derived points stored by one Append.
const maxAppend = 1024

// handleQueued handles o and the outputs queued behind it, in order.
// Consecutive derived points are stored by one Append: Append waits for a
// commit, and the windows closing at a minute's turn would otherwise make
// the alerts behind them wait for a commit per point.
func (s *Service) handleQueued(o Output) {
	var pts []point.Reading
	for {
		if o.Kind == OutputPoint {
			pts = append(pts, o.Point)
		} else {
			s.store(pts)
			pts = nil
			s.handle(o)
		}
		if len(pts) == maxAppend {
			s.store(pts)
			pts = nil
		}
		select {
		case o = <-s.out:
		default:
			s.store(pts)
			return
		}
	}
}

func (s *Service) store(pts []point.Reading) {
	if len(pts) == 0 || s.o.Append == nil {
		return
	}
	if err := s.o.Append(pts); err != nil {
		s.o.Engine.Logger.Warn("derived points not stored", "points", len(pts), "err", err)
	}
}

func (s *Service) handle(o Output) {
	switch o.Kind {
	case OutputPoint:
		s.store([]point.Reading{o.Point})
	case OutputAlert:
		if s.o.Alert != nil {
			s.o.Alert(o.Alert, o.Received)
		}
	case OutputError:
		s.o.Engine.Logger.Warn("rule failed", "rule", o.Rule, "err", o.Err)
	}
}

// observed is a batch of readings and when the node received them.
type observed struct {
	rs []point.Reading
	at time.Time
}

// emit runs under the engine's lock: it must not block.
func (s *Service) emit(o Output) {
	if o.Received.IsZero() {
		o.Received = time.Now()
	}
	select {
	case s.out <- o:
	default:
		s.dropped.WithLabelValues("output").Inc()
	}
}

// Observe hands readings to the rules without waiting (ingest calls it when
// they are queued for storage); received is when the node received them,
// which the outputs they cause carry (the zero time: now).
func (s *Service) Observe(rs []point.Reading, received time.Time) {
	if !s.eng.wantsReadings.Load() {
		return // no rule reads them: no queue, no wake-up of the engine
	}
	if received.IsZero() {
		received = time.Now()
	}
	select {
	case s.in <- observed{rs, received}:
	default:
		s.dropped.WithLabelValues("input").Inc()
	}
}

// DeviceStatus feeds an online/offline transition to the rules.
func (s *Service) DeviceStatus(device string, online bool, at time.Time) {
	s.eng.DeviceStatus(device, online, at)
}

// Close stops the goroutines; outputs still queued are delivered first.
func (s *Service) Close() {
	s.closed.Do(func() {
		close(s.stop)
		s.wg.Wait()
		select {
		case o := <-s.out:
			s.handleQueued(o)
		default:
		}
	})
}

// Engine gives access to acknowledgement and resolution by hand.
func (s *Service) Engine() *Engine { return s.eng }

// List returns every rule, sorted by id.
func (s *Service) List() []RuleView {
	s.mu.Lock()
	defer s.mu.Unlock()
	status := map[string]RuleStatus{}
	for _, st := range s.eng.Status() {
		status[st.ID] = st
	}
	var out []RuleView
	for _, r := range s.cfg {
		out = append(out, RuleView{Rule: r, Source: SourceConfig, Status: status[r.ID]})
	}
	for _, r := range s.api {
		out = append(out, RuleView{Rule: r, Source: SourceAPI, Status: status[r.ID]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rule.ID < out[j].Rule.ID })
	return out
}

// Get returns one rule.
func (s *Service) Get(id string) (RuleView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := RuleView{Source: SourceConfig}
	r, ok := s.cfg[id]
	if !ok {
		v.Source = SourceAPI
		if r, ok = s.api[id]; !ok {
			return RuleView{}, fmt.Errorf("%w: %q", ErrNotFound, id)
		}
	}
	v.Rule = r
	v.Status, _ = s.eng.statusOf(id)
	return v, nil
}

// Validate compiles a rule without saving it.
func (s *Service) Validate(r Rule) error {
	_, err := Compile(r)
	return err
}

// Put creates (create true) or replaces a rule made over the API and
// applies it at once.
//
// Only r is compiled: the other rules keep their compiled form and state.
func (s *Service) Put(r Rule, create bool) (RuleView, error) {
	c, err := Compile(r)
	if err != nil {
		return RuleView{}, err
	}
	s.mu.Lock()
	if _, ok := s.cfg[r.ID]; ok {
		s.mu.Unlock()
		return RuleView{}, fmt.Errorf("%w: %q", ErrReadOnly, r.ID)
	}
	_, exists := s.api[r.ID]
	switch {
	case create && exists:
		s.mu.Unlock()
		return RuleView{}, fmt.Errorf("%w: %q", ErrExists, r.ID)
	case !create && !exists:
		s.mu.Unlock()
		return RuleView{}, fmt.Errorf("%w: %q", ErrNotFound, r.ID)
	}
	if err := s.persist(r); err != nil {
		s.mu.Unlock()
		return RuleView{}, err
	}
	s.api[r.ID] = r
	s.setCompiled(c)
	s.apply()
	s.mu.Unlock()
	return s.Get(r.ID)
}

func (s *Service) persist(r Rule) error {
	if s.o.Store == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode rule %q: %w", r.ID, err)
	}
	if err := s.o.Store.Put([]byte(r.ID), b); err != nil {
		return fmt.Errorf("store rule %q: %w", r.ID, err)
	}
	return nil
}

// Delete removes a rule made over the API; its active alerts resolve.
func (s *Service) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cfg[id]; ok {
		return fmt.Errorf("%w: %q", ErrReadOnly, id)
	}
	if _, ok := s.api[id]; !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if s.o.Store != nil {
		if err := s.o.Store.Delete([]byte(id)); err != nil {
			return fmt.Errorf("delete rule %q: %w", id, err)
		}
	}
	delete(s.api, id)
	if i, found := s.find(id); found {
		s.comp = slices.Delete(s.comp, i, i+1)
	}
	s.apply()
	return nil
}

// SetDisabled enables or disables a rule made over the API.
func (s *Service) SetDisabled(id string, disabled bool) (RuleView, error) {
	v, err := s.Get(id)
	if err != nil {
		return v, err
	}
	r := v.Rule
	r.Disabled = disabled
	return s.Put(r, false)
}
