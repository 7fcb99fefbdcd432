package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

const t0 = int64(1_700_000_000_000) // 2023-11-14T22:13:20Z

var edgeTags = []point.Tag{{Key: EdgeTag, Value: "e1"}, {Key: "room", Value: "kitchen"}}

// mixed is readings of every kind over two days, unsorted, with a
// duplicate timestamp (the last value wins) and an int in a float series.
func mixed() []point.Reading {
	var rs []point.Reading
	for i := range 600 {
		t := t0 + int64(i)*337_000 // spans ~2.3 days
		rs = append(rs,
			point.Reading{Device: "d1", Metric: "temp", Tags: edgeTags, Time: t, Value: point.Float(20 + float64(i%13)/4)},
			point.Reading{Device: "d1", Metric: "count", Time: t, Value: point.Int(int64(i * i % 97))},
			point.Reading{Device: "d2", Metric: "on", Time: t, Value: point.Bool(i%3 == 0)},
			point.Reading{Device: "d2", Metric: "state", Time: t, Value: point.String(fmt.Sprintf("s%d", i%5))},
		)
	}
	slices.Reverse(rs)
	rs = append(rs, point.Reading{Device: "d1", Metric: "temp", Tags: edgeTags, Time: t0, Value: point.Int(99)}, point.Reading{Device: "d1", Metric: "temp", Tags: edgeTags, Time: t0 + 337_000, Value: point.Float(-1.5)})
	return rs
}

