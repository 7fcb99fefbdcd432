package api

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

func TestParseQuery(t *testing.T) {
	nowMs := now.UnixMilli()
	cases := []struct {
		name string
		q    string
		want store.Query
	}{
		{"defaults", "device=d&metric=m", store.Query{Device: "d", Metric: "m", From: nowMs - 3600000, To: nowMs}},
		{"unix ms", "device=d&metric=m&from=10&to=20&limit=5", store.Query{Device: "d", Metric: "m", From: 10, To: 20, Limit: 5}},
		{"rfc3339", "device=d&metric=m&from=1970-01-01T00:00:01Z&to=1970-01-01T00:00:02.5%2B00:00",
			store.Query{Device: "d", Metric: "m", From: 1000, To: 2500}},
		{"only to", "device=d&metric=m&to=7200000", store.Query{Device: "d", Metric: "m", From: 3600000, To: 7200000}},
		{"step default avg", "device=d&metric=m&from=0&to=86400000&step=1m",
			store.Query{Device: "d", Metric: "m", To: 86400000, Step: 60000, Agg: store.AggAvg}},
		{"step days", "device=d&metric=m&from=0&to=864000000&step=1d&agg=max",
			store.Query{Device: "d", Metric: "m", To: 864000000, Step: 86400000, Agg: store.AggMax}},
		{"tags sorted", "device=d&metric=m&from=0&to=1&tag.z=1&tag.a=2",
			store.Query{Device: "d", Metric: "m", To: 1, Tags: []point.Tag{{Key: "a", Value: "2"}, {Key: "z", Value: "1"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := url.ParseQuery(tc.q)
			got, err := parseQuery(v, now)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestQueryBadParams(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ name, q, want string }{
		{"no device", "metric=m", "device: empty name"},
		{"no metric", "device=d", "metric: empty name"},
		{"control char", "device=d%01&metric=m", "control character"},
		{"bad from", "device=d&metric=m&from=yesterday", "from: want RFC 3339 or Unix milliseconds"},
		{"bad to", "device=d&metric=m&to=2026-13-01", "to: want RFC 3339"},
		{"year out of range", "device=d&metric=m&to=9223372036854775807", "outside years"},
		{"from after to", "device=d&metric=m&from=10&to=5", "must be before to"},
		{"empty range", "device=d&metric=m&from=5&to=5", "must be before to"},
		{"negative step", "device=d&metric=m&step=-1m&agg=avg", "positive whole number of milliseconds"},
		{"sub-ms step", "device=d&metric=m&step=1500us", "positive whole number"},
		{"bad step", "device=d&metric=m&step=often", "want a duration"},
		{"bad days", "device=d&metric=m&step=xd", "bad day count"},
		{"too many buckets", "device=d&metric=m&from=0&to=100000000000&step=1ms", "buckets"},
		{"bad agg", "device=d&metric=m&step=1m&agg=median", "unknown aggregation"},
		{"agg without step", "device=d&metric=m&agg=avg", "needs a step"},
		{"negative limit", "device=d&metric=m&limit=-3", "limit: want an integer"},
		{"zero limit", "device=d&metric=m&limit=0", "limit: want an integer"},
		{"huge limit", "device=d&metric=m&limit=1000001", "limit: want an integer"},
		{"unknown param", "device=d&metric=m&form=1", `unknown parameter "form"`},
		{"repeated param", "device=d&device=e&metric=m", "given 2 times"},
		{"empty tag key", "device=d&metric=m&tag.=x", "tag key: empty name"},
		{"empty tag value", "device=d&metric=m&tag.k=", "tag k: empty name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(t, "GET", "/api/v1/query?"+tc.q, "")
			if rec.Code != 400 {
				t.Fatalf("status %d body %s", rec.Code, rec.Body)
			}
			if msg := errorOf(t, rec); !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q lacks %q", msg, tc.want)
			}
		})
	}
}

func TestQueryAnswer(t *testing.T) {
	e := newEnv(t)
	e.q.res = store.Result{Kind: point.KindFloat, Source: "raw", Next: 30,
		Samples: []store.Sample{{T: 10, V: point.Float(1.5)}, {T: 20, V: point.Float(2)}}}
	rec := e.do(t, "GET", "/api/v1/query?device=d&metric=m&from=0&to=100&limit=2&tag.ch=1", "")
	want := `{"device":"d","metric":"m","tags":{"ch":"1"},"kind":"float","source":"raw","points":[[10,1.5],[20,2]],` +
		`"next":"/api/v1/query?device=d\u0026from=30\u0026limit=2\u0026metric=m\u0026tag.ch=1\u0026to=100"}` + "\n"
	if rec.Code != 200 || rec.Body.String() != want {
		t.Fatalf("status %d\n got %s\nwant %s", rec.Code, rec.Body, want)
	}
	if e.q.last.Limit != 2 || e.q.last.Tags[0].Key != "ch" {
		t.Fatalf("query %+v", e.q.last)
	}
	e.q.res, e.q.err = store.Result{}, store.ErrBadQuery
	if rec := e.do(t, "GET", "/api/v1/query?device=d&metric=m", ""); rec.Code != 400 {
		t.Fatalf("store bad query: status %d", rec.Code)
	}
	e.q.err = errors.New("disk on fire")
	if rec := e.do(t, "GET", "/api/v1/query?device=d&metric=m", ""); rec.Code != 500 || errorOf(t, rec) != "internal error" {
		t.Fatalf("store failure: status %d %s", rec.Code, rec.Body)
	}
}

func TestQueryUnknownSeries(t *testing.T) {
	e := newEnv(t)
	e.q.res = store.Result{Source: "raw"}
	rec := e.do(t, "GET", "/api/v1/query?device=d&metric=m", "")
	var a struct {
		Kind   *string `json:"kind"`
		Points [][2]any
		Next   *string
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || a.Kind != nil || a.Points == nil || len(a.Points) != 0 || a.Next != nil {
		t.Fatalf("%s %v", rec.Body, err)
	}
}

// FuzzQueryParams: parsing never panics and returns either a 400-class
// error or a query the store accepts.
func FuzzQueryParams(f *testing.F) {
	for _, s := range []string{"device=d&metric=m", "device=d&metric=m&from=0&to=100&step=1m&agg=sum",
		"device=d&metric=m&from=2026-01-01T00:00:00Z&step=1d", "tag.a=1&device=x&metric=y&limit=10",
		"device=d&metric=m&to=-62135596800000", "step=9223372036854775807ns&device=d&metric=m", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseQuery(v, now)
		if err != nil {
			if statusOf(err) != 400 {
				t.Fatalf("error %v maps to %d", err, statusOf(err))
			}
			return
		}
		if q.From >= q.To || q.Step < 0 || (q.Step > 0 && (q.To-q.From)/q.Step > store.MaxLimit) ||
			q.Limit < 0 || q.Limit > store.MaxLimit || (q.Step == 0) != (q.Agg == "") {
			t.Fatalf("invalid query %+v from %q", q, raw)
		}
		r := point.Reading{Device: q.Device, Metric: q.Metric, Tags: q.Tags, Value: point.Int(0)}
		if err := r.Validate(); err != nil {
			t.Fatalf("series of %q: %v", raw, err)
		}
	})
}
