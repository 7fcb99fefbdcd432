package api

import (
	"net/http"
	"strconv"

	"github.com/edgevault/edgevault/uplink"
)

// Uplink is the edge node's outbox to the cloud (uplink.Outbox).
type Uplink interface {
	Status() uplink.Status
	Requeue(seq uint64) error
	Discard(seq uint64) error
}

func (s *server) uplinkStatus(w http.ResponseWriter, r *http.Request) error {
	if s.Uplink == nil {
		return unavailable("uplink")
	}
	writeJSON(w, http.StatusOK, s.Uplink.Status())
	return nil
}

// uplinkRejected requeues or discards a batch the cloud rejected.
func (s *server) uplinkRejected(w http.ResponseWriter, r *http.Request) error {
	if s.Uplink == nil {
		return unavailable("uplink")
	}
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		return errorf(ErrBadRequest, "seq: want a batch sequence number, got %q", r.PathValue("seq"))
	}
	switch r.PathValue("action") {
	case "requeue":
		err = s.Uplink.Requeue(seq)
	case "discard":
		err = s.Uplink.Discard(seq)
	default:
		return errorf(ErrNotFound, "action %q: want requeue or discard", r.PathValue("action"))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"seq": seq, "done": r.PathValue("action")})
	return nil
}
