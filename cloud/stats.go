package cloud

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

// statsAggs are the aggregations /api/v1/stats computes, in answer order.
var statsAggs = []string{"count", "avg", "min", "max"}

// statsQuery is a parsed GET /api/v1/stats.
type statsQuery struct {
	metric, edge, device string
	typ                  string // device type (from the synced registries); "" for any
	from, to, step       int64  // step 0: one bucket for the whole range
	aggs                 []string
}

// Bucket is one time bucket of one edge in the stats answer. Avg, Min and
// Max are nil for a bucket without numeric points or when not asked for.
type Bucket struct {
	T     int64    `json:"t"`
	Count *int64   `json:"count,omitempty"`
	Avg   *float64 `json:"avg,omitempty"`
	Min   *float64 `json:"min,omitempty"`
	Max   *float64 `json:"max,omitempty"`
}

// EdgeStats is one edge in the stats answer.
type EdgeStats struct {
	Edge    string   `json:"edge"`
	Series  int      `json:"series"`
	Buckets []Bucket `json:"buckets"`
}

// Stats is the answer of GET /api/v1/stats.
type Stats struct {
	Metric string      `json:"metric"`
	From   int64       `json:"from"`
	To     int64       `json:"to"`
	Step   int64       `json:"step"`
	Edges  []EdgeStats `json:"edges"`
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) error {
	q, err := parseStats(r.URL.Query(), s.now())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	st, err := s.computeStats(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func parseStats(v url.Values, now time.Time) (statsQuery, error) {
	if err := checkParams(v, "metric", "from", "to", "step", "agg", "edge", "device", "type"); err != nil {
		return statsQuery{}, err
	}
	q := statsQuery{metric: v.Get("metric"), edge: v.Get("edge"), device: v.Get("device"), typ: v.Get("type"), aggs: statsAggs}
	if err := point.ValidName(q.metric); err != nil {
		return q, fmt.Errorf("metric: %v", err)
	}
	var err error
	q.to = now.UnixMilli()
	if t := v.Get("to"); t != "" {
		if q.to, err = parseMs(t); err != nil {
			return q, fmt.Errorf("to: %v", err)
		}
	}
	q.from = q.to - int64(time.Hour/time.Millisecond)
	if f := v.Get("from"); f != "" {
		if q.from, err = parseMs(f); err != nil {
			return q, fmt.Errorf("from: %v", err)
		}
	}
	if q.from >= q.to || q.from < minTime {
		return q, fmt.Errorf("from must be before to, within years 1 to 9999")
	}
	if st := v.Get("step"); st != "" {
		if q.step, err = parseStep(st); err != nil {
			return q, fmt.Errorf("step: %v", err)
		}
		if (q.to-q.from)/q.step > 100_000 {
			return q, fmt.Errorf("step makes more than 100000 buckets")
		}
	}
	if a := v.Get("agg"); a != "" {
		q.aggs = strings.Split(a, ",")
		for _, x := range q.aggs {
			if !slices.Contains(statsAggs, x) {
				return q, fmt.Errorf("agg: %q is not one of count, avg, min, max", x)
			}
		}
	}
	return q, nil
}

// Accepted times are years 1 to 9999, so range arithmetic cannot overflow.
const (
	minTime = -62135596800000
	maxTime = 253402300799999
)

// parseMs accepts Unix milliseconds or RFC 3339.
func parseMs(v string) (int64, error) {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t, terr := time.Parse(time.RFC3339Nano, v)
		if terr != nil {
			return 0, fmt.Errorf("want RFC 3339 or Unix milliseconds, got %q", v)
		}
		ms = t.UnixMilli()
	}
	if ms < minTime || ms > maxTime {
		return 0, fmt.Errorf("%q is outside years 1 to 9999", v)
	}
	return ms, nil
}

// parseStep accepts a Go duration or whole days ("7d").
func parseStep(v string) (int64, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days <= 0 || days > 100_000 {
			return 0, fmt.Errorf("bad day count %q", v)
		}
		return days * 24 * int64(time.Hour/time.Millisecond), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Millisecond || d%time.Millisecond != 0 {
		return 0, fmt.Errorf("want a positive duration in whole ms like 5m or 1d, got %q", v)
	}
	return d.Milliseconds(), nil
}

// acc accumulates one bucket over many series.
type acc struct {
	count, numeric int64
	sum, min, max  float64
}

func (s *Server) computeStats(ctx context.Context, q statsQuery) (Stats, error) {
	out := Stats{Metric: q.metric, From: q.from, To: q.to, Step: q.step, Edges: []EdgeStats{}}
	step := q.step
	if step == 0 {
		step = wholeRangeStep(q.from, q.to)
	}
	perEdge := map[string]map[int64]*acc{}
	series := map[string]int{}
	ofType, err := s.devicesOfType(q)
	if err != nil {
		return out, err
	}
	for _, si := range s.db.Series() {
		id := edgeOf(si.Tags)
		if si.Metric != q.metric || id == "" || (q.edge != "" && id != q.edge) || (q.device != "" && si.Device != q.device) {
			continue
		}
		if ofType != nil && !ofType[id+"\x00"+si.Device] {
			continue
		}
		if perEdge[id] == nil {
			perEdge[id] = map[int64]*acc{}
		}
		series[id]++
		if err := s.seriesStats(ctx, si, q, step, perEdge[id]); err != nil {
			return out, err
		}
	}
	for _, id := range sortedKeys(perEdge) {
		out.Edges = append(out.Edges, EdgeStats{Edge: id, Series: series[id], Buckets: buckets(perEdge[id], q)})
	}
	return out, nil
}

// devicesOfType is the set of edge+"\x00"+device of q's device type, nil
// when q names none.
func (s *Server) devicesOfType(q statsQuery) (map[string]bool, error) {
	if q.typ == "" {
		return nil, nil
	}
	ds, err := s.fleetDevices(q.edge, q.typ)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(ds))
	for _, d := range ds {
		set[d.Edge+"\x00"+d.ID] = true
	}
	return set, nil
}

