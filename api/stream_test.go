package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

// queryOnly hides DB.QueryRaw: the handler then answers from Query.
type queryOnly struct{ db *store.DB }

func (q queryOnly) Query(ctx context.Context, sq store.Query) (store.Result, error) {
	return q.db.Query(ctx, sq)
}

const streamT0 = 1764460800000

// dayStore opens a store holding n points at 1 Hz of d/temp (2-decimal
// values), compacted. With extra set, it adds backfilled and overwritten
// points, NaN, infinities and other odd floats, an int series d/count, a
// bool series d/door and a string series d/state, and leaves a few points
// of each number series in the head.
func dayStore(t testing.TB, n int, extra bool) *store.DB {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var rs []point.Reading
	for i := range n {
		rs = append(rs, point.Reading{Device: "d", Metric: "temp", Time: streamT0 + int64(i)*1000, Value: point.Float(float64(i%5000) / 100)})
	}
	if extra {
		for i := range 500 { // backfill and overwrites, out of order
			rs = append(rs, point.Reading{Device: "d", Metric: "temp", Time: streamT0 + int64(n-1-i*70)*1000 + 500, Value: point.Float(-1)})
			rs = append(rs, point.Reading{Device: "d", Metric: "temp", Time: streamT0 + int64(i*37)*1000, Value: point.Float(99.5)})
		}
		rs = append(rs, point.Reading{Device: "d", Metric: "state", Time: streamT0, Value: point.String("on \"x\"")})
		for i, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 1e21, 5e-324} {
			rs = append(rs, point.Reading{Device: "d", Metric: "temp", Time: streamT0 + int64(i*911)*1000 + 1, Value: point.Float(f)})
		}
		rs = append(rs, counterAndDoor(n)...)
	}
	if _, err := db.Append(rs); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if extra {
		if _, err := db.Append([]point.Reading{{Device: "d", Metric: "temp", Time: streamT0 + int64(n)*1000, Value: point.Float(7)},
			{Device: "d", Metric: "temp", Time: streamT0 + 5*1000, Value: point.Float(8)},
			{Device: "d", Metric: "count", Time: streamT0 + 6*1000, Value: point.Int(-6)},
			{Device: "d", Metric: "count", Time: streamT0 + int64(n)*1000, Value: point.Int(6)},
			{Device: "d", Metric: "door", Time: streamT0 + 7*1000 + 1, Value: point.Bool(false)}}); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// counterAndDoor returns an int and a bool series of n points at 1 Hz, each
// with backfilled and overwritten points after them.
func counterAndDoor(n int) []point.Reading {
	var rs []point.Reading
	for i := range n {
		t := streamT0 + int64(i)*1000
		rs = append(rs, point.Reading{Device: "d", Metric: "count", Time: t, Value: point.Int(int64(i*i) - 1<<40)},
			point.Reading{Device: "d", Metric: "door", Time: t, Value: point.Bool(i%7 < 3)})
	}
	for i := range 300 {
		t := streamT0 + int64(n-1-i*97)*1000
		rs = append(rs, point.Reading{Device: "d", Metric: "count", Time: t, Value: point.Int(math.MinInt64 + int64(i))},
			point.Reading{Device: "d", Metric: "door", Time: t + 1, Value: point.Bool(true)})
	}
	return rs
}

func queryHandler(q Querier) http.Handler {
	return New(Deps{Query: q, Logger: slog.New(slog.DiscardHandler), Health: func() error { return nil }})
}

func get(h http.Handler, target string) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// TestQueryRawStreamSameAnswer checks that raw answers streamed from the
// store are byte for byte the answers built from Query: whole ranges,
// pages with their next link, backfilled and overwritten points, points in
// the head, float (NaN and infinities too), int and bool series, a string
// series, an unknown series and a bad range.
func TestQueryRawStreamSameAnswer(t *testing.T) {
	db := dayStore(t, 40000, true)
	stream, built := queryHandler(db), queryHandler(queryOnly{db})
	for _, target := range []string{
		fmt.Sprintf("/api/v1/query?device=d&metric=temp&from=%d&to=%d", streamT0, streamT0+86400000),
		fmt.Sprintf("/api/v1/query?device=d&metric=temp&from=%d&to=%d&limit=777", streamT0+3000, streamT0+86400000),
		fmt.Sprintf("/api/v1/query?device=d&metric=temp&from=%d&to=%d&limit=14400", streamT0, streamT0+86400000),
		fmt.Sprintf("/api/v1/query?device=d&metric=state&from=%d&to=%d", streamT0, streamT0+1000),
		fmt.Sprintf("/api/v1/query?device=d&metric=count&from=%d&to=%d", streamT0, streamT0+86400000),
		fmt.Sprintf("/api/v1/query?device=d&metric=count&from=%d&to=%d&limit=5000", streamT0+999, streamT0+86400000),
		fmt.Sprintf("/api/v1/query?device=d&metric=door&from=%d&to=%d", streamT0, streamT0+86400000),
		fmt.Sprintf("/api/v1/query?device=d&metric=door&from=%d&to=%d&limit=3333", streamT0+1, streamT0+86400000),
		fmt.Sprintf("/api/v1/query?device=nobody&metric=temp&from=%d&to=%d", streamT0, streamT0+1000),
		fmt.Sprintf("/api/v1/query?device=d&metric=temp&from=%d&to=%d", streamT0, streamT0),
	} {
		sc, sb := get(stream, target)
		bc, bb := get(built, target)
		if sc != bc || sb != bb {
			t.Fatalf("%s:\nstreamed %d, %d bytes: %.300s\nbuilt    %d, %d bytes: %.300s", target, sc, len(sb), sb, bc, len(bb), bb)
		}
	}
}

// BenchmarkQueryDay measures the server side of a one-day raw answer
// (86,400 points, 1.8 MB of JSON) without the network: streamed from the
// store, and built from Query as before.
func BenchmarkQueryDay(b *testing.B) {
	db := dayStore(b, 86400, false)
	target := fmt.Sprintf("/api/v1/query?device=d&metric=temp&from=%d&to=%d", streamT0, streamT0+86400000)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"stream", queryHandler(db)}, {"built", queryHandler(queryOnly{db})}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			req := httptest.NewRequest("GET", target, nil)
			for b.Loop() {
				w := &countingWriter{h: http.Header{}}
				bc.h.ServeHTTP(w, req)
				if w.code != 0 && w.code != 200 || w.n < 1<<20 {
					b.Fatalf("status %d, %d bytes", w.code, w.n)
				}
			}
		})
	}
}

// countingWriter is a ResponseWriter that only counts the body, so the
// benchmark measures the handler, not a recorder's buffer.
type countingWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *countingWriter) Header() http.Header  { return w.h }
func (w *countingWriter) WriteHeader(code int) { w.code = code }
func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}
