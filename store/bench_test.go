package store

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/edgevault/edgevault/point"
)

const daySeconds = 86_400

// randomWalk returns a day of 1 Hz readings whose values are a random walk
// rounded to two decimals, like a temperature sensor.
func randomWalk(dev string, seed uint64) []point.Reading {
	rng := rand.New(rand.NewPCG(seed, 1))
	rs := make([]point.Reading, daySeconds)
	v := 20.0
	for i := range rs {
		v = math.Round((v+rng.NormFloat64()*0.05)*100) / 100
		rs[i] = rd(dev, "temp", t0+int64(i)*1000, point.Float(v))
	}
	return rs
}

// loadDays appends a day of random walk for each of n series, in batches
// of 5000, and compacts.
func loadDays(tb testing.TB, db *DB, n int) {
	for s := 0; s < n; s++ {
		rs := randomWalk(fmt.Sprint("dev", s), uint64(s))
		for len(rs) > 0 {
			k := min(5000, len(rs))
			mustAppend(tb, db, rs[:k]...)
			rs = rs[k:]
		}
	}
	if err := db.Compact(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

func BenchmarkAppend(b *testing.B) {
	b.Run("batch5000", func(b *testing.B) {
		db := openT(b, b.TempDir(), Options{})
		rs := randomWalk("d", 1)[:5000]
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for j := range rs { // move the batch forward in time
				rs[j].Time += 5_000_000
			}
			mustAppend(b, db, rs...)
		}
		b.ReportMetric(float64(b.N*len(rs))/b.Elapsed().Seconds(), "points/s")
	})
	for _, policy := range []FsyncPolicy{FsyncInterval, FsyncAlways} {
		name := map[FsyncPolicy]string{FsyncInterval: "interval", FsyncAlways: "always"}[policy]
		b.Run("single50/fsync="+name, func(b *testing.B) {
			db := openT(b, b.TempDir(), Options{Fsync: policy})
			var dev atomic.Int64
			b.SetParallelism(max(1, 50/runtimeProcs()))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				name := fmt.Sprint("d", dev.Add(1))
				ts := t0
				for pb.Next() {
					ts += 1000
					mustAppend(b, db, rd(name, "m", ts, point.Float(1.5)))
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
		})
	}
}

func BenchmarkQueryRawDay(b *testing.B) {
	db := openT(b, b.TempDir(), Options{})
	loadDays(b, db, 1)
	q := Query{Device: "dev0", Metric: "temp", From: t0, To: t0 + daySeconds*1000}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := query(b, db, q); len(res.Samples) != daySeconds {
			b.Fatalf("%d samples", len(res.Samples))
		}
	}
}

// BenchmarkQueryRawDayBits reads the same day as BenchmarkQueryRawDay
// through RawStream.EachBits, the path of the query API.
func BenchmarkQueryRawDayBits(b *testing.B) {
	db := openT(b, b.TempDir(), Options{})
	loadDays(b, db, 1)
	q := Query{Device: "dev0", Metric: "temp", From: t0, To: t0 + daySeconds*1000}
	b.ReportAllocs()
	for b.Loop() {
		st, err := db.QueryRaw(q)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		if _, err := st.EachBits(context.Background(), func(ts []int64, _ []uint64) error {
			n += len(ts)
			return nil
		}); err != nil || n != daySeconds {
			b.Fatalf("%d points, %v", n, err)
		}
	}
}

func BenchmarkQueryAvg1mDay(b *testing.B) {
	db := openT(b, b.TempDir(), Options{})
	loadDays(b, db, 1)
	q := Query{Device: "dev0", Metric: "temp", From: t0, To: t0 + daySeconds*1000, Step: Tier1m, Agg: AggAvg}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := query(b, db, q); len(res.Samples) != 1440 || res.Source != "rollup:1m" {
			b.Fatalf("%d samples from %s", len(res.Samples), res.Source)
		}
	}
}

// TestBytesPerPoint measures disk bytes per point after Compact for 10
// series x 1 day of 1 Hz 2-decimal random walk. Right after Compact,
// Pebble's DiskSpaceUsage still counts obsolete sstables awaiting deletion
// and recycled WAL files (about 15 MB whatever the data); after a reopen
// only live files remain, which is the figure the target is about.
func TestBytesPerPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 864,000 points")
	}
	dir := t.TempDir()
	db := openT(t, dir, Options{})
	loadDays(t, db, 10)
	const points = 10 * daySeconds
	t.Logf("after Compact: DiskUsage %d bytes, %.3f bytes/point", db.DiskUsage(), float64(db.DiskUsage())/points)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openT(t, dir, Options{})
	bpp := float64(db.DiskUsage()) / points
	t.Logf("after reopen: DiskUsage %d bytes, %.3f bytes/point", db.DiskUsage(), bpp)
	if bpp > 2 {
		t.Fatalf("%.2f bytes per point, target 2", bpp)
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
