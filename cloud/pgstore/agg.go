package pgstore

import (
	"context"
	"fmt"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

// sqlBuckets is the points of a range with the start of their bucket:
// Unix ms floored to a multiple of the step ($4), also before 1970.
const sqlBuckets = `SELECT ms - mod(mod(ms, $4) + $4, $4) AS bucket, ts, f, i, b, s FROM (
	SELECT (extract(epoch FROM ts) * 1000)::bigint AS ms, ts, f, i, b, s FROM edgevault.points
	WHERE series_id = $1 AND ts >= $2 AND ts < $3) p`

// aggExprs are the SQL of the aggregations that reduce to one number.
var aggExprs = map[store.Agg]string{
	store.AggCount: "count(*)",
	store.AggSum:   "sum(coalesce(f, i::float8))",
	store.AggAvg:   "avg(coalesce(f, i::float8))",
	store.AggMin:   "min(coalesce(f, i::float8))",
	store.AggMax:   "max(coalesce(f, i::float8))",
}

// aggSQL returns the query of one aggregation: a GROUP BY for the numeric
// ones, DISTINCT ON for first and last, which keep the series' kind.
func aggSQL(a store.Agg) string {
	switch a {
	case store.AggFirst:
		return "SELECT DISTINCT ON (bucket) bucket, f, i, b, s FROM (" + sqlBuckets + ") x ORDER BY bucket, ts"
	case store.AggLast:
		return "SELECT DISTINCT ON (bucket) bucket, f, i, b, s FROM (" + sqlBuckets + ") x ORDER BY bucket, ts DESC"
	case store.AggCount:
		return "SELECT bucket, NULL::float8, " + aggExprs[a] + ", NULL::bool, NULL::text FROM (" +
			sqlBuckets + ") x GROUP BY bucket ORDER BY bucket"
	}
	return "SELECT bucket, " + aggExprs[a] + ", NULL::bigint, NULL::bool, NULL::text FROM (" +
		sqlBuckets + ") x GROUP BY bucket ORDER BY bucket"
}

func (db *DB) queryAgg(ctx context.Context, ref seriesRef, q store.Query) (store.Result, error) {
	res := store.Result{Kind: ref.kind, Source: "raw"}
	switch q.Agg {
	case store.AggCount:
		res.Kind = point.KindInt
	case store.AggSum, store.AggAvg, store.AggMin, store.AggMax:
		res.Kind = point.KindFloat
	}
	rows, err := db.pool.Query(ctx, aggSQL(q.Agg), ref.id, tsOf(q.From), tsOf(q.To), q.Step)
	if err != nil {
		return store.Result{}, fmt.Errorf("query %s: %w", q.Agg, err)
	}
	if res.Samples, err = scanSamples(rows, int((q.To-q.From)/q.Step)+1); err != nil {
		return store.Result{}, err
	}
	return res, nil
}
