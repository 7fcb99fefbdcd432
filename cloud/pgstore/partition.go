package pgstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// ensurePartitions creates the partitions rows fall into that this DB has
// not seen yet. rows are sorted by series, not time.
func (db *DB) ensurePartitions(ctx context.Context, rows []row) error {
	if !db.partitioned {
		return nil
	}
	w := db.cfg.Partition.Milliseconds()
	var need []int64
	db.mu.RLock()
	for _, r := range rows {
		start := floorTo(r.t, w)
		if !db.parts[start] && !slices.Contains(need, start) {
			need = append(need, start)
		}
	}
	db.mu.RUnlock()
	for _, start := range need {
		if err := db.createPartition(ctx, start, start+w); err != nil {
			return err
		}
		db.mu.Lock()
		db.parts[start] = true
		db.mu.Unlock()
	}
	return nil
}

// createPartition creates the partition [from, to) unless it exists. The
// advisory lock keeps two processes from racing in the catalog, where
// IF NOT EXISTS alone can still fail.
func (db *DB) createPartition(ctx context.Context, from, to int64) error {
	name := partitionName(time.UnixMilli(from).UTC(), db.cfg.Partition)
	sql := fmt.Sprintf("CREATE TABLE IF NOT EXISTS edgevault.%s PARTITION OF edgevault.points FOR VALUES FROM ('%s') TO ('%s')",
		name, pgTime(from), pgTime(to))
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockPartition); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql)
		return err
	})
	if err != nil {
		return fmt.Errorf("create partition %s: %w", name, err)
	}
	return nil
}

// partitionName is points_YYYYMMDD, with _HH for partitions shorter than
// a day.
func partitionName(start time.Time, span time.Duration) string {
	if span%(24*time.Hour) == 0 {
		return "points_" + start.Format("20060102")
	}
	return "points_" + start.Format("20060102_15")
}

// pgTime is a timestamptz literal of a Unix ms time.
func pgTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.000Z07:00")
}

func floorTo(t, w int64) int64 {
	r := t % w
	if r < 0 {
		r += w
	}
	return t - r
}
