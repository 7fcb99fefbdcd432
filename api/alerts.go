package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/edgevault/edgevault/alerts"
	"github.com/edgevault/edgevault/notify"
)

// Alerts is the alert history with acknowledgement and resolution by hand.
type Alerts interface {
	List(f alerts.Filter) ([]alerts.Alert, uint64, error)
	Get(id uint64) (alerts.Alert, error)
	Ack(id uint64, by string) (alerts.Alert, error)
	Resolve(id uint64, by string) (alerts.Alert, error)
}

// Notifications reports the state of the notification channels.
type Notifications interface {
	Status() []notify.ChannelStatus
}

func (s *server) listAlerts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "rule", "device", "severity", "state", "from", "to", "before", "limit"); err != nil {
		return err
	}
	if s.Alerts == nil {
		return unavailable("alert history")
	}
	f := alerts.Filter{Rule: q.Get("rule"), Device: q.Get("device"), Severity: q.Get("severity"), State: q.Get("state")}
	var err error
	if v := q.Get("from"); v != "" {
		if f.From, err = parseTime("from", v); err != nil {
			return err
		}
	}
	if v := q.Get("to"); v != "" {
		if f.To, err = parseTime("to", v); err != nil {
			return err
		}
	}
	if f.Before, err = parseUint("before", q.Get("before")); err != nil {
		return err
	}
	limit, err := parseUint("limit", q.Get("limit"))
	if err != nil {
		return err
	}
	f.Limit = int(min(limit, 1<<20))
	items, next, err := s.Alerts.List(f)
	if err != nil {
		return err
	}
	out := map[string]any{"items": items, "next": nil}
	if items == nil {
		out["items"] = []alerts.Alert{}
	}
	if next != 0 {
		out["next"] = nextURL(r.URL, "before", strconv.FormatUint(next, 10))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func alertID(r *http.Request) (uint64, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, errorf(ErrBadRequest, "alert id: want a positive integer, got %q", r.PathValue("id"))
	}
	return id, nil
}

func (s *server) getAlert(w http.ResponseWriter, r *http.Request) error {
	if s.Alerts == nil {
		return unavailable("alert history")
	}
	id, err := alertID(r)
	if err != nil {
		return err
	}
	a, err := s.Alerts.Get(id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

// actor reads the optional {"by": "..."} body of an ack or resolve.
func actor(w http.ResponseWriter, r *http.Request) (string, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		return "", err
	}
	var body struct {
		By string `json:"by"`
	}
	if len(bytes.TrimSpace(b)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			return "", errorf(ErrBadRequest, "decode body: %v", err)
		}
	}
	if body.By == "" {
		body.By = "api"
	}
	return body.By, nil
}

func (s *server) ackAlert(w http.ResponseWriter, r *http.Request) error {
	return s.changeAlert(w, r, Alerts.Ack)
}

func (s *server) resolveAlert(w http.ResponseWriter, r *http.Request) error {
	return s.changeAlert(w, r, Alerts.Resolve)
}

func (s *server) changeAlert(w http.ResponseWriter, r *http.Request, change func(Alerts, uint64, string) (alerts.Alert, error)) error {
	if s.Alerts == nil {
		return unavailable("alert history")
	}
	id, err := alertID(r)
	if err != nil {
		return err
	}
	by, err := actor(w, r)
	if err != nil {
		return err
	}
	a, err := change(s.Alerts, id, by)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *server) notifications(w http.ResponseWriter, r *http.Request) error {
	if s.Notifications == nil {
		return unavailable("notifications")
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": s.Notifications.Status()})
	return nil
}
