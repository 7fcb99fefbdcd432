package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
)

const t0 = int64(1_767_225_600_000) // 2026-01-01T00:00:00Z, hour-aligned

// TestModel appends random batches with out-of-order points and
// overwrites to three series of different kinds, checkpoints, compacts and
// reopens at random, and checks raw and aggregated answers against a
// naive model.
func TestModel(t *testing.T) {
	for seed := uint64(1); seed <= modelSeeds; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { testModel(t, seed) })
	}
}

var modelSeeds = uint64(2)

func testModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 11))
	dir := t.TempDir()
	db := openT(t, dir, Options{})
	m := model{}
	kinds := []point.Kind{point.KindFloat, point.KindInt, point.KindString}
	cursor := []int64{t0, t0, t0}
	rolled := 0
	for round := 0; round < 40; round++ {
		var batch []point.Reading
		for i := 0; i < 300; i++ {
			j := rng.IntN(3)
			batch = append(batch, randomReading(rng, j, kinds[j], &cursor[j]))
		}
		res := mustAppend(t, db, batch...)
		if res.Stored != len(batch) || len(res.Rejected) != 0 {
			t.Fatalf("round %d: stored %d of %d: %v", round, res.Stored, len(batch), res.Rejected)
		}
		for _, r := range batch {
			m.put(r)
		}
		switch x := rng.IntN(10); {
		case x == 0:
			if err := db.checkpoint(false); err != nil {
				t.Fatal(err)
			}
		case x == 1:
			if err := db.Compact(context.Background()); err != nil {
				t.Fatal(err)
			}
		case x == 2:
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openT(t, dir, Options{})
		}
		rolled += checkModel(t, rng, db, m, kinds, round)
	}
	if rolled == 0 {
		t.Fatal("no aggregated query was answered from rollups")
	}
}

func randomReading(rng *rand.Rand, j int, kind point.Kind, cursor *int64) point.Reading {
	var ts int64
	switch x := rng.IntN(20); {
	case x == 0 && *cursor > t0: // backfill
		ts = t0 + rng.Int64N(*cursor-t0)
	case x == 1: // overwrite the latest
		ts = *cursor
	default:
		*cursor += 1 + rng.Int64N(30_000)
		ts = *cursor
	}
	var v point.Value
	switch kind {
	case point.KindFloat:
		v = point.Float(math.Round(rng.NormFloat64()*1000) / 100)
	case point.KindInt:
		v = point.Int(rng.Int64N(1000) - 500)
	case point.KindBool:
		v = point.Bool(rng.IntN(2) == 1)
	default:
		v = point.String(fmt.Sprint("s", rng.IntN(5)))
	}
	return rd("dev", fmt.Sprint("m", j), ts, v)
}

// checkModel compares random queries with the model and returns how many
// were answered partly from rollups.
func checkModel(t *testing.T, rng *rand.Rand, db *DB, m model, kinds []point.Kind, round int) (rolled int) {
	t.Helper()
	end := t0 + 3*24*Tier1h
	for j, kind := range kinds {
		metric := fmt.Sprint("m", j)
		key := point.SeriesKey("dev", metric, nil)
		got := query(t, db, Query{Device: "dev", Metric: metric, From: t0, To: end})
		sameSamples(t, fmt.Sprintf("round %d raw %s", round, metric), got.Samples, m.raw(key, t0, end))
		paged := pageAll(t, db, Query{Device: "dev", Metric: metric, From: t0, To: end, Limit: 1 + rng.IntN(700)})
		sameSamples(t, fmt.Sprintf("round %d paged %s", round, metric), paged, m.raw(key, t0, end))
		limit := 1 + rng.IntN(700)
		streamed := streamAll(t, db, Query{Device: "dev", Metric: metric, From: t0, To: end, Limit: limit})
		sameSamples(t, fmt.Sprintf("round %d streamed %s limit %d", round, metric, limit), streamed, m.raw(key, t0, end))
		for k := 0; k < 4; k++ {
			step := []int64{7_000, Tier1m, 5 * Tier1m, Tier1h, 2 * Tier1h}[rng.IntN(5)]
			from := t0 + rng.Int64N(2*Tier1h)
			to := from + rng.Int64N(24*Tier1h) + 1
			aggs := []Agg{AggCount, AggFirst, AggLast}
			if kind.Numeric() {
				aggs = append(aggs, AggSum, AggAvg, AggMin, AggMax)
			}
			fn := aggs[rng.IntN(len(aggs))]
			q := Query{Device: "dev", Metric: metric, From: from, To: to, Step: step, Agg: fn}
			res := query(t, db, q)
			if strings.HasPrefix(res.Source, "rollup") {
				rolled++
			}
			sameSamples(t, fmt.Sprintf("round %d %s %s step %d [%d,%d) src %s", round, metric, fn, step,
				from-t0, to-t0, res.Source), res.Samples, m.agg(key, from, to, step, fn))
		}
	}
	return rolled
}

