package pgstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edgevault/edgevault/point"
)

// benchSeries x benchPoints readings make one batch, the size an edge's
// uplink sends (10,000 points of 100 series, 100 s at 1 Hz).
const benchSeries, benchPoints = 100, 100

// batchAt returns one batch of 2-decimal float readings starting at start,
// its devices named after prefix.
func batchAt(prefix string, start int64) []point.Reading {
	rs := make([]point.Reading, 0, benchSeries*benchPoints)
	tags := []point.Tag{{Key: EdgeTag, Value: "bench"}}
	for s := range benchSeries {
		dev := fmt.Sprintf("%s-%03d", prefix, s)
		for i := range benchPoints {
			rs = append(rs, point.Reading{Device: dev, Metric: "temp", Tags: tags, Time: start + int64(i)*1000,
				Value: point.Float(20 + float64((s+i)%50)/4)})
		}
	}
	return rs
}

func reportRate(b *testing.B, points int64, start time.Time) {
	b.ReportMetric(float64(points)/time.Since(start).Seconds(), "points/s")
}

// BenchmarkAppend stores fresh 10,000-point batches through Append (series
// lookup, COPY into the staging table, INSERT ... ON CONFLICT into the
// partitioned table, commit). "parallel4" runs four batches at once, as
// the cloud does with max_concurrent 4.
func BenchmarkAppend(b *testing.B) {
	for _, par := range []int{1, 4} {
		b.Run(fmt.Sprintf("parallel%d", par), func(b *testing.B) {
			db, _ := open(b, nil)
			var seq atomic.Int64
			if _, err := db.Append(batchAt("w0", t0)); err != nil { // series and first partition
				b.Fatal(err)
			}
			b.SetParallelism(par)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				prefix := fmt.Sprintf("w%d", seq.Add(1))
				for n := int64(1); pb.Next(); n++ {
					if _, err := db.Append(batchAt(prefix, t0+n*benchPoints*1000)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRate(b, int64(b.N)*benchSeries*benchPoints, start)
		})
	}
}

// BenchmarkAppendRetry stores the same batch again and again: every row
// exists, so each Append takes the staging-table merge path and changes
// nothing.
func BenchmarkAppendRetry(b *testing.B) {
	db, _ := open(b, nil)
	rs := batchAt("w", t0)
	if _, err := db.Append(rs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := db.Append(rs); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, int64(b.N)*benchSeries*benchPoints, start)
}

// BenchmarkCopyPlain is the floor Append is measured against: the same
// rows COPYed straight into a plain table, without and with the primary key.
func BenchmarkCopyPlain(b *testing.B) {
	for _, key := range []string{"", ", PRIMARY KEY (series_id, ts)"} {
		name := map[bool]string{true: "nokey", false: "pkey"}[key == ""]
		b.Run(name, func(b *testing.B) {
			db, _ := open(b, nil)
			ctx := context.Background()
			_, err := db.pool.Exec(ctx, `CREATE TABLE plain (series_id bigint NOT NULL, ts timestamptz NOT NULL,
				f double precision, i bigint, b boolean, s text`+key+`)`)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for n := range int64(b.N) {
				rows := make([]row, 0, benchSeries*benchPoints)
				for j, r := range batchAt("w", t0+n*benchPoints*1000) {
					rows = append(rows, row{sid: int64(j/benchPoints + 1), t: r.Time, v: r.Value})
				}
				if _, err := db.pool.CopyFrom(ctx, pgx.Identifier{"plain"}, stageCols, &copySource{rows: rows, i: -1}); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, int64(b.N)*benchSeries*benchPoints, start)
		})
	}
}
