package cloud

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/edgevault/edgevault/alerts"
	"github.com/edgevault/edgevault/batch"
)

// The fleet view answers "which devices, which alerts" across edges, from
// the metadata state the edges synced (state.go): one key per device or
// alert, read per request.

// latest returns the current value of every key of kind of edge id under
// prefix (the synced state, see state.go).
func (s *Server) latest(id, kind, prefix string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.scanState(id, kind, prefix, "", func(key string, _ uint64, v []byte) error {
		out[key] = bytes.Clone(v) // v is the scan's buffer
		return nil
	})
	return out, err
}

// fleetEdges is the edges a fleet query covers: one, or every registered.
func (s *Server) fleetEdges(id string) ([]string, error) {
	if id != "" {
		if s.edge(id) == nil {
			return nil, fmt.Errorf("%w: edge %q", ErrNotFound, id)
		}
		return []string{id}, nil
	}
	s.mu.RLock()
	ids := make([]string, 0, len(s.edges))
	for id := range s.edges {
		ids = append(ids, id)
	}
	s.mu.RUnlock()
	sort.Strings(ids)
	return ids, nil
}

// FleetDevice is a device of some edge as its registry last synced it.
type FleetDevice struct {
	Edge      string            `json:"edge"`
	ID        string            `json:"id"`
	Name      string            `json:"name,omitempty"`
	Type      string            `json:"type,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	Contract  string            `json:"contract,omitempty"`
	FirstSeen int64             `json:"first_seen"` // Unix ms
	LastSeen  int64             `json:"last_seen"`  // Unix ms, as of the last sync
}

// registryPrefix is where the edge's registry keeps devices (registry and
// edge packages: "registry/" + "dev/").
const registryPrefix = "registry/dev/"

// fleetDevices lists the devices of the edges, optionally of one type.
func (s *Server) fleetDevices(edgeID, typ string) ([]FleetDevice, error) {
	ids, err := s.fleetEdges(edgeID)
	if err != nil {
		return nil, err
	}
	out := []FleetDevice{}
	for _, id := range ids {
		vals, err := s.latest(id, batch.KindRegistry, registryPrefix)
		if err != nil {
			return nil, fmt.Errorf("devices of %s: %w", id, err)
		}
		for _, v := range vals {
			var d FleetDevice
			if json.Unmarshal(v, &d) != nil || d.ID == "" || (typ != "" && d.Type != typ) {
				continue
			}
			d.Edge = id
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b FleetDevice) int {
		return strings.Compare(a.Edge+"\x00"+a.ID, b.Edge+"\x00"+b.ID)
	})
	return out, nil
}

// devices serves GET /api/v1/devices?edge=&type=.
func (s *Server) devices(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "edge", "type"); err != nil {
		return err
	}
	ds, err := s.fleetDevices(q.Get("edge"), q.Get("type"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ds, "count": len(ds)})
	return nil
}

// FleetAlert is an alert of some edge as its history last synced it.
type FleetAlert struct {
	Edge string `json:"edge"`
	alerts.Alert
}

// MarshalJSON puts the edge beside the alert's own fields.
func (a FleetAlert) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(a.Alert)
	if err != nil || len(b) < 2 || b[0] != '{' {
		return b, err
	}
	e, _ := json.Marshal(a.Edge)
	out := append([]byte(`{"edge":`), e...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	return append(out, b[1:]...), nil
}

// alertsPrefix is where the edge's alert history keeps alerts ("alerts/" +
// 'r' + id, package alerts).
const alertsPrefix = "alerts/r"

// fleetAlerts serves GET /api/v1/alerts?edge=&state=&severity=&device=&rule=,
// newest first.
func (s *Server) fleetAlerts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "edge", "state", "severity", "device", "rule"); err != nil {
		return err
	}
	ids, err := s.fleetEdges(q.Get("edge"))
	if err != nil {
		return err
	}
	out := []FleetAlert{}
	for _, id := range ids {
		vals, err := s.latest(id, batch.KindAlerts, alertsPrefix)
		if err != nil {
			return fmt.Errorf("alerts of %s: %w", id, err)
		}
		for k, v := range vals {
			if len(k) != len(alertsPrefix)+8 {
				continue
			}
			a, err := alerts.DecodeStored(v)
			if err != nil || a.ID != binary.BigEndian.Uint64([]byte(k[len(alertsPrefix):])) || !alertMatches(a, q.Get) {
				continue
			}
			out = append(out, FleetAlert{Edge: id, Alert: a})
		}
	}
	slices.SortFunc(out, func(a, b FleetAlert) int { return b.TriggeredAt.Compare(a.TriggeredAt) })
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "count": len(out)})
	return nil
}

func alertMatches(a alerts.Alert, get func(string) string) bool {
	return (get("state") == "" || string(a.State) == get("state")) &&
		(get("severity") == "" || string(a.Severity) == get("severity")) &&
		(get("device") == "" || a.Device == get("device")) &&
		(get("rule") == "" || a.Rule == get("rule"))
}

// onlyParams refuses, as a bad request, a parameter not in allowed or
// given twice.
func onlyParams(q map[string][]string, allowed ...string) error {
	if err := checkParams(q, allowed...); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return nil
}

func checkParams(q map[string][]string, allowed ...string) error {
	for k, vs := range q {
		if !slices.Contains(allowed, k) || len(vs) > 1 {
			return fmt.Errorf("unknown or repeated parameter %q (want %s)", k, strings.Join(allowed, ", "))
		}
	}
	return nil
}