func TestKindConflict(t *testing.T) {
	db := openT(t, t.TempDir(), Options{})
	res := mustAppend(t, db,
		rd("d", "temp", t0, point.Float(1.5)),
		rd("d", "temp", t0+1, point.Int(2)),        // int into float: converted
		rd("d", "temp", t0+2, point.String("hot")), // rejected
		rd("d", "count", t0, point.Int(1)),
		rd("d", "count", t0+1, point.Float(2.5)), // float into int: rejected
		point.Reading{Device: "", Metric: "x", Time: t0, Value: point.Int(1)},
	)
	if res.Stored != 3 || len(res.Rejected) != 3 {
		t.Fatalf("stored %d rejected %v", res.Stored, res.Rejected)
	}
	for i, want := range []struct {
		idx int
		err error
	}{{2, ErrKindConflict}, {4, ErrKindConflict}, {5, ErrInvalidReading}} {
		r := res.Rejected[i]
		if r.Index != want.idx || !errors.Is(r.Err, want.err) {
			t.Errorf("rejection %d: got %d %v, want %d %v", i, r.Index, r.Err, want.idx, want.err)
		}
	}
	got := query(t, db, Query{Device: "d", Metric: "temp", From: t0, To: t0 + 10})
	sameSamples(t, "temp", got.Samples, []Sample{{t0, point.Float(1.5)}, {t0 + 1, point.Float(2)}})
}

func TestPaging(t *testing.T) {
	db := openT(t, t.TempDir(), Options{})
	var rs []point.Reading
	for i := int64(0); i < 1000; i++ {
		rs = append(rs, rd("d", "m", t0+i*1000, point.Int(i)))
	}
	mustAppend(t, db, rs...)
	if err := db.checkpoint(true); err != nil {
		t.Fatal(err)
	}
	all := pageAll(t, db, Query{Device: "d", Metric: "m", From: t0, To: t0 + 2_000_000, Limit: 300})
	if len(all) != 1000 || all[999].V.Int() != 999 {
		t.Fatalf("got %d samples", len(all))
	}
}

