package cloud

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/edgevault/edgevault/batch"
)

// Edges send their metadata (registry, rules, alerts, commands, dead
// letters) as change records: op put or delete, the full key in the edge's
// metadata, the value. The cloud keeps the latest change per key, not the
// log, so an edge that rewrites a device record every few seconds costs one
// key, not a record per rewrite:
//
//	cloud/state/<edge>/<kind>/<key>  seq(8 BE) index(4 BE) op(1: 1 put, 0 delete) value
//
// A change is applied only when its (batch seq, index) is not older than the
// stored one, so a batch stored again after a lost acknowledgement, or a
// high-priority batch that overtook a bulk one, cannot bring back an older
// value. Deletes stay as tombstones for the same reason. Records that are not
// edge changes keep going to the record log (cloud/rec/...).
const metaState = "cloud/state/"

// stateKey is the metadata key of one edge key's latest change.
func stateKey(edge, kind, key string) []byte {
	return []byte(metaState + edge + "/" + kind + "/" + key)
}

// encodeChange is the stored form of a change.
func encodeChange(seq uint64, index uint32, c batch.Change) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 13+len(c.Bytes())), seq)
	b = binary.BigEndian.AppendUint32(b, index)
	if c.Op == batch.OpDelete {
		return append(b, 0)
	}
	return append(append(b, 1), c.Bytes()...)
}

var errBadState = errors.New("cloud: corrupt state entry")

// decodeChange splits a stored change; value is nil for a delete.
func decodeChange(b []byte) (seq uint64, index uint32, value []byte, err error) {
	if len(b) < 13 {
		return 0, 0, nil, errBadState
	}
	seq, index = binary.BigEndian.Uint64(b), binary.BigEndian.Uint32(b[8:])
	if b[12] == 0 {
		return seq, index, nil, nil
	}
	return seq, index, b[13:], nil
}

// newer reports whether the change (seq, index) may replace stored old.
func newer(old []byte, seq uint64, index uint32) bool {
	os, oi, _, err := decodeChange(old)
	return err != nil || seq > os || (seq == os && index >= oi)
}

// applyChange stores one change of edge id unless a newer one is stored.
func (s *Server) applyChange(id, kind string, seq uint64, index uint32, r batch.Change) error {
	key, val := stateKey(id, kind, r.Key), encodeChange(seq, index, r)
	if s.shared != nil {
		return s.shared.UpdateMeta(key, func(old []byte) ([]byte, error) {
			if old != nil && !newer(old, seq, index) {
				return old, nil
			}
			return val, nil
		})
	}
	// The embedded backend: the caller holds the edge's lock.
	old, err := s.db.Meta().Get(key)
	if err == nil && !newer(old, seq, index) {
		return nil
	}
	return s.db.Meta().Put(key, val)
}

// scanState calls fn with every live key of an edge's kind under prefix,
// in key order, starting after the key after.
func (s *Server) scanState(id, kind, prefix, after string, fn func(key string, seq uint64, value []byte) error) error {
	base := metaState + id + "/" + kind + "/"
	return s.db.Meta().Scan([]byte(base+prefix), func(k, v []byte) error {
		key := string(k[len(base):])
		if after != "" && key <= after {
			return nil
		}
		seq, _, value, err := decodeChange(v)
		if err != nil {
			return fmt.Errorf("state %q: %w", key, err)
		}
		if value == nil {
			return nil // deleted
		}
		return fn(key, seq, value)
	})
}

// StateEntry is one key in GET .../state.
type StateEntry struct {
	Key string `json:"key"`
	Seq uint64 `json:"seq"` // batch that last changed it
	// Value or ValueB64 hold the value, as in batch.Change.
	Value    json.RawMessage `json:"value,omitempty"`
	ValueB64 []byte          `json:"value_b64,omitempty"`
}

// state serves GET /api/v1/edges/{edge}/state?kind=&prefix=&after=&limit=:
// the current value of every key the edge synced, in key order, paged by
// key (next is the after of the next page, null at the end).
func (s *Server) state(w http.ResponseWriter, r *http.Request) error {
	id, q := r.PathValue("edge"), r.URL.Query()
	if s.edge(id) == nil {
		return fmt.Errorf("%w: edge %q", ErrNotFound, id)
	}
	if err := onlyParams(q, "kind", "prefix", "after", "limit"); err != nil {
		return err
	}
	kind := q.Get("kind")
	if !knownKinds[kind] || kind == "telemetry" {
		return fmt.Errorf("%w: kind: want registry, deadletters, alerts or commands", ErrBadRequest)
	}
	limit := 10000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100_000 {
			return fmt.Errorf("%w: limit: want 1..100000", ErrBadRequest)
		}
		limit = n
	}
	out, next := []StateEntry{}, any(nil)
	stop := errors.New("stop")
	err := s.scanState(id, kind, q.Get("prefix"), q.Get("after"), func(key string, seq uint64, v []byte) error {
		if len(out) == limit {
			next = out[len(out)-1].Key
			return stop
		}
		c := batch.PutChange(key, v) // copies v, out of the scan's buffer
		out = append(out, StateEntry{Key: key, Seq: seq, Value: c.Value, ValueB64: c.ValueB64})
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "next": next})
	return nil
}
