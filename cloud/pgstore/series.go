package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

var kindNames = map[point.Kind]string{
	point.KindFloat: "float", point.KindInt: "int", point.KindBool: "bool", point.KindString: "string",
}

func parseKind(s string) (point.Kind, error) {
	for k, n := range kindNames {
		if n == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown series kind %q", s)
}

// seriesCols are the identity columns of a series as the table keeps them:
// the edge tag apart, the other tags as a JSON object.
type seriesCols struct {
	edge, device, metric string
	tags                 []byte // JSON object
}

func colsOf(device, metric string, tags []point.Tag) seriesCols {
	c := seriesCols{device: device, metric: metric}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		if t.Key == EdgeTag {
			c.edge = t.Value
			continue
		}
		m[t.Key] = t.Value
	}
	c.tags, _ = json.Marshal(m) // a map of strings always marshals
	return c
}

// tagsOf rebuilds the sorted tags of a series row.
func tagsOf(edge string, raw []byte) ([]point.Tag, error) {
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("series tags: %w", err)
	}
	tags := make([]point.Tag, 0, len(m)+1)
	for k, v := range m {
		tags = append(tags, point.Tag{Key: k, Value: v})
	}
	if edge != "" {
		tags = append(tags, point.Tag{Key: EdgeTag, Value: edge})
	}
	slices.SortFunc(tags, func(a, b point.Tag) int { return strings.Compare(a.Key, b.Key) })
	if len(tags) == 0 {
		return nil, nil
	}
	return tags, nil
}

// sqlEnsureSeries inserts a series unless it exists and returns its row.
// When another session inserted it concurrently, the statement's snapshot
// may not show it and no row comes back; ensureSeries then asks again.
const sqlEnsureSeries = `
WITH ins AS (
	INSERT INTO edgevault.series (edge, device, metric, tags, kind)
	VALUES ($1, $2, $3, $4::jsonb, $5)
	ON CONFLICT (edge, device, metric, tags) DO NOTHING
	RETURNING id, kind)
SELECT id, kind FROM ins
UNION ALL
SELECT id, kind FROM edgevault.series WHERE edge = $1 AND device = $2 AND metric = $3 AND tags = $4::jsonb
LIMIT 1`

const sqlFindSeries = `SELECT id, kind FROM edgevault.series
WHERE edge = $1 AND device = $2 AND metric = $3 AND tags = $4::jsonb`

// newSeries is a series an Append needs that is not in the cache.
type newSeries struct {
	key  string
	cols seriesCols
	kind point.Kind
}

// ensureSeries creates or finds the series in one round trip and caches them.
func (db *DB) ensureSeries(ctx context.Context, todo []newSeries) error {
	for try := 0; len(todo) > 0; try++ {
		if try == 3 {
			return fmt.Errorf("series %q: not found after insert", todo[0].key)
		}
		b := &pgx.Batch{}
		for _, n := range todo {
			b.Queue(sqlEnsureSeries, n.cols.edge, n.cols.device, n.cols.metric, string(n.cols.tags), kindNames[n.kind])
		}
		missed, err := db.sendSeries(ctx, b, todo)
		if err != nil {
			return err
		}
		todo = missed
	}
	return nil
}

// sendSeries runs a batch of sqlEnsureSeries and returns the series that
// got no row.
func (db *DB) sendSeries(ctx context.Context, b *pgx.Batch, todo []newSeries) ([]newSeries, error) {
	br := db.pool.SendBatch(ctx, b)
	defer br.Close()
	var missed []newSeries
	for _, n := range todo {
		ref, err := scanSeries(br.QueryRow())
		if errors.Is(err, pgx.ErrNoRows) {
			missed = append(missed, n)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ensure series: %w", err)
		}
		db.cacheSeries(n.key, ref)
	}
	return missed, br.Close()
}

func scanSeries(row pgx.Row) (seriesRef, error) {
	var ref seriesRef
	var kind string
	if err := row.Scan(&ref.id, &kind); err != nil {
		return ref, err
	}
	var err error
	ref.kind, err = parseKind(kind)
	return ref, err
}

func (db *DB) cacheSeries(key string, ref seriesRef) {
	db.mu.Lock()
	db.series[key] = ref
	db.mu.Unlock()
}

// lookup finds a series in the cache, then in the table (another process
// may have created it). ok is false for an unknown series.
func (db *DB) lookup(ctx context.Context, device, metric string, tags []point.Tag) (seriesRef, bool, error) {
	key := point.SeriesKey(device, metric, tags)
	db.mu.RLock()
	ref, ok := db.series[key]
	db.mu.RUnlock()
	if ok {
		return ref, true, nil
	}
	c := colsOf(device, metric, tags)
	ref, err := scanSeries(db.pool.QueryRow(ctx, sqlFindSeries, c.edge, c.device, c.metric, string(c.tags)))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return ref, false, nil
	case err != nil:
		return ref, false, fmt.Errorf("find series: %w", err)
	}
	db.cacheSeries(key, ref)
	return ref, true, nil
}

// Series lists every series, ordered by id. MinT and MaxT are left 0: the
// table does not keep them and scanning every partition for them would
// cost more than its callers gain. An error is logged and gives nil.
func (db *DB) Series() []store.SeriesInfo {
	out, err := db.listSeries()
	if err != nil {
		db.log.Error("pgstore: list series", "err", err)
		return nil
	}
	return out
}

func (db *DB) listSeries() ([]store.SeriesInfo, error) {
	if err := db.check(); err != nil {
		return nil, err
	}
	ctx, cancel := db.opCtx()
	defer cancel()
	rows, err := db.pool.Query(ctx, "SELECT id, edge, device, metric, tags, kind FROM edgevault.series ORDER BY id")
	if err != nil {
		return nil, err
	}
	var out []store.SeriesInfo
	for rows.Next() {
		var si store.SeriesInfo
		var edge, kind string
		var tags []byte
		if err := rows.Scan(&si.ID, &edge, &si.Device, &si.Metric, &tags, &kind); err != nil {
			return nil, err
		}
		if si.Tags, err = tagsOf(edge, tags); err != nil {
			return nil, err
		}
		if si.Kind, err = parseKind(kind); err != nil {
			return nil, err
		}
		out = append(out, si)
	}
	return out, rows.Err()
}
