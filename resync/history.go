package resync

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

type seriesInfo struct {
	Device string            `json:"device"`
	Metric string            `json:"metric"`
	Tags   map[string]string `json:"tags"`
	Kind   string            `json:"kind"`
	MinT   int64             `json:"min_t"`
	MaxT   int64             `json:"max_t"`
}

// history copies every series' points in [From, To) into db.
func (c client) history(ctx context.Context, db *store.DB, sum *Summary) error {
	var series []seriesInfo
	if err := c.get(ctx, "/api/v1/edges/"+url.PathEscape(c.o.Edge)+"/series", nil, &series); err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	for _, s := range series {
		if (s.MaxT != 0 && s.MaxT < c.o.From) || (s.MinT != 0 && s.MinT >= c.o.To) {
			continue
		}
		n, err := c.copySeries(ctx, db, s)
		if err != nil {
			return fmt.Errorf("resync %s/%s: %w", s.Device, s.Metric, err)
		}
		if n > 0 {
			sum.Series++
			sum.Points += n
		}
	}
	return nil
}

type page struct {
	Kind   string               `json:"kind"`
	Points [][2]json.RawMessage `json:"points"`
	Next   json.RawMessage      `json:"next"`
}

// copySeries pages through one series and appends its points.
func (c client) copySeries(ctx context.Context, db *store.DB, s seriesInfo) (int, error) {
	tags := make([]point.Tag, 0, len(s.Tags))
	for k, v := range s.Tags {
		tags = append(tags, point.Tag{Key: k, Value: v})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	from, n := c.o.From, 0
	for {
		q := url.Values{"device": {s.Device}, "metric": {s.Metric}, "limit": {"100000"},
			"from": {strconv.FormatInt(from, 10)}, "to": {strconv.FormatInt(c.o.To, 10)}}
		for _, t := range tags {
			q.Set("tag."+t.Key, t.Value)
		}
		var p page
		if err := c.get(ctx, "/api/v1/edges/"+url.PathEscape(c.o.Edge)+"/query", q, &p); err != nil {
			return n, err
		}
		rs := make([]point.Reading, 0, len(p.Points))
		for _, pt := range p.Points {
			r, err := reading(s, tags, pt)
			if err != nil {
				return n, err
			}
			rs = append(rs, r)
		}
		if len(rs) > 0 {
			res, err := db.Append(rs)
			if err != nil {
				return n, err
			}
			if len(res.Rejected) > 0 {
				return n, fmt.Errorf("store refused %d points: %v", len(res.Rejected), res.Rejected[0].Err)
			}
			n += res.Stored
		}
		next, ok := nextFrom(p.Next)
		if !ok || len(rs) == 0 {
			return n, nil
		}
		from = next
	}
}

// reading decodes one [timestamp_ms, value] pair of a series of kind s.Kind.
func reading(s seriesInfo, tags []point.Tag, pt [2]json.RawMessage) (point.Reading, error) {
	r := point.Reading{Device: s.Device, Metric: s.Metric, Tags: tags}
	ts, err := strconv.ParseInt(string(pt[0]), 10, 64)
	if err != nil {
		return r, fmt.Errorf("timestamp %s: %w", pt[0], err)
	}
	r.Time = ts
	raw := string(pt[1])
	switch s.Kind {
	case "float":
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return r, fmt.Errorf("value %s: %w", raw, err)
		}
		r.Value = point.Float(f)
	case "int":
		i, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return r, fmt.Errorf("value %s: %w", raw, err)
		}
		r.Value = point.Int(i)
	case "bool":
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return r, fmt.Errorf("value %s: %w", raw, err)
		}
		r.Value = point.Bool(b)
	default:
		var str string
		if err := json.Unmarshal(pt[1], &str); err != nil {
			return r, fmt.Errorf("value %s: %w", raw, err)
		}
		r.Value = point.String(str)
	}
	return r, nil
}

// nextFrom reads the next-page cursor: the path of the next page (from=).
func nextFrom(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		u, err := url.Parse(s)
		if err != nil {
			return 0, false
		}
		v, err := strconv.ParseInt(u.Query().Get("from"), 10, 64)
		return v, err == nil
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	return v, err == nil
}
