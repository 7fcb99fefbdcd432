package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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
// values), plus backfilled and overwritten points and a string series when
// extra is set, compacted, with two points left in the head.
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
	}
	if _, err := db.Append(rs); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if extra {
		if _, err := db.Append([]point.Reading{{Device: "d", Metric: "temp", Time: streamT0 + int64(n)*1000, Value: point.Float(7)},
			{Device: "d", Metric: "temp", Time: streamT0 + 5*1000, Value: point.Float(8)}}); err != nil {
			t.Fatal(err)
		}
	}
	return db
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
// the head, a string series, an unknown series and a bad range.
func TestQueryRawStreamSameAnswer(t *testing.T) {
	db := dayStore(t, 40000, true)
	stream, built := queryHandler(db), queryHandler(queryOnly{db})
	for _, target := range []string{
		fmt.Sprintf("/api/v1/query?device=d&metric=temp&from=%d&to=%d", streamT0, streamT0+86400000),
		fmt.Sprintf("/api/v1/query?device=d&metric=temp&from=%d&to=%d&limit=777", streamT0+3000, streamT0+86400000),
		fmt.Sprintf("/api/v1/query?device=d&metric=temp&from=%d&to=%d&limit=14400", streamT0, streamT0+86400000),
		fmt.Sprintf("/api/v1/query?device=d&metric=state&from=%d&to=%d", streamT0, streamT0+1000),
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