// TestAgainstEmbedded stores the same readings in PostgreSQL and the
// embedded store and expects the same answer to every query.
func TestAgainstEmbedded(t *testing.T) {
	pg, _ := open(t, nil)
	emb, err := store.Open(t.TempDir(), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	rs := mixed()
	for _, b := range [][]point.Reading{rs[:1000], rs[1000:]} {
		want, err1 := emb.Append(b)
		got, err2 := pg.Append(b)
		if err1 != nil || err2 != nil || got.Stored != want.Stored || len(got.Rejected) != len(want.Rejected) {
			t.Fatalf("append: pg %+v %v, embedded %+v %v", got, err2, want, err1)
		}
	}
	series := []struct {
		dev, metric string
		tags        []point.Tag
	}{{"d1", "temp", edgeTags}, {"d1", "count", nil}, {"d2", "on", nil}, {"d2", "state", nil}}
	for _, s := range series {
		for _, q := range queries(s.dev, s.metric, s.tags) {
			name := fmt.Sprintf("%s/%s step=%d agg=%s limit=%d from=%d", s.dev, s.metric, q.Step, q.Agg, q.Limit, q.From-t0)
			want, err1 := emb.Query(context.Background(), q)
			got, err2 := pg.Query(context.Background(), q)
			if !errors.Is(err2, store.ErrBadQuery) && !errors.Is(err1, store.ErrBadQuery) && (err1 != nil || err2 != nil) {
				t.Fatalf("%s: pg %v, embedded %v", name, err2, err1)
			}
			if (err1 == nil) != (err2 == nil) {
				t.Fatalf("%s: pg err %v, embedded err %v", name, err2, err1)
			}
			sameResult(t, name, got, want)
		}
	}
}

func queries(dev, metric string, tags []point.Tag) []store.Query {
	base := store.Query{Device: dev, Metric: metric, Tags: tags, From: t0 - 1000, To: t0 + 3*86_400_000}
	var qs []store.Query
	for _, lim := range []int{0, 1, 250} {
		q := base
		q.Limit = lim
		qs = append(qs, q)
	}
	mid := base
	mid.From, mid.To = t0+5_000_000, t0+90_000_000
	qs = append(qs, mid)
	for _, step := range []int64{60_000, 3_600_000, 7 * 60_000, 86_400_000, 5 * 86_400_000} {
		for _, a := range []store.Agg{store.AggCount, store.AggSum, store.AggAvg, store.AggMin, store.AggMax, store.AggFirst, store.AggLast} {
			q := base
			q.Step, q.Agg = step, a
			qs = append(qs, q)
			q.From, q.To = mid.From, mid.To
			qs = append(qs, q)
		}
	}
	return qs
}

func sameResult(t *testing.T, name string, got, want store.Result) {
	t.Helper()
	if got.Kind != want.Kind || got.Next != want.Next || len(got.Samples) != len(want.Samples) {
		t.Fatalf("%s: got kind %v next %d n %d, want kind %v next %d n %d", name,
			got.Kind, got.Next, len(got.Samples), want.Kind, want.Next, len(want.Samples))
	}
	for i, g := range got.Samples {
		w := want.Samples[i]
		if g.T != w.T || !sameValue(g.V, w.V) {
			t.Fatalf("%s: sample %d = %d %v, want %d %v", name, i, g.T, g.V, w.T, w.V)
		}
	}
}

// sameValue allows float sums to differ in the last bits (summation order).
func sameValue(a, b point.Value) bool {
	if a.Kind() == point.KindFloat && b.Kind() == point.KindFloat {
		return math.Abs(a.Float()-b.Float()) <= 1e-9*math.Max(1, math.Abs(b.Float()))
	}
	return a.Equal(b)
}

func TestRejections(t *testing.T) {
	db, _ := open(t, nil)
	rs := []point.Reading{
		{Device: "d", Metric: "m", Time: t0, Value: point.Float(1)},
		{Device: "d", Metric: "m", Time: t0 + 1, Value: point.String("x")}, // kind conflict
		{Device: "", Metric: "m", Time: t0, Value: point.Float(1)},         // invalid name
		{Device: "d", Metric: "m", Time: t0 + 2},                           // invalid value
		{Device: "d", Metric: "m", Time: math.MaxInt64, Value: point.Float(1)},
		{Device: "d", Metric: "m", Time: t0 + 3, Value: point.Int(7)}, // converted
	}
	res, err := db.Append(rs)
	if err != nil {
		t.Fatal(err)
	}
	var idx []int
	for _, r := range res.Rejected {
		idx = append(idx, r.Index)
	}
	if res.Stored != 2 || !slices.Equal(idx, []int{1, 2, 3, 4}) || !errors.Is(res.Rejected[0].Err, store.ErrKindConflict) ||
		!errors.Is(res.Rejected[1].Err, store.ErrInvalidReading) {
		t.Fatalf("append = %+v", res)
	}
	got, err := db.Query(context.Background(), store.Query{Device: "d", Metric: "m", From: t0, To: t0 + 10})
	if err != nil || len(got.Samples) != 2 || got.Samples[1].V != point.Float(7) {
		t.Fatalf("query = %+v, %v", got, err)
	}
	if _, err := db.Query(context.Background(), store.Query{Device: "d", Metric: "m", From: 5, To: 5}); !errors.Is(err, store.ErrBadQuery) {
		t.Fatalf("empty range: %v", err)
	}
}

// TestIdempotentRetry sends a batch twice: the second changes no row
// (every row keeps the transaction id that wrote it).
func TestIdempotentRetry(t *testing.T) {
	db, _ := open(t, nil)
	rs := mixed()
	if _, err := db.Append(rs); err != nil {
		t.Fatal(err)
	}
	const state = "SELECT count(*)::text || '/' || string_agg(xmin::text, ',' ORDER BY series_id, ts) FROM edgevault.points"
	before := scalar[string](t, db, state)
	res, err := db.Append(rs)
	if err != nil || res.Stored != len(rs) {
		t.Fatalf("retry: stored %d, %d rejected, %v", res.Stored, len(res.Rejected), err)
	}
	if after := scalar[string](t, db, state); after != before {
		t.Fatal("retry rewrote rows")
	}
	if n := scalar[int64](t, db, "SELECT count(*) FROM edgevault.points"); n != 2400 {
		t.Fatalf("%d rows, want 2400", n)
	}
	rs[len(rs)-1].Value = point.Float(42) // a changed value is an update
	if _, err := db.Append(rs[len(rs)-1:]); err != nil {
		t.Fatal(err)
	}
	if n := scalar[int64](t, db, "SELECT count(*) FROM edgevault.points WHERE f = 42"); n != 1 {
		t.Fatalf("changed value: %d rows", n)
	}
}

func TestPartitions(t *testing.T) {
	cases := []struct {
		name    string
		cfg     func(*Config)
		relkind string
		parts   []string
	}{
		{"daily", nil, "p", []string{"points_20231114", "points_20231115", "points_20231116", "points_20231117"}},
		{"weekly", func(c *Config) { c.Partition = 7 * 24 * time.Hour }, "p", []string{"points_20231109", "points_20231116"}},
		{"hourly", func(c *Config) { c.Partition = time.Hour }, "p", nil},
		{"plain", func(c *Config) { c.Layout = LayoutPlain }, "r", []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := open(t, tc.cfg)
			if _, err := db.Append(mixed()); err != nil {
				t.Fatal(err)
			}
			if k := scalar[string](t, db, "SELECT relkind::text FROM pg_class WHERE oid = 'edgevault.points'::regclass"); k != tc.relkind {
				t.Fatalf("relkind %s, want %s", k, tc.relkind)
			}
			parts := scalar[[]string](t, db, `SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}') FROM pg_inherits i
				JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'edgevault.points'::regclass`)
			if tc.parts == nil {
				if len(parts) != 57 || parts[0] != "points_20231114_22" {
					t.Fatalf("%d partitions, first %v", len(parts), parts[:1])
				}
				return
			}
			if !slices.Equal(parts, tc.parts) {
				t.Fatalf("partitions %v, want %v", parts, tc.parts)
			}
		})
	}
}
