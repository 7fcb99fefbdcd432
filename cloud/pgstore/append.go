package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

// row is one point ready for COPY.
type row struct {
	sid int64
	t   int64 // Unix ms
	v   point.Value
}

// Append stores readings like store.DB.Append: invalid readings and kind
// conflicts are reported in Rejected, an int into a float series is
// converted, and the last of several values for one series and millisecond
// wins. When it returns without error the points are committed. Storing
// the same readings again changes no row.
func (db *DB) Append(rs []point.Reading) (store.AppendResult, error) {
	if err := db.check(); err != nil {
		return store.AppendResult{}, err
	}
	ctx, cancel := db.opCtx()
	defer cancel()
	rows, res, err := db.admit(ctx, rs)
	if err != nil || len(rows) == 0 {
		return res, err
	}
	rows = dedupe(rows)
	if err := db.ensurePartitions(ctx, rows); err != nil {
		return store.AppendResult{}, err
	}
	if err := db.load(ctx, rows); err != nil {
		return store.AppendResult{}, err
	}
	return res, nil
}

// admit validates the readings, creates the series it has not seen and
// returns the rows to store.
func (db *DB) admit(ctx context.Context, rs []point.Reading) ([]row, store.AppendResult, error) {
	var res store.AppendResult
	var todo []newSeries
	seen := map[string]bool{}
	bad := map[int]error{}
	var buf []byte
	db.mu.RLock()
	for i := range rs {
		rd := &rs[i]
		buf = point.AppendSeriesKey(buf[:0], rd.Device, rd.Metric, rd.Tags)
		if _, ok := db.series[string(buf)]; ok || seen[string(buf)] {
			continue
		}
		if err := validate(rd); err != nil {
			bad[i] = err
			continue
		}
		seen[string(buf)] = true
		todo = append(todo, newSeries{key: string(buf), cols: colsOf(rd.Device, rd.Metric, rd.Tags), kind: rd.Value.Kind()})
	}
	db.mu.RUnlock()
	if err := db.ensureSeries(ctx, todo); err != nil {
		return nil, res, err
	}
	rows := make([]row, 0, len(rs))
	db.mu.RLock()
	defer db.mu.RUnlock()
	for i := range rs {
		r, err := db.rowOf(&rs[i], &buf, bad[i])
		if err != nil {
			res.Rejected = append(res.Rejected, store.Rejection{Index: i, Err: err})
			continue
		}
		rows = append(rows, r)
	}
	res.Stored = len(rows)
	return rows, res, nil
}

// rowOf converts a reading to the kind of its series. Callers hold db.mu.
func (db *DB) rowOf(rd *point.Reading, buf *[]byte, bad error) (row, error) {
	if bad != nil {
		return row{}, bad
	}
	*buf = point.AppendSeriesKey((*buf)[:0], rd.Device, rd.Metric, rd.Tags)
	ref, ok := db.series[string(*buf)]
	switch {
	case !ok:
		return row{}, fmt.Errorf("%w: series vanished from the cache", store.ErrInvalidReading)
	case !rd.Value.Valid():
		return row{}, fmt.Errorf("%w: invalid value", store.ErrInvalidReading)
	case rd.Time < minTime || rd.Time > maxTime:
		return row{}, fmt.Errorf("%w: time %d outside years 1 to 9999", store.ErrInvalidReading, rd.Time)
	}
	v := rd.Value
	if v.Kind() != ref.kind {
		if ref.kind != point.KindFloat || v.Kind() != point.KindInt {
			return row{}, fmt.Errorf("%w: series %s/%s is %s, reading is %s",
				store.ErrKindConflict, rd.Device, rd.Metric, ref.kind, v.Kind())
		}
		v = point.Float(float64(v.Int()))
	}
	return row{sid: ref.id, t: rd.Time, v: v}, nil
}

func validate(rd *point.Reading) error {
	if err := rd.Validate(); err != nil {
		return fmt.Errorf("%w: %w", store.ErrInvalidReading, err)
	}
	return nil
}

// dedupe sorts rows by series and time and keeps the last of each pair:
// one INSERT ... ON CONFLICT DO UPDATE cannot touch a row twice.
func dedupe(rows []row) []row {
	slices.SortStableFunc(rows, func(a, b row) int {
		if a.sid != b.sid {
			return cmpInt(a.sid, b.sid)
		}
		return cmpInt(a.t, b.t)
	})
	out := rows[:0]
	for i, r := range rows {
		if i+1 < len(rows) && rows[i+1].sid == r.sid && rows[i+1].t == r.t {
			continue
		}
		out = append(out, r)
	}
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

const sqlStage = `CREATE TEMP TABLE IF NOT EXISTS edgevault_stage (
	series_id bigint, ts timestamptz, f double precision, i bigint, b boolean, s text
) ON COMMIT DELETE ROWS`

// sqlMerge moves the staged rows into the points table. A row that is
// already there with the same value is left alone, so a retried batch
// writes nothing.
const sqlMerge = `INSERT INTO edgevault.points AS p (series_id, ts, f, i, b, s)
SELECT series_id, ts, f, i, b, s FROM edgevault_stage
ON CONFLICT (series_id, ts) DO UPDATE SET f = EXCLUDED.f, i = EXCLUDED.i, b = EXCLUDED.b, s = EXCLUDED.s
WHERE (p.f, p.i, p.b, p.s) IS DISTINCT FROM (EXCLUDED.f, EXCLUDED.i, EXCLUDED.b, EXCLUDED.s)`

var stageCols = []string{"series_id", "ts", "f", "i", "b", "s"}

// load stores rows. Most batches are new data, so it first COPYs them
// straight into the points table; when a row already exists (a retried
// batch, an overlap) that transaction fails on the primary key and the
// rows go through the staging table and sqlMerge instead.
func (db *DB) load(ctx context.Context, rows []row) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"edgevault", "points"}, stageCols, &copySource{rows: rows, i: -1})
		return err
	})
	if pgCode(err) == "23505" { // unique_violation
		err = db.merge(ctx, rows)
	}
	if pgCode(err) == "23514" && db.partitioned {
		// No partition for a row: one was dropped (retention) since we
		// cached it. Forget them all; the retry creates what is missing.
		db.mu.Lock()
		clear(db.parts)
		db.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("store points: %w", err)
	}
	return nil
}

// merge copies rows into the session's staging table and merges them into
// the points table in one transaction.
func (db *DB) merge(ctx context.Context, rows []row) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlStage); err != nil {
			return fmt.Errorf("staging table: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"edgevault_stage"}, stageCols, &copySource{rows: rows, i: -1}); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		if _, err := tx.Exec(ctx, sqlMerge); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		return nil
	})
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// copySource feeds rows to CopyFrom, reusing one slice of values.
type copySource struct {
	rows []row
	i    int
	vals [6]any
}

func (c *copySource) Next() bool { c.i++; return c.i < len(c.rows) }
func (c *copySource) Err() error { return nil }

func (c *copySource) Values() ([]any, error) {
	r := &c.rows[c.i]
	c.vals = [6]any{r.sid, time.UnixMilli(r.t), nil, nil, nil, nil}
	switch r.v.Kind() {
	case point.KindFloat:
		c.vals[2] = r.v.Float()
	case point.KindInt:
		c.vals[3] = r.v.Int()
	case point.KindBool:
		c.vals[4] = r.v.Bool()
	default:
		c.vals[5] = r.v.Str()
	}
	return c.vals[:], nil
}
