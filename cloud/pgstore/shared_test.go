package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/edgevault/edgevault/internal/pgtest"
	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

// TestMigrations opens one database from several goroutines at once (the
// advisory lock takes them in turn), then again after a restart.
func TestMigrations(t *testing.T) {
	db, cfg := open(t, nil)
	if _, err := db.Append(mixed()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			db, err := Open(ctx, cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	db = reopen(t, cfg)
	if v := scalar[string](t, db, "SELECT string_agg(version::text, ',' ORDER BY version) FROM edgevault.schema_migrations"); v != "1,2" {
		t.Fatalf("versions %s", v)
	}
	if n := scalar[int64](t, db, "SELECT count(*) FROM edgevault.points"); n != 2400 {
		t.Fatalf("%d rows after restart", n)
	}
}

func TestMigrationsFresh(t *testing.T) {
	cfg := Config{URL: pgtest.URL(t)}
	var wg sync.WaitGroup
	dbs := make([]*DB, 5)
	for i := range dbs {
		wg.Go(func() { dbs[i] = reopen(t, cfg) })
	}
	wg.Wait()
	if n := scalar[int64](t, dbs[0], "SELECT count(*) FROM edgevault.schema_migrations"); n != int64(len(migrations)) {
		t.Fatalf("%d migrations recorded", n)
	}
}

// TestTwoBackends writes the same and different series through two
// backends on one database at once.
func TestTwoBackends(t *testing.T) {
	a, cfg := open(t, nil)
	b := reopen(t, cfg)
	var wg sync.WaitGroup
	for i, db := range []*DB{a, b, a, b} {
		wg.Go(func() {
			rs := []point.Reading{
				{Device: "shared", Metric: "m", Time: t0 + int64(i), Value: point.Float(float64(i))},
				{Device: fmt.Sprintf("own%d", i), Metric: "m", Time: t0, Value: point.Int(int64(i))},
			}
			if res, err := db.Append(rs); err != nil || res.Stored != 2 {
				t.Errorf("append %d: %+v %v", i, res, err)
			}
		})
	}
	wg.Wait()
	for _, db := range []*DB{a, b} {
		if n := len(db.Series()); n != 5 {
			t.Fatalf("%d series, want 5", n)
		}
		res, err := db.Query(context.Background(), store.Query{Device: "shared", Metric: "m", From: t0, To: t0 + 10})
		if err != nil || len(res.Samples) != 4 {
			t.Fatalf("shared series: %+v %v", res, err)
		}
	}
}

// TestUpdateMeta increments one counter from two backends: no update is
// lost.
func TestUpdateMeta(t *testing.T) {
	a, cfg := open(t, nil)
	b := reopen(t, cfg)
	key := []byte("counter")
	var wg sync.WaitGroup
	for i := range 40 {
		db := []*DB{a, b}[i%2]
		wg.Go(func() {
			err := db.UpdateMeta(key, func(old []byte) ([]byte, error) {
				n, _ := strconv.Atoi(string(old))
				return []byte(strconv.Itoa(n + 1)), nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if v, err := b.Meta().Get(key); err != nil || string(v) != "40" {
		t.Fatalf("counter = %q, %v", v, err)
	}
	boom := errors.New("boom")
	if err := a.UpdateMeta(key, func([]byte) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("failing fn: %v", err)
	}
}

func TestMeta(t *testing.T) {
	db, _ := open(t, nil)
	defer func(n int) { scanPage = n }(scanPage)
	scanPage = 3
	m := db.Meta()
	keys := [][]byte{{'a'}, {'a', 0}, {'a', 0xff}, {'a', 0xff, 0xff}, {'a', 'b'}, {'b'}, {0xff}, {0xff, 0xff, 1}}
	for i, k := range keys {
		if err := m.Put(k, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		prefix []byte
		want   int
	}{{nil, 8}, {[]byte("a"), 5}, {[]byte{'a', 0xff}, 2}, {[]byte{0xff}, 2}, {[]byte("c"), 0}}
	for _, tc := range cases {
		var got [][]byte
		err := m.Scan(tc.prefix, func(k, _ []byte) error { got = append(got, bytes.Clone(k)); return nil })
		if err != nil || len(got) != tc.want || !slices.IsSortedFunc(got, bytes.Compare) {
			t.Fatalf("scan %q = %q, %v", tc.prefix, got, err)
		}
	}
	if err := m.Delete([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get([]byte("b")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	if v, err := m.Get([]byte{'a', 0xff}); err != nil || !bytes.Equal(v, []byte{2}) {
		t.Fatalf("get = %v, %v", v, err)
	}
	db.Close()
	if _, err := db.Append(mixed()); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}
