package cloud

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/point"
)

// EdgeTag is the tag the cloud adds to every stored reading to name the edge
// it came from. A reading that already carries it is rejected.
const EdgeTag = "_edge"

// knownKinds are the batch kinds the cloud stores.
var knownKinds = map[string]bool{
	batch.KindTelemetry: true, batch.KindRegistry: true, batch.KindDeadLetters: true,
	batch.KindAlerts: true, batch.KindCommands: true,
}

// IngestResult is the answer to an accepted POST /api/v1/ingest.
type IngestResult struct {
	Acked     uint64 `json:"acked"`
	Duplicate bool   `json:"duplicate,omitempty"` // already stored; nothing changed
	Stored    int    `json:"stored"`              // readings and records stored
	Rejected  int    `json:"rejected,omitempty"`  // readings the store refused
}

func (s *Server) ingest(w http.ResponseWriter, r *http.Request) error {
	res, err := s.ingestRequest(w, r)
	if err != nil {
		code, kind := statusOf(err)
		s.metrics.batches.WithLabelValues(strconv.Itoa(code) + "_" + kind).Inc()
		return err
	}
	result := "ok"
	if res.Duplicate {
		result = "duplicate"
	}
	s.metrics.batches.WithLabelValues(result).Inc()
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) ingestRequest(w http.ResponseWriter, r *http.Request) (IngestResult, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		return IngestResult{}, fmt.Errorf("read body: %w", err)
	}
	id, seq, err := batch.VerifyRequest(r, body, s.lookup, s.now(), s.cfg.Skew, s.nonces)
	if err != nil {
		return IngestResult{}, err
	}
	if seq == 0 {
		return IngestResult{}, fmt.Errorf("%w: sequence 0 (sequences start at 1)", ErrBadRequest)
	}
	return s.apply(r.Context(), id, seq, body)
}

// apply stores batch seq of edge id unless it is already acknowledged.
func (s *Server) apply(ctx context.Context, id string, seq uint64, body []byte) (IngestResult, error) {
	e := s.edge(id)
	keys, _ := s.lookup(id)
	e.mu.Lock()
	defer e.mu.Unlock()
	acked, err := s.ackedOf(e)
	if err != nil {
		return IngestResult{}, err
	}
	if acked.has(seq) {
		return IngestResult{Acked: seq, Duplicate: true}, nil
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return IngestResult{}, fmt.Errorf("wait for an ingest slot: %w", ctx.Err())
	}
	b, err := batch.Open(body, keys, s.cfg.limits())
	if err != nil {
		return IngestResult{}, err
	}
	if err := checkHeader(b.Header, id, seq); err != nil {
		return IngestResult{}, err
	}
	res, err := s.store(id, b)
	if err != nil {
		return IngestResult{}, err
	}
	if err := s.saveAcked(e, seq); err != nil {
		return IngestResult{}, fmt.Errorf("save acked set: %w", err)
	}
	res.Acked = seq
	return res, nil
}

func checkHeader(h batch.Header, id string, seq uint64) error {
	if h.EdgeID != id || h.Seq != seq {
		return fmt.Errorf("%w: batch header says %s, request says %s", batch.ErrBadBatch,
			batch.IdempotencyKey(h.EdgeID, h.Seq), batch.IdempotencyKey(id, seq))
	}
	if !knownKinds[h.Kind] {
		return fmt.Errorf("%w: unknown batch kind %q", batch.ErrBadBatch, h.Kind)
	}
	return nil
}

// store writes the readings and records of one batch. Both writes are
// idempotent, so a batch stored again after a crash before its
// acknowledgement was saved changes nothing.
func (s *Server) store(id string, b batch.Batch) (IngestResult, error) {
	var res IngestResult
	if len(b.Readings) > 0 {
		tagReadings(b.Readings, id)
		ar, err := s.db.Append(b.Readings)
		if err != nil {
			return res, fmt.Errorf("store readings: %w", err)
		}
		res.Stored, res.Rejected = ar.Stored, len(ar.Rejected)
		s.metrics.points.Add(float64(ar.Stored))
		s.metrics.rejected.Add(float64(len(ar.Rejected)))
		if len(ar.Rejected) > 0 {
			s.log.Warn("readings refused", "edge", id, "seq", b.Header.Seq,
				"count", len(ar.Rejected), "first", ar.Rejected[0].Err)
		}
	}
	meta := s.db.Meta()
	for i, rec := range b.Records {
		if r, ok := batch.ParseChange(rec); ok {
			if err := s.applyChange(id, b.Header.Kind, b.Header.Seq, uint32(i), r); err != nil {
				return res, fmt.Errorf("store change: %w", err)
			}
			continue
		}
		if err := meta.Put(recordKey(id, b.Header.Kind, b.Header.Seq, uint32(i)), rec); err != nil {
			return res, fmt.Errorf("store record: %w", err)
		}
	}
	res.Stored += len(b.Records)
	return res, nil
}

// recordKey is cloud/rec/<edge>/<kind>/<seq uint64 BE><index uint32 BE>.
func recordKey(id, kind string, seq uint64, i uint32) []byte {
	k := []byte(metaRec + id + "/" + kind + "/")
	k = binary.BigEndian.AppendUint64(k, seq)
	return binary.BigEndian.AppendUint32(k, i)
}

// tagReadings adds the edge tag to every reading. Readings of one series
// share their tag slice after batch.Open, so the tagged slice is shared too.
// A reading that already had the tag gets it twice, fails validation in the
// store and is counted as rejected.
func tagReadings(rs []point.Reading, id string) {
	done := map[*point.Tag][]point.Tag{}
	plain := withEdgeTag(nil, id)
	for i := range rs {
		tags := rs[i].Tags
		if len(tags) == 0 {
			rs[i].Tags = plain
			continue
		}
		t, ok := done[&tags[0]]
		if !ok || len(t) != len(tags)+1 {
			t = withEdgeTag(tags, id)
			done[&tags[0]] = t
		}
		rs[i].Tags = t
	}
}

// withEdgeTag returns a copy of sorted tags with the edge tag inserted.
func withEdgeTag(tags []point.Tag, id string) []point.Tag {
	j, _ := slices.BinarySearchFunc(tags, EdgeTag, func(t point.Tag, k string) int {
		return strings.Compare(t.Key, k)
	})
	out := make([]point.Tag, 0, len(tags)+1)
	out = append(out, tags[:j]...)
	out = append(out, point.Tag{Key: EdgeTag, Value: id})
	return append(out, tags[j:]...)
}
