package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

// Query answers q like store.DB.Query: raw points a page at a time, or one
// aggregate per non-empty epoch-aligned bucket, computed by PostgreSQL. A
// query on an unknown series returns an empty result.
func (db *DB) Query(ctx context.Context, q store.Query) (store.Result, error) {
	if err := db.check(); err != nil {
		return store.Result{}, err
	}
	if err := checkQuery(&q); err != nil {
		return store.Result{}, err
	}
	ref, ok, err := db.lookup(ctx, q.Device, q.Metric, q.Tags)
	if err != nil || !ok {
		return store.Result{Source: "raw"}, err
	}
	if q.Step == 0 {
		return db.queryRaw(ctx, ref, q)
	}
	if !ref.kind.Numeric() {
		switch q.Agg {
		case store.AggSum, store.AggAvg, store.AggMin, store.AggMax:
			return store.Result{}, fmt.Errorf("%w: %s of %s series", store.ErrBadQuery, q.Agg, ref.kind)
		}
	}
	return db.queryAgg(ctx, ref, q)
}

// checkQuery mirrors the store's validation of a query.
func checkQuery(q *store.Query) error {
	switch {
	case q.From >= q.To:
		return fmt.Errorf("%w: from %d not before to %d", store.ErrBadQuery, q.From, q.To)
	case q.Step < 0:
		return fmt.Errorf("%w: negative step", store.ErrBadQuery)
	case q.Limit < 0 || q.Limit > store.MaxLimit:
		return fmt.Errorf("%w: limit %d outside 0..%d", store.ErrBadQuery, q.Limit, store.MaxLimit)
	}
	if q.Step > 0 {
		if _, err := store.ParseAgg(string(q.Agg)); err != nil {
			return fmt.Errorf("%w: %w", store.ErrBadQuery, err)
		}
		if n := (q.To - q.From) / q.Step; n > store.MaxLimit {
			return fmt.Errorf("%w: %d buckets, at most %d", store.ErrBadQuery, n, store.MaxLimit)
		}
	}
	if q.Limit == 0 {
		q.Limit = store.DefaultLimit
	}
	return nil
}

const sqlRaw = `SELECT (extract(epoch FROM ts) * 1000)::bigint, f, i, b, s FROM edgevault.points
WHERE series_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts LIMIT $4`

// queryRaw reads one row past the page to know the next page's From.
func (db *DB) queryRaw(ctx context.Context, ref seriesRef, q store.Query) (store.Result, error) {
	res := store.Result{Kind: ref.kind, Source: "raw"}
	rows, err := db.pool.Query(ctx, sqlRaw, ref.id, tsOf(q.From), tsOf(q.To), q.Limit+1)
	if err != nil {
		return store.Result{}, fmt.Errorf("query points: %w", err)
	}
	if res.Samples, err = scanSamples(rows, q.Limit+1); err != nil {
		return store.Result{}, err
	}
	if len(res.Samples) > q.Limit {
		res.Next = res.Samples[q.Limit].T
		res.Samples = res.Samples[:q.Limit:q.Limit]
	}
	return res, nil
}

// scanSamples reads rows of (t, f, i, b, s).
func scanSamples(rows pgx.Rows, hint int) ([]store.Sample, error) {
	defer rows.Close()
	out := make([]store.Sample, 0, min(hint, 4096))
	var c valueCols
	for rows.Next() {
		var t int64
		if err := rows.Scan(&t, &c.f, &c.i, &c.b, &c.s); err != nil {
			return nil, fmt.Errorf("scan points: %w", err)
		}
		out = append(out, store.Sample{T: t, V: c.value()})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query points: %w", err)
	}
	return out, nil
}

// valueCols are the typed value columns of a row; one is not NULL.
type valueCols struct {
	f pgtype.Float8
	i pgtype.Int8
	b pgtype.Bool
	s pgtype.Text
}

func (c *valueCols) value() point.Value {
	switch {
	case c.f.Valid:
		return point.Float(c.f.Float64)
	case c.i.Valid:
		return point.Int(c.i.Int64)
	case c.b.Valid:
		return point.Bool(c.b.Bool)
	case c.s.Valid:
		return point.String(c.s.String)
	}
	return point.Value{}
}