func TestBadQuery(t *testing.T) {
	db := openT(t, t.TempDir(), Options{})
	mustAppend(t, db, rd("d", "s", t0, point.String("x")))
	for _, tc := range []struct {
		name string
		q    Query
	}{
		{"empty range", Query{Device: "d", Metric: "s", From: 5, To: 5}},
		{"negative step", Query{Device: "d", Metric: "s", From: 0, To: 5, Step: -1, Agg: AggCount}},
		{"unknown agg", Query{Device: "d", Metric: "s", From: 0, To: 5, Step: 1, Agg: "median"}},
		{"sum of strings", Query{Device: "d", Metric: "s", From: 0, To: t0 + 5, Step: 1000, Agg: AggSum}},
		{"limit too big", Query{Device: "d", Metric: "s", From: 0, To: 5, Limit: MaxLimit + 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := db.Query(context.Background(), tc.q); !errors.Is(err, ErrBadQuery) {
				t.Fatalf("got %v, want ErrBadQuery", err)
			}
		})
	}
	res := query(t, db, Query{Device: "nope", Metric: "s", From: 0, To: 5})
	if len(res.Samples) != 0 {
		t.Fatalf("unknown series: %+v", res)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	db := openT(t, dir, Options{})
	mustAppend(t, db, rd("d", "m", t0, point.Float(1)), rd("d", "m", t0+1000, point.Float(2)))
	db.Meta().Put([]byte("k"), []byte("v"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := db.Append([]point.Reading{rd("d", "m", t0, point.Float(1))}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	db = openT(t, dir, Options{})
	got := query(t, db, Query{Device: "d", Metric: "m", From: t0, To: t0 + 5000})
	sameSamples(t, "reopened", got.Samples, []Sample{{t0, point.Float(1)}, {t0 + 1000, point.Float(2)}})
	if v, err := db.Meta().Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("meta: %q %v", v, err)
	}
	ss := db.Series()
	if len(ss) != 1 || ss[0].Metric != "m" || ss[0].MinT != t0 || ss[0].MaxT != t0+1000 {
		t.Fatalf("series: %+v", ss)
	}
}

func TestRollupSource(t *testing.T) {
	clock := &fakeClock{t: time.UnixMilli(t0)}
	db := openT(t, t.TempDir(), Options{Now: clock.Now})
	var rs []point.Reading
	for i := int64(0); i < 3*3600; i += 10 { // 3 hours, one point per 10 s
		rs = append(rs, rd("d", "m", t0+i*1000, point.Float(float64(i))))
	}
	mustAppend(t, db, rs...)
	day := Query{Device: "d", Metric: "m", From: t0, To: t0 + 3*Tier1h, Agg: AggCount}
	for _, tc := range []struct {
		name string
		q    Query
		want string
	}{
		{"hour step", with(day, Tier1h, 0), "rollup:1h+raw"}, // last hour still open
		{"minute step", with(day, 5*Tier1m, 0), "rollup:1m+raw"},
		{"odd step", with(day, 7000, 0), "raw"},
		{"partial edges", with(day, Tier1h, 30*Tier1m), "rollup:1h+raw"},
		{"no whole bucket", Query{Device: "d", Metric: "m", From: t0 + 1, To: t0 + Tier1h - 1,
			Step: Tier1h, Agg: AggCount}, "raw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := query(t, db, tc.q).Source; got != tc.want {
				t.Fatalf("source %q, want %q", got, tc.want)
			}
		})
	}
	// Once time passes the end, the checkpoint persists the open buckets.
	clock.Set(time.UnixMilli(t0 + 4*Tier1h))
	if err := db.checkpoint(false); err != nil {
		t.Fatal(err)
	}
	res := query(t, db, with(day, Tier1h, 0))
	if res.Source != "rollup:1h" || len(res.Samples) != 3 || res.Samples[0].V.Int() != 360 {
		t.Fatalf("after close: %+v", res)
	}
	// A backfilled overwrite makes its buckets dirty: raw answers them.
	mustAppend(t, db, rd("d", "m", t0, point.Float(-1)))
	res = query(t, db, with(day, Tier1h, 0))
	if res.Source != "rollup:1h+raw" || res.Samples[0].V.Int() != 360 {
		t.Fatalf("after backfill: %+v", res)
	}
	if err := db.checkpoint(false); err != nil {
		t.Fatal(err)
	}
	q := with(day, Tier1h, 0)
	q.Agg = AggMin
	if res = query(t, db, q); res.Source != "rollup:1h" || res.Samples[0].V.Float() != -1 {
		t.Fatalf("after recompute: %+v", res)
	}
}

func with(q Query, step, shift int64) Query {
	q.Step, q.From = step, q.From+shift
	return q
}

// streamAll reads every page of q with QueryRaw, checking each against the
// same page from Query (points and Next).
func streamAll(t *testing.T, db *DB, q Query) []Sample {
	t.Helper()
	return follow(t, q, func(q Query) ([]Sample, int64) {
		st, err := db.QueryRaw(q)
		if err != nil {
			t.Fatal(err)
		}
		var page []Sample
		next, err := st.Each(context.Background(), func(pts []Sample) error {
			page = append(page, pts...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := query(t, db, q)
		sameSamples(t, fmt.Sprintf("stream page from %d", q.From), page, want.Samples)
		if next != want.Next || st.Kind != want.Kind && len(page) > 0 {
			t.Fatalf("stream page from %d: next %d kind %s, Query: next %d kind %s", q.From, next, st.Kind, want.Next, want.Kind)
		}
		if st.Kind != point.KindString {
			bitsPage, bitsNext := eachBitsPage(t, db, q)
			sameSamples(t, fmt.Sprintf("EachBits page from %d", q.From), bitsPage, want.Samples)
			if bitsNext != want.Next {
				t.Fatalf("EachBits page from %d: next %d, Query: next %d", q.From, bitsNext, want.Next)
			}
		}
		return page, next
	})
}

// pageAll follows Result.Next until the last page.
func pageAll(t *testing.T, db *DB, q Query) []Sample {
	t.Helper()
	return follow(t, q, func(q Query) ([]Sample, int64) {
		res := query(t, db, q)
		if len(res.Samples) > q.Limit {
			t.Fatalf("page of %d samples, limit %d", len(res.Samples), q.Limit)
		}
		return res.Samples, res.Next
	})
}

// follow reads the pages of q with page, each from the Next of the one
// before, until one has none, and returns all their points.
func follow(t *testing.T, q Query, page func(Query) ([]Sample, int64)) []Sample {
	t.Helper()
	var all []Sample
	for pages := 0; ; pages++ {
		if pages > 100_000 {
			t.Fatal("paging does not end")
		}
		pts, next := page(q)
		all = append(all, pts...)
		if next == 0 {
			return all
		}
		q.From = next
	}
}
