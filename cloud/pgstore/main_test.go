package pgstore

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/edgevault/edgevault/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open opens a backend on a new database and closes it when the test ends.
func open(t testing.TB, mod func(*Config)) (*DB, Config) {
	t.Helper()
	cfg := Config{URL: pgtest.URL(t)}
	if mod != nil {
		mod(&cfg)
	}
	return reopen(t, cfg), cfg
}

func reopen(t testing.TB, cfg Config) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// scalar runs a query returning one value.
func scalar[T any](t testing.TB, db *DB, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := db.pool.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}
