package registry

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/edgevault/edgevault/point"
)

// TimeFormat is how device times appear in JSON: RFC 3339 with milliseconds, UTC.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Device is a snapshot of one device as the API serves it.
type Device struct {
	ID        string
	Name      string
	Type      string
	Meta      map[string]string
	Contract  string
	ClientID  string
	FirstSeen time.Time
	LastSeen  time.Time
	Online    bool
	Series    []Series // sorted by metric, then tags
}

// Series is one series of a device with its latest value.
type Series struct {
	Metric string
	Tags   []point.Tag
	Kind   point.Kind
	LastT  int64 // Unix ms of the latest reading
	Last   point.Value
}

type seriesJSON struct {
	Metric string            `json:"metric"`
	Tags   map[string]string `json:"tags,omitempty"`
	Kind   string            `json:"kind"`
	Last   lastJSON          `json:"last"`
}

type lastJSON struct {
	T int64       `json:"t"`
	V point.Value `json:"v"`
}

type deviceJSON struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Type      string            `json:"type"`
	Meta      map[string]string `json:"meta"`
	Contract  string            `json:"contract"`
	ClientID  string            `json:"client_id"`
	FirstSeen string            `json:"first_seen"`
	LastSeen  string            `json:"last_seen"`
	Online    bool              `json:"online"`
	Series    []seriesJSON      `json:"series"`
}

// MarshalJSON writes the documented API shape.
func (d Device) MarshalJSON() ([]byte, error) {
	j := deviceJSON{ID: d.ID, Name: d.Name, Type: d.Type, Meta: d.Meta, Contract: d.Contract,
		ClientID: d.ClientID, FirstSeen: fmtTime(d.FirstSeen), LastSeen: fmtTime(d.LastSeen),
		Online: d.Online, Series: make([]seriesJSON, len(d.Series))}
	if j.Meta == nil {
		j.Meta = map[string]string{}
	}
	for i, s := range d.Series {
		j.Series[i] = seriesJSON{Metric: s.Metric, Tags: tagMap(s.Tags), Kind: s.Kind.String(),
			Last: lastJSON{T: s.LastT, V: s.Last}}
	}
	return json.Marshal(j)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

func tagMap(tags []point.Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// record is the persisted form of a device: everything but the online state,
// which is derived again after a restart.
type record struct {
	ID        string            `json:"id"`
	Name      string            `json:"name,omitempty"`
	Type      string            `json:"type,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	Contract  string            `json:"contract,omitempty"`
	ClientID  string            `json:"client_id,omitempty"`
	FirstSeen int64             `json:"first_seen"`
	LastSeen  int64             `json:"last_seen"`
	Series    []seriesRecord    `json:"series,omitempty"`
}

type seriesRecord struct {
	Metric string      `json:"m"`
	Tags   []point.Tag `json:"tags,omitempty"`
	Kind   point.Kind  `json:"k"`
	T      int64       `json:"t"`
	Num    uint64      `json:"n,omitempty"` // float bits, int bits or bool
	Str    string      `json:"s,omitempty"`
}

func encodeValue(v point.Value) (num uint64, str string) {
	switch v.Kind() {
	case point.KindFloat:
		return v.FloatBits(), ""
	case point.KindInt:
		return uint64(v.Int()), ""
	case point.KindBool:
		if v.Bool() {
			return 1, ""
		}
		return 0, ""
	}
	return 0, v.Str()
}

func decodeValue(k point.Kind, num uint64, str string) (point.Value, error) {
	switch k {
	case point.KindFloat:
		return point.Float(math.Float64frombits(num)), nil
	case point.KindInt:
		return point.Int(int64(num)), nil
	case point.KindBool:
		return point.Bool(num != 0), nil
	case point.KindString:
		return point.String(str), nil
	}
	return point.Value{}, fmt.Errorf("unknown kind %d", k)
}

func sortSeries(s []Series) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Metric != s[j].Metric {
			return s[i].Metric < s[j].Metric
		}
		return point.SeriesKey("", "", s[i].Tags) < point.SeriesKey("", "", s[j].Tags)
	})
}