// wholeRangeStep picks a bucket width for a stats query without a step; the
// buckets are merged into one afterwards, so any width with few buckets will
// do, and a rollup tier lets the store answer from rollups.
func wholeRangeStep(from, to int64) int64 {
	step := store.Tier1h
	if to-from < 10*step {
		step = store.Tier1m
	}
	for (to-from)/step > 10_000 {
		step *= 24
	}
	return step
}

func (s *Server) seriesStats(ctx context.Context, si store.SeriesInfo, q statsQuery, step int64, into map[int64]*acc) error {
	base := store.Query{Device: si.Device, Metric: si.Metric, Tags: si.Tags, From: q.from, To: q.to, Step: step}
	aggs := []store.Agg{store.AggCount}
	if si.Kind.Numeric() {
		aggs = append(aggs, store.AggSum, store.AggMin, store.AggMax)
	}
	for _, a := range aggs {
		sq := base
		sq.Agg = a
		res, err := s.db.Query(ctx, sq)
		if err != nil {
			return fmt.Errorf("stats of %s/%s: %w", si.Device, si.Metric, err)
		}
		for _, smp := range res.Samples {
			t := smp.T
			if q.step == 0 {
				t = q.from
			}
			addSample(into, t, a, smp.V, si.Kind.Numeric())
		}
	}
	return nil
}

func addSample(into map[int64]*acc, t int64, a store.Agg, v point.Value, numeric bool) {
	b := into[t]
	if b == nil {
		b = &acc{min: math.Inf(1), max: math.Inf(-1)}
		into[t] = b
	}
	f, _ := v.AsFloat()
	switch a {
	case store.AggCount:
		b.count += v.Int()
		if numeric {
			b.numeric += v.Int()
		}
	case store.AggSum:
		b.sum += f
	case store.AggMin:
		b.min = min(b.min, f)
	case store.AggMax:
		b.max = max(b.max, f)
	}
}

func buckets(m map[int64]*acc, q statsQuery) []Bucket {
	out := make([]Bucket, 0, len(m))
	for _, t := range sortedKeys(m) {
		a := m[t]
		b := Bucket{T: t}
		for _, x := range q.aggs {
			switch {
			case x == "count":
				b.Count = &a.count
			case a.numeric == 0:
			case x == "avg":
				b.Avg = finite(a.sum / float64(a.numeric))
			case x == "min":
				b.Min = finite(a.min)
			case x == "max":
				b.Max = finite(a.max)
			}
		}
		out = append(out, b)
	}
	return out
}

// finite returns &f, or nil for NaN and infinities, which JSON cannot carry.
func finite(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

func edgeOf(tags []point.Tag) string {
	for _, t := range tags {
		if t.Key == EdgeTag {
			return t.Value
		}
	}
	return ""
}

func sortedKeys[K string | int64, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
