package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/edgevault/edgevault/alerts"
	"github.com/edgevault/edgevault/deadletter"
	"github.com/edgevault/edgevault/gateway"
	"github.com/edgevault/edgevault/registry"
	"github.com/edgevault/edgevault/rules"
	"github.com/edgevault/edgevault/store"
	"github.com/edgevault/edgevault/uplink"
)

// Sentinel errors, mapped to HTTP status by statusOf.
var (
	ErrBadRequest  = errors.New("bad request")
	ErrNotFound    = errors.New("not found")
	ErrMethod      = errors.New("method not allowed")
	ErrTooLarge    = errors.New("request entity too large")
	ErrUnavailable = errors.New("unavailable")
	// ErrUnauthorized: http.token is set and the request lacks it (401).
	ErrUnauthorized = errors.New("unauthorized")
)

// Querier answers time-series queries (store.DB).
type Querier interface {
	Query(ctx context.Context, q store.Query) (store.Result, error)
}

// LineWriter stores an InfluxDB line-protocol body (ingest.Pipeline). An
// error that has a BadLines method or whose text starts with "partial
// write" is a partial write (400); one wrapping ErrBadRequest is a bad body
// (400); any other error means the body was not made durable (503).
type LineWriter interface {
	WriteLines(ctx context.Context, body []byte, precision string) (written int, err error)
}

// Contracts lists and validates parsing contracts (adapts codec.Set).
type Contracts interface {
	Contracts() any
	Validate(body []byte) error
}

// Devices is the registry as the API uses it (*registry.Registry).
type Devices interface {
	List() []registry.Device
	Get(id string) (registry.Device, bool)
	Update(id string, p registry.Patch) (registry.Device, error)
}

// DeadLetters lists kept payloads (*deadletter.Store).
type DeadLetters interface {
	List(f deadletter.Filter) ([]deadletter.Letter, uint64, error)
}

// Admin runs maintenance tasks (edge.Node).
type Admin interface {
	Compact(ctx context.Context) error
}

// Deps are what the API serves. A nil dependency makes its routes answer 503.
type Deps struct {
	Query         Querier
	Devices       Devices
	DeadLetters   DeadLetters
	Contracts     Contracts
	Lines         LineWriter
	Admin         Admin
	Rules         Rules
	Alerts        Alerts
	Notifications Notifications
	Commands      Commands
	Uplink        Uplink       // nil when no cloud is configured
	Metrics       http.Handler // promhttp
	Health        func() error
	Logger        *slog.Logger // nil means slog.Default()
	MaxBodyBytes  int64        // /write body limit; 0 means DefaultMaxBody
	// Token, when set, is required on every route but /healthz and /ping
	// (see authorized); empty leaves the API open, for a loopback listener.
	Token string
	Now   func() time.Time // clock for query defaults; nil means time.Now
}

// Body limits.
const (
	DefaultMaxBody = 32 << 20
	maxJSONBody    = 1 << 20
)

type server struct {
	Deps
}

// handlerFunc is a route handler; a returned error is written by fail.
type handlerFunc func(s *server, w http.ResponseWriter, r *http.Request) error

type route struct {
	method, path string
	h            handlerFunc
}

