package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/cloud/pgstore"
	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

// Backend is the storage the cloud writes batches to and answers queries
// from: *store.DB (embedded) or *pgstore.DB (PostgreSQL).
type Backend interface {
	Append(rs []point.Reading) (store.AppendResult, error)
	Query(ctx context.Context, q store.Query) (store.Result, error)
	Series() []store.SeriesInfo
	Meta() kv.Store
	Close() error
}

// SharedBackend is a Backend that several cloud processes may use at once
// (PostgreSQL). The server then reads an edge's acknowledged set afresh for
// every batch, adds a sequence with UpdateMeta, which runs fn on the stored
// value atomically against the other processes, and looks up in Meta an
// edge another process registered.
type SharedBackend interface {
	Backend
	UpdateMeta(key []byte, fn func(old []byte) ([]byte, error)) error
}

// Options are the seams tests replace. The zero value is production.
type Options struct {
	Now    func() time.Time // nil means time.Now
	Logger *slog.Logger     // nil means slog.Default()
	// Backend replaces the embedded store under Config.Data.
	Backend Backend
}

// Server is the cloud ingest and query service.
type Server struct {
	cfg     Config
	db      Backend
	shared  SharedBackend // db when other processes may share it, else nil
	now     func() time.Time
	log     *slog.Logger
	nonces  *batch.MemNonces
	slots   chan struct{} // MaxConcurrent batches opened and stored at once
	metrics *metrics
	handler http.Handler

	mu    sync.RWMutex // guards edges
	edges map[string]*edge
}

// edge is one registered edge node.
type edge struct {
	id    string
	keys  batch.Keys // guarded by Server.mu (re-keying)
	fixed bool       // from the config file

	mu    sync.Mutex // serializes ingest of this edge; guards acked
	acked *ackSet    // nil until loaded

	queryOnce sync.Once
	query     http.Handler // the api package's handler scoped to this edge
}

// Open opens the backend and loads the registered edges.
func Open(cfg Config, opts Options) (*Server, error) {
	cfg.fillDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, now: opts.Now, log: opts.Logger, db: opts.Backend, edges: map[string]*edge{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "cloud")
	s.nonces = batch.NewMemNonces(2 * cfg.Skew)
	s.slots = make(chan struct{}, cfg.MaxConcurrent)
	if s.db == nil {
		db, err := openBackend(cfg, s.now, s.log)
		if err != nil {
			return nil, fmt.Errorf("open cloud: %w", err)
		}
		s.db = db
	}
	s.shared, _ = s.db.(SharedBackend)
	if err := s.loadEdges(); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open cloud: %w", err)
	}
	s.metrics = newMetrics()
	s.handler = s.routes()
	return s, nil
}

// openBackend opens the backend the config names.
func openBackend(cfg Config, now func() time.Time, log *slog.Logger) (Backend, error) {
	if cfg.Storage.Backend == BackendPostgres {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return pgstore.Open(ctx, cfg.Storage.Postgres, log)
	}
	return store.Open(filepath.Join(cfg.Data, "store"), store.Options{
		Fsync: store.FsyncAlways, Now: now, Logger: log})
}

// reading guards a query route with the read token (see Config.ReadToken).
func (s *Server) reading(fn func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.reader(r); err != nil {
			return err
		}
		return fn(w, r)
	}
}

// Close closes the backend.
func (s *Server) Close() error { return s.db.Close() }

// Handler serves the REST API.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, fn func(http.ResponseWriter, *http.Request) error) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := fn(w, r); err != nil {
				s.fail(w, r, err)
			}
		})
	}
	h("POST /api/v1/ingest", s.ingest)
	h("GET /api/v1/edges/{edge}/query", s.reading(s.edgeQuery))
	h("GET /api/v1/edges/{edge}/records", s.reading(s.records))
	h("GET /api/v1/edges/{edge}/series", s.reading(s.edgeSeries))
	h("GET /api/v1/edges/{edge}/state", s.reading(s.state))
	h("GET /api/v1/stats", s.reading(s.stats))
	h("GET /api/v1/devices", s.reading(s.devices))
	h("GET /api/v1/alerts", s.reading(s.fleetAlerts))
	h("GET /api/v1/admin/edges", s.listEdges)
	h("POST /api/v1/admin/edges", s.registerEdge)
	h("GET /api/v1/admin/backup", s.backup)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

// lookup gives VerifyRequest the keys of an edge.
func (s *Server) lookup(id string) (batch.Keys, bool) {
	e := s.edge(id)
	if e == nil {
		return batch.Keys{}, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return e.keys, true
}

func (s *Server) edge(id string) *edge {
	s.mu.RLock()
	e := s.edges[id]
	s.mu.RUnlock()
	if e == nil && s.shared != nil {
		return s.loadEdge(id)
	}
	return e
}

// Sentinel errors of the HTTP API that batch does not already name.
var (
	ErrBadRequest = errors.New("bad request")
	ErrNotFound   = errors.New("not found")
	ErrForbidden  = errors.New("forbidden")
	// ErrUnauthorized: a query route without a valid read or admin token.
	ErrUnauthorized = errors.New("unauthorized")
)

// statusOf is the one place errors become an HTTP status and a code the
// edge's uplink can act on.
func statusOf(err error) (int, string) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, batch.ErrBadSignature):
		return http.StatusUnauthorized, "bad_signature"
	case errors.Is(err, batch.ErrUnknownEdge):
		return http.StatusUnauthorized, "unknown_edge"
	case errors.Is(err, batch.ErrStale):
		// 408, not 401: the edge re-signs every attempt with its clock, so
		// this is retryable once the clocks agree (uplink retries 408).
		return http.StatusRequestTimeout, "stale_timestamp"
	case errors.Is(err, batch.ErrReplay):
		return http.StatusConflict, "replay"
	case errors.Is(err, batch.ErrTooLarge), errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, batch.ErrBadBatch), errors.Is(err, batch.ErrDecrypt):
		return http.StatusBadRequest, "undecodable"
	case errors.Is(err, ErrBadRequest), errors.Is(err, store.ErrBadQuery),
		errors.Is(err, ErrEdgeID), errors.Is(err, ErrEdgeKeys):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, ErrEdgeFixed):
		return http.StatusConflict, "edge_fixed"
	case errors.Is(err, store.ErrClosed):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, kind := statusOf(err)
	msg := err.Error()
	switch {
	case code >= 500:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		if code == http.StatusInternalServerError {
			msg = "internal error"
		}
	case r.URL.Path == "/api/v1/ingest":
		s.log.Warn("ingest refused", "code", code, "err", err, "remote", r.RemoteAddr)
	}
	writeJSON(w, code, map[string]string{"error": msg, "code": kind})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to tell it
}

type metrics struct {
	reg      *prometheus.Registry
	batches  *prometheus.CounterVec
	points   prometheus.Counter
	rejected prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.batches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgevault_cloud_batches_total", Help: "Ingest requests by result code."}, []string{"result"})
	m.points = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgevault_cloud_points_total", Help: "Readings stored."})
	m.rejected = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgevault_cloud_rejected_points_total", Help: "Readings of accepted batches the store refused."})
	m.reg.MustRegister(m.batches, m.points, m.rejected)
	return m
}
