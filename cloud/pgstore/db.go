package pgstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

// EdgeTag is the tag whose value the series table keeps in its edge column
// (the cloud's EdgeTag); all other tags go to the tags column.
const EdgeTag = "_edge"

// DB is the PostgreSQL backend. All methods are safe for concurrent use, and
// several DBs (in one process or many) may share one database.
type DB struct {
	cfg         Config
	pool        *pgxpool.Pool
	log         *slog.Logger
	partitioned bool // the points table is partitioned (else plain or a hypertable)
	closed      atomic.Bool

	mu     sync.RWMutex // guards the following
	series map[string]seriesRef
	parts  map[int64]bool // partition starts known to exist (Unix ms)
}

// seriesRef is a cached row of edgevault.series.
type seriesRef struct {
	id   int64
	kind point.Kind
}

// Open connects, applies the missing migrations and returns the backend.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if log == nil {
		log = slog.Default()
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: url: %v", ErrConfig, err)
	}
	pc.MaxConns = cfg.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db := &DB{cfg: cfg, pool: pool, log: log, series: map[string]seriesRef{}, parts: map[int64]bool{}}
	if err := db.init(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return db, nil
}

func (db *DB) init(ctx context.Context) error {
	if err := migrate(ctx, db.pool, db.cfg.Layout, db.log); err != nil {
		return err
	}
	var relkind string
	err := db.pool.QueryRow(ctx, `SELECT relkind::text FROM pg_class
		WHERE oid = 'edgevault.points'::regclass`).Scan(&relkind)
	if err != nil {
		return fmt.Errorf("points table: %w", err)
	}
	db.partitioned = relkind == "p"
	layout := map[bool]string{true: LayoutPartitioned, false: LayoutPlain}[db.partitioned]
	if layout != db.cfg.Layout {
		db.log.Warn("pgstore: existing points table keeps its layout", "layout", layout, "configured", db.cfg.Layout)
	}
	db.log.Info("pgstore: ready", "host", db.pool.Config().ConnConfig.Host,
		"database", db.pool.Config().ConnConfig.Database, "layout", layout)
	return nil
}

// Close closes the pool. Calls after Close fail with store.ErrClosed.
func (db *DB) Close() error {
	if db.closed.CompareAndSwap(false, true) {
		db.pool.Close()
	}
	return nil
}

// Pool is the connection pool, for tools and tests.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// opCtx bounds a call that has no context of its own.
func (db *DB) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), db.cfg.Timeout)
}

func (db *DB) check() error {
	if db.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// Accepted times are years 1 to 9999 (as in the cloud's stats API), well
// inside what timestamptz holds.
const (
	minTime = -62135596800000
	maxTime = 253402300799999
)

func tsOf(ms int64) time.Time { return time.UnixMilli(min(max(ms, minTime), maxTime+1)).UTC() }
