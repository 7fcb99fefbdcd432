package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/edgevault/edgevault/point"
)

// eachBitsPage reads one page of q with RawStream.EachBits, as samples.
func eachBitsPage(t *testing.T, db *DB, q Query) (page []Sample, next int64) {
	t.Helper()
	st, err := db.QueryRaw(q)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	next, err = st.EachBits(context.Background(), func(ts []int64, bits []uint64) error {
		calls++
		if len(ts) == 0 || len(ts) != len(bits) {
			t.Fatalf("EachBits called with %d times and %d values", len(ts), len(bits))
		}
		for i, t := range ts {
			page = append(page, Sample{T: t, V: point.FromBits(st.Kind, bits[i])})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls > 0 && st.Kind == 0 {
		t.Fatal("points of an unknown series")
	}
	return page, next
}

// TestEachBits checks EachBits page by page against Query, and all pages
// against the model, on float, int and bool series written with backfill
// and overwrites, partly sealed in blocks (several per window) and partly
// in heads, for random ranges and limits.
func TestEachBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	db := openT(t, t.TempDir(), Options{})
	m := model{}
	kinds := []point.Kind{point.KindFloat, point.KindInt, point.KindBool}
	cursor := []int64{t0, t0, t0}
	for round := range 16 {
		var batch []point.Reading
		for range 600 {
			j := rng.IntN(len(kinds))
			batch = append(batch, randomReading(rng, j, kinds[j], &cursor[j]))
		}
		mustAppend(t, db, batch...)
		for _, r := range batch {
			m.put(r)
		}
		if rng.IntN(3) == 0 {
			if err := db.Compact(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		for j := range kinds {
			metric := fmt.Sprint("m", j)
			from := t0 - Tier1h + rng.Int64N(cursor[j]-t0+2*Tier1h)
			to := from + 1 + rng.Int64N(cursor[j]+Tier1h-from)
			q := Query{Device: "dev", Metric: metric, From: from, To: to, Limit: rng.IntN(3000)}
			what := fmt.Sprintf("round %d %s [%d, %d) limit %d", round, metric, from-t0, to-t0, q.Limit)
			var all []Sample
			for pages := 0; ; pages++ {
				if pages > 10_000 {
					t.Fatalf("%s: paging does not end", what)
				}
				page, next := eachBitsPage(t, db, q)
				want := query(t, db, q)
				sameSamples(t, fmt.Sprintf("%s: page from %d", what, q.From-t0), page, want.Samples)
				if next != want.Next {
					t.Fatalf("%s: page from %d: next %d, Query: next %d", what, q.From-t0, next, want.Next)
				}
				all = append(all, page...)
				if next == 0 {
					break
				}
				q.From = next
			}
			sameSamples(t, what, all, m.raw(point.SeriesKey("dev", metric, nil), from, to))
		}
	}
}

func TestEachBitsRefuses(t *testing.T) {
	db := openT(t, t.TempDir(), Options{})
	mustAppend(t, db, rd("d", "s", t0, point.String("on")), rd("d", "f", t0, point.Float(1)))
	q := Query{Device: "d", Metric: "s", From: t0, To: t0 + 1}
	st, err := db.QueryRaw(q)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.EachBits(context.Background(), func([]int64, []uint64) error { return nil }); !errors.Is(err, ErrBadQuery) {
		t.Fatalf("EachBits of a string series: %v, want ErrBadQuery", err)
	}
	q.Metric = "f"
	if st, err = db.QueryRaw(q); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	if _, err := st.EachBits(context.Background(), func([]int64, []uint64) error { return stop }); err != stop {
		t.Fatalf("EachBits returned %v, want the callback's error", err)
	}
	if page, next := eachBitsPage(t, db, Query{Device: "nobody", Metric: "f", From: t0, To: t0 + 1}); len(page) != 0 || next != 0 {
		t.Fatalf("unknown series: %d points, next %d", len(page), next)
	}
}
