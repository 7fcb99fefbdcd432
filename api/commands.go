package api

import (
	"net/http"
	"time"

	"github.com/edgevault/edgevault/gateway"
)

// Commands sends commands to devices behind gateways and reports on them.
type Commands interface {
	Submit(device, name string, params map[string]any, timeout time.Duration, retries int) (gateway.Command, error)
	Get(id string) (gateway.Command, error)
	List(f gateway.Filter, limit int) ([]gateway.Command, error)
	Gateways() []gateway.Presence
}

// commandRequest is the body of POST /api/v1/devices/{id}/commands.
type commandRequest struct {
	Name    string         `json:"name"`
	Params  map[string]any `json:"params"`
	Timeout string         `json:"timeout"` // Go duration; default 30s
	Retries *int           `json:"retries"` // resends without an ack; default 3
}

func (s *server) submitCommand(w http.ResponseWriter, r *http.Request) error {
	if s.Commands == nil {
		return unavailable("commands")
	}
	var req commandRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	var timeout time.Duration
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil || d <= 0 {
			return errorf(ErrBadRequest, "timeout: want a positive duration like 30s, got %q", req.Timeout)
		}
		timeout = d
	}
	retries := 0 // the default, 3
	if req.Retries != nil {
		if *req.Retries < 0 || *req.Retries > 10 {
			return errorf(ErrBadRequest, "retries: want 0..10, got %d", *req.Retries)
		}
		retries = *req.Retries
		if retries == 0 {
			retries = -1 // none
		}
	}
	cmd, err := s.Commands.Submit(r.PathValue("id"), req.Name, req.Params, timeout, retries)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, cmd)
	return nil
}

func (s *server) getCommand(w http.ResponseWriter, r *http.Request) error {
	if s.Commands == nil {
		return unavailable("commands")
	}
	cmd, err := s.Commands.Get(r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, cmd)
	return nil
}

func (s *server) listCommands(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "device", "state", "limit"); err != nil {
		return err
	}
	if s.Commands == nil {
		return unavailable("commands")
	}
	limit, err := parseUint("limit", q.Get("limit"))
	if err != nil {
		return err
	}
	st := gateway.State(q.Get("state"))
	switch st {
	case "", gateway.StatePending, gateway.StateSent, gateway.StateAcknowledged,
		gateway.StateSucceeded, gateway.StateFailed, gateway.StateExpired:
	default:
		return errorf(ErrBadRequest, "state: unknown %q", st)
	}
	items, err := s.Commands.List(gateway.Filter{Device: q.Get("device"), State: st}, int(min(limit, 10000)))
	if err != nil {
		return err
	}
	if items == nil {
		items = []gateway.Command{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *server) gateways(w http.ResponseWriter, r *http.Request) error {
	if s.Commands == nil {
		return unavailable("gateways")
	}
	items := s.Commands.Gateways()
	if items == nil {
		items = []gateway.Presence{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}
