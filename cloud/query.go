package cloud

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/edgevault/edgevault/api"
	"github.com/edgevault/edgevault/store"
)

// edgeQuerier answers queries on one edge's series by adding its tag.
type edgeQuerier struct {
	db Backend
	id string
}

func (q edgeQuerier) Query(ctx context.Context, sq store.Query) (store.Result, error) {
	for _, t := range sq.Tags {
		if t.Key == EdgeTag {
			return store.Result{}, fmt.Errorf("%w: tag %s is reserved", store.ErrBadQuery, EdgeTag)
		}
	}
	sq.Tags = withEdgeTag(sq.Tags, q.id)
	return q.db.Query(ctx, sq)
}

// edgeQuery serves GET /api/v1/edges/{edge}/query with the edge API's own
// /api/v1/query handler (same parameters, same answer), scoped to the edge.
func (s *Server) edgeQuery(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("edge")
	e := s.edge(id)
	if e == nil {
		return fmt.Errorf("%w: edge %q", ErrNotFound, id)
	}
	e.queryOnce.Do(func() {
		e.query = api.New(api.Deps{Query: edgeQuerier{db: s.db, id: id}, Logger: s.log, Now: s.now})
	})
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = "/api/v1/query", ""
	e.query.ServeHTTP(w, r2)
	return nil
}

// Record is one synced non-telemetry record in GET .../records.
type Record struct {
	Seq    uint64 `json:"seq"`
	Index  uint32 `json:"index"`
	Record any    `json:"record"` // the JSON the edge sent; a string if it is not JSON
}

// records serves GET /api/v1/edges/{edge}/records?kind=&after=&limit=, in
// sequence order; after is the last sequence already seen, and with
// after_index the last record seen within it (a page may end inside a
// batch): the next page starts after (after, after_index).
func (s *Server) records(w http.ResponseWriter, r *http.Request) error {
	id, q := r.PathValue("edge"), r.URL.Query()
	if s.edge(id) == nil {
		return fmt.Errorf("%w: edge %q", ErrNotFound, id)
	}
	kind := q.Get("kind")
	if !knownKinds[kind] || kind == "telemetry" {
		return fmt.Errorf("%w: kind: want registry, deadletters, alerts or commands", ErrBadRequest)
	}
	after, err := uintParam(q.Get("after"), 0)
	if err != nil {
		return fmt.Errorf("%w: after: %v", ErrBadRequest, err)
	}
	afterIndex, err := uintParam(q.Get("after_index"), 1<<32-1)
	if err != nil || afterIndex > 1<<32-1 {
		return fmt.Errorf("%w: after_index: want a record index", ErrBadRequest)
	}
	limit, err := uintParam(q.Get("limit"), 1000)
	if err != nil || limit == 0 || limit > 100_000 {
		return fmt.Errorf("%w: limit: want 1..100000", ErrBadRequest)
	}
	out := []Record{}
	prefix := []byte(metaRec + id + "/" + kind + "/")
	stop := errors.New("stop")
	err = s.db.Meta().Scan(prefix, func(k, v []byte) error {
		k = k[len(prefix):]
		if len(k) != 12 {
			return nil
		}
		rec := Record{Seq: binary.BigEndian.Uint64(k), Index: binary.BigEndian.Uint32(k[8:]), Record: rawOrString(v)}
		if rec.Seq < after || (rec.Seq == after && uint64(rec.Index) <= afterIndex) {
			return nil
		}
		if uint64(len(out)) == limit {
			return stop
		}
		out = append(out, rec)
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return fmt.Errorf("list records: %w", err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func uintParam(v string, def uint64) (uint64, error) {
	if v == "" {
		return def, nil
	}
	return strconv.ParseUint(v, 10, 64)
}

// rawOrString passes valid JSON through and quotes anything else.
func rawOrString(v []byte) any {
	if json.Valid(v) {
		return json.RawMessage(bytes.Clone(v)) // v is the scan's buffer
	}
	return string(v)
}

// SeriesInfo is one series of an edge in GET .../series; Tags exclude the
// edge tag.
type SeriesInfo struct {
	Device string            `json:"device"`
	Metric string            `json:"metric"`
	Tags   map[string]string `json:"tags,omitempty"`
	Kind   string            `json:"kind"`
	MinT   int64             `json:"min_t"` // Unix ms of the oldest point (0 if none)
	MaxT   int64             `json:"max_t"` // Unix ms of the newest point (0 if none)
}

// edgeSeries serves GET /api/v1/edges/{edge}/series: every series stored
// for the edge, for browsing and for restoring a replacement edge node.
func (s *Server) edgeSeries(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("edge")
	if s.edge(id) == nil {
		return fmt.Errorf("%w: edge %q", ErrNotFound, id)
	}
	out := []SeriesInfo{}
	for _, si := range s.db.Series() {
		var mine bool
		var tags map[string]string
		for _, t := range si.Tags {
			if t.Key == EdgeTag {
				mine = t.Value == id
				continue
			}
			if tags == nil {
				tags = map[string]string{}
			}
			tags[t.Key] = t.Value
		}
		if mine {
			out = append(out, SeriesInfo{Device: si.Device, Metric: si.Metric, Tags: tags,
				Kind: si.Kind.String(), MinT: si.MinT, MaxT: si.MaxT})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
