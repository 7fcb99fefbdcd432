package cloud

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/edgevault/edgevault/kv"
)

// Meta key prefixes (see doc.go).
const (
	metaEdge  = "cloud/edge/"
	metaAcked = "cloud/acked/"
	metaRec   = "cloud/rec/"
)

// loadEdges registers the persisted edges, then the config's (which win).
func (s *Server) loadEdges() error {
	err := s.db.Meta().Scan([]byte(metaEdge), func(_, v []byte) error {
		var ec EdgeConfig
		if err := json.Unmarshal(v, &ec); err != nil {
			return fmt.Errorf("edge record: %w", err)
		}
		k, err := ec.keys()
		if err != nil {
			return fmt.Errorf("edge record %q: %w", ec.ID, err)
		}
		s.edges[ec.ID] = &edge{id: ec.ID, keys: k}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load edges: %w", err)
	}
	for _, ec := range s.cfg.Edges {
		k, _ := ec.keys() // validated with the config
		s.edges[ec.ID] = &edge{id: ec.ID, keys: k, fixed: true}
	}
	return nil
}

// loadEdge registers an edge that another process sharing the backend
// registered after this one started; nil if there is none. Its keys are
// read once: re-keying it over another process's API reaches this process
// at its next start.
func (s *Server) loadEdge(id string) *edge {
	if !edgeIDRe.MatchString(id) {
		return nil
	}
	raw, err := s.db.Meta().Get([]byte(metaEdge + id))
	if err != nil {
		if !errors.Is(err, kv.ErrNotFound) {
			s.log.Warn("load edge", "edge", id, "err", err)
		}
		return nil
	}
	var ec EdgeConfig
	err = json.Unmarshal(raw, &ec)
	k, kerr := ec.keys()
	if err = errors.Join(err, kerr); err != nil || ec.ID != id {
		s.log.Warn("load edge: bad record", "edge", id, "err", err)
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.edges[id]; e != nil {
		return e
	}
	e := &edge{id: id, keys: k}
	s.edges[id] = e
	return e
}

// RegisterEdge adds or re-keys an edge and persists it. It reports whether
// the edge is new. Edges from the config file cannot be changed here.
func (s *Server) RegisterEdge(ec EdgeConfig) (created bool, err error) {
	k, err := ec.keys()
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.edges[ec.ID]
	if old != nil && old.fixed {
		return false, fmt.Errorf("%w: %q", ErrEdgeFixed, ec.ID)
	}
	raw, err := json.Marshal(ec)
	if err != nil {
		return false, fmt.Errorf("register edge: %w", err)
	}
	if err := s.db.Meta().Put([]byte(metaEdge+ec.ID), raw); err != nil {
		return false, fmt.Errorf("register edge: %w", err)
	}
	if old != nil {
		// Keep the edge, its ingest lock and acked set: batches may be in
		// flight. keys are guarded by s.mu.
		old.keys = k
		return false, nil
	}
	s.edges[ec.ID] = &edge{id: ec.ID, keys: k}
	return true, nil
}

// admin checks the bearer token of an admin request.
func (s *Server) admin(r *http.Request) error {
	if s.cfg.AdminToken == "" {
		return fmt.Errorf("%w: admin routes are disabled (set admin_token)", ErrForbidden)
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) != 1 {
		return fmt.Errorf("%w: bad admin token", ErrForbidden)
	}
	return nil
}

// reader checks the bearer token of a query route: the read token or the
// admin token, once either is configured.
func (s *Server) reader(r *http.Request) error {
	if s.cfg.AdminToken == "" && s.cfg.ReadToken == "" {
		return nil
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok && (tokenIs(tok, s.cfg.ReadToken) || tokenIs(tok, s.cfg.AdminToken)) {
		return nil
	}
	return fmt.Errorf("%w: query routes need a read or admin token", ErrUnauthorized)
}

func tokenIs(tok, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(want)) == 1
}

func (s *Server) registerEdge(w http.ResponseWriter, r *http.Request) error {
	if err := s.admin(r); err != nil {
		return err
	}
	var ec EdgeConfig
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ec); err != nil {
		return fmt.Errorf("%w: edge: %v", ErrBadRequest, err)
	}
	created, err := s.RegisterEdge(ec)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	s.log.Info("edge registered", "edge", ec.ID, "new", created)
	writeJSON(w, code, map[string]any{"id": ec.ID, "created": created})
	return nil
}

// EdgeStatus is one edge in GET /api/v1/admin/edges.
type EdgeStatus struct {
	ID     string `json:"id"`
	Source string `json:"source"` // "config" or "admin"
	Acked  uint64 `json:"acked"`  // highest contiguous acknowledged sequence
	// MaxAcked is the highest acknowledged sequence; a replacement edge node
	// restored from the cloud numbers its batches after it.
	MaxAcked uint64 `json:"max_acked"`
}

func (s *Server) listEdges(w http.ResponseWriter, r *http.Request) error {
	if err := s.admin(r); err != nil {
		return err
	}
	s.mu.RLock()
	edges := make([]*edge, 0, len(s.edges))
	for _, e := range s.edges {
		edges = append(edges, e)
	}
	s.mu.RUnlock()
	sort.Slice(edges, func(i, j int) bool { return edges[i].id < edges[j].id })
	out := make([]EdgeStatus, 0, len(edges))
	for _, e := range edges {
		st := EdgeStatus{ID: e.id, Source: "admin"}
		if e.fixed {
			st.Source = "config"
		}
		e.mu.Lock()
		set, err := s.ackedOf(e)
		if err == nil {
			st.Acked, st.MaxAcked = set.contig, set.contig
			if len(set.above) > 0 {
				st.MaxAcked = set.above[len(set.above)-1]
			}
		}
		e.mu.Unlock()
		if err != nil {
			return err
		}
		out = append(out, st)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ackedOf loads e's acknowledged set, once unless the backend is shared
// (other processes add to it). Callers hold e.mu.
func (s *Server) ackedOf(e *edge) (*ackSet, error) {
	if e.acked != nil && s.shared == nil {
		return e.acked, nil
	}
	raw, err := s.db.Meta().Get([]byte(metaAcked + e.id))
	set := &ackSet{}
	switch {
	case errors.Is(err, kv.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("load acked set: %w", err)
	default:
		if set, err = decodeAckSet(raw); err != nil {
			return nil, fmt.Errorf("load acked set of %q: %w", e.id, err)
		}
	}
	e.acked = set
	return set, nil
}

// saveAcked adds seq to e's acknowledged set and stores the set. Callers
// hold e.mu.
func (s *Server) saveAcked(e *edge, seq uint64) error {
	key := []byte(metaAcked + e.id)
	if s.shared == nil {
		e.acked.add(seq)
		// The readings are durable already; losing the set in a crash only
		// makes the edge resend batches the store takes again unchanged, so
		// the set does not pay a second disk flush per batch.
		if lazy, ok := s.db.(interface{ PutMetaLazy(k, v []byte) error }); ok {
			return lazy.PutMetaLazy(key, e.acked.encode())
		}
		return s.db.Meta().Put(key, e.acked.encode())
	}
	// Other processes may have added sequences since the set was read: add
	// seq to the stored set, not to ours.
	var set *ackSet
	err := s.shared.UpdateMeta(key, func(old []byte) ([]byte, error) {
		set = &ackSet{}
		if old != nil {
			var err error
			if set, err = decodeAckSet(old); err != nil {
				return nil, fmt.Errorf("acked set of %q: %w", e.id, err)
			}
		}
		set.add(seq)
		return set.encode(), nil
	})
	if err != nil {
		e.acked = nil
		return err
	}
	e.acked = set
	return nil
}