// routes is the one table the mux and the OpenAPI test are built from.
var routes = []route{
	{"GET", "/healthz", (*server).health},
	{"GET", "/metrics", (*server).metrics},
	{"GET", "/api/v1/openapi.yaml", (*server).openapi},
	{"GET", "/api/v1/devices", (*server).listDevices},
	{"GET", "/api/v1/devices/{id}", (*server).getDevice},
	{"PATCH", "/api/v1/devices/{id}", (*server).patchDevice},
	{"GET", "/api/v1/query", (*server).query},
	{"GET", "/api/v1/deadletters", (*server).deadLetters},
	{"GET", "/api/v1/contracts", (*server).contracts},
	{"POST", "/api/v1/contracts/validate", (*server).validateContract},
	{"POST", "/api/v1/admin/compact", (*server).compact},
	{"GET", "/api/v1/admin/backup", (*server).backup},
	{"GET", "/api/v1/rules", (*server).listRules},
	{"POST", "/api/v1/rules", (*server).createRule},
	{"POST", "/api/v1/rules/validate", (*server).validateRule},
	{"GET", "/api/v1/rules/{id}", (*server).getRule},
	{"PUT", "/api/v1/rules/{id}", (*server).updateRule},
	{"DELETE", "/api/v1/rules/{id}", (*server).deleteRule},
	{"POST", "/api/v1/rules/{id}/enable", (*server).enableRule},
	{"POST", "/api/v1/rules/{id}/disable", (*server).disableRule},
	{"GET", "/api/v1/alerts", (*server).listAlerts},
	{"GET", "/api/v1/alerts/{id}", (*server).getAlert},
	{"POST", "/api/v1/alerts/{id}/ack", (*server).ackAlert},
	{"POST", "/api/v1/alerts/{id}/resolve", (*server).resolveAlert},
	{"GET", "/api/v1/notifications", (*server).notifications},
	{"POST", "/api/v1/devices/{id}/commands", (*server).submitCommand},
	{"GET", "/api/v1/commands", (*server).listCommands},
	{"GET", "/api/v1/commands/{id}", (*server).getCommand},
	{"GET", "/api/v1/gateways", (*server).gateways},
	{"GET", "/api/v1/uplink", (*server).uplinkStatus},
	{"POST", "/api/v1/uplink/rejected/{seq}/{action}", (*server).uplinkRejected},
	{"POST", "/write", (*server).write},
	{"GET", "/ping", (*server).ping},
	{"HEAD", "/ping", (*server).ping},
	{"POST", "/query", (*server).influxQuery},
}

// New returns the API handler.
func New(d Deps) http.Handler {
	s := &server{Deps: d}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = DefaultMaxBody
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.HandleFunc(rt.method+" "+rt.path, s.wrap(rt.h))
	}
	mux.HandleFunc("/", s.wrap((*server).noRoute))
	return s.requireToken(mux)
}

func (s *server) wrap(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(s, w, r); err != nil {
			s.fail(w, r, err)
		}
	}
}

// noRoute answers paths no route matched: 405 with Allow when the path
// exists for other methods, else 404, both in the JSON error shape.
func (s *server) noRoute(w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, rt := range routes {
		if pathMatches(rt.path, r.URL.Path) {
			allow = append(allow, rt.method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return errorf(ErrMethod, "%s %s: allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", "))
	}
	return errorf(ErrNotFound, "no route for %s %s", r.Method, r.URL.Path)
}

func pathMatches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if ps[i] != xs[i] && !(strings.HasPrefix(ps[i], "{") && xs[i] != "") {
			return false
		}
	}
	return true
}

// statusOf is the one place errors become HTTP statuses.
func statusOf(err error) int {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, ErrBadRequest), errors.Is(err, registry.ErrInvalid),
		errors.Is(err, deadletter.ErrBadFilter), errors.Is(err, store.ErrBadQuery), isPartialWrite(err):
		return http.StatusBadRequest
	case errors.Is(err, rules.ErrInvalid), errors.Is(err, alerts.ErrBadFilter), errors.Is(err, gateway.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, alerts.ErrNotFound), errors.Is(err, gateway.ErrNotFound), errors.Is(err, uplink.ErrNotRejected):
		return http.StatusNotFound
	case errors.Is(err, ErrNotFound), errors.Is(err, registry.ErrNotFound), errors.Is(err, rules.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, rules.ErrExists), errors.Is(err, rules.ErrReadOnly), errors.Is(err, alerts.ErrState):
		return http.StatusConflict
	case errors.Is(err, ErrMethod):
		return http.StatusMethodNotAllowed
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrTooLarge), errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrUnavailable), errors.Is(err, registry.ErrClosed),
		errors.Is(err, store.ErrClosed), errors.Is(err, uplink.ErrBacklogFull):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	msg := err.Error()
	switch {
	case code == http.StatusInternalServerError:
		s.Logger.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error"
	case code == http.StatusRequestEntityTooLarge:
		msg = ErrTooLarge.Error()
	case code >= 500:
		s.Logger.Warn("api: unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	body := map[string]any{"error": msg}
	ruleErrorBody(err, body)
	writeJSON(w, code, body)
}

// errorf wraps a sentinel with a message that replaces the sentinel's text.
func errorf(sentinel error, format string, args ...any) error {
	return &apiError{sentinel: sentinel, msg: fmt.Sprintf(format, args...)}
}

type apiError struct {
	sentinel error
	msg      string
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.sentinel }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away; nothing to tell it
}

func unavailable(what string) error { return errorf(ErrUnavailable, "%s not configured", what) }
