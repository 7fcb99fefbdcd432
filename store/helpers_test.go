package store

import (
	"context"
	"io"
	"log/slog"
	"math"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
)

// fakeClock is an injected clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openT(t testing.TB, dir string, o Options) *DB {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	db, err := Open(dir, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func rd(dev, metric string, t int64, v point.Value) point.Reading {
	return point.Reading{Device: dev, Metric: metric, Time: t, Value: v}
}

func mustAppend(t testing.TB, db *DB, rs ...point.Reading) AppendResult {
	t.Helper()
	res, err := db.Append(rs)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return res
}

func query(t testing.TB, db *DB, q Query) Result {
	t.Helper()
	res, err := db.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("query %+v: %v", q, err)
	}
	return res
}

// model is the naive reference: series key -> time -> last written value.
type model map[string]map[int64]point.Value

func (m model) put(r point.Reading) {
	k := r.SeriesKey()
	if m[k] == nil {
		m[k] = map[int64]point.Value{}
	}
	m[k][r.Time] = r.Value
}

func (m model) raw(key string, from, to int64) []Sample {
	var out []Sample
	for t, v := range m[key] {
		if t >= from && t < to {
			out = append(out, Sample{T: t, V: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].T < out[j].T })
	return out
}

// agg computes fn per step bucket the slow, obvious way.
func (m model) agg(key string, from, to, step int64, fn Agg) []Sample {
	byBucket := map[int64][]Sample{}
	var keys []int64
	for _, p := range m.raw(key, from, to) {
		b := floorTo(p.T, step)
		if byBucket[b] == nil {
			keys = append(keys, b)
		}
		byBucket[b] = append(byBucket[b], p)
	}
	var out []Sample
	for _, b := range keys {
		pts := byBucket[b]
		fs := make([]float64, len(pts))
		for i, p := range pts {
			fs[i], _ = p.V.AsFloat()
		}
		var v point.Value
		switch fn {
		case AggCount:
			v = point.Int(int64(len(pts)))
		case AggSum, AggAvg:
			s := 0.0
			for _, f := range fs {
				s += f
			}
			if fn == AggAvg {
				s /= float64(len(fs))
			}
			v = point.Float(s)
		case AggMin, AggMax:
			x := fs[0]
			for _, f := range fs {
				if (fn == AggMin && f < x) || (fn == AggMax && f > x) {
					x = f
				}
			}
			v = point.Float(x)
		case AggFirst:
			v = pts[0].V
		case AggLast:
			v = pts[len(pts)-1].V
		}
		out = append(out, Sample{T: b, V: v})
	}
	return out
}

func sameSamples(t testing.TB, what string, got, want []Sample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d samples, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.T != w.T || !closeValue(g.V, w.V) {
			t.Fatalf("%s: sample %d: got %d=%v, want %d=%v", what, i, g.T, g.V, w.T, w.V)
		}
	}
}

func closeValue(a, b point.Value) bool {
	if a.Kind() == point.KindFloat && b.Kind() == point.KindFloat {
		x, y := a.Float(), b.Float()
		return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(y))
	}
	return a.Equal(b)
}
