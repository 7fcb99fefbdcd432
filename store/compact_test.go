package store

import (
	"context"
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
)

func blocksIn(t *testing.T, db *DB, sid uint64, window int64) int {
	t.Helper()
	n := 0
	if err := db.scan(blockKey(sid, window, 0)[:17], func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCompactWindows checks that background compaction merges the blocks
// of a closed window into one, first from the full scan made after Open,
// then from the windows touched since, and that the newest write wins.
func TestCompactWindows(t *testing.T) {
	clock := &fakeClock{t: time.UnixMilli(t0 + 10*Tier1h)}
	db := openT(t, t.TempDir(), Options{Now: clock.Now})
	m := model{}
	write := func(from, n, val int64) {
		var rs []point.Reading
		for i := from; i < from+n; i++ {
			r := rd("d", "m", t0+i*1000, point.Int(val+i))
			rs = append(rs, r)
			m.put(r)
		}
		mustAppend(t, db, rs...)
		if err := db.checkpoint(true); err != nil {
			t.Fatal(err)
		}
	}
	check := func(stage string, wantBlocks int) {
		t.Helper()
		if n := blocksIn(t, db, 1, t0); n != wantBlocks {
			t.Fatalf("%s: %d blocks in window, want %d", stage, n, wantBlocks)
		}
		got := query(t, db, Query{Device: "d", Metric: "m", From: t0, To: t0 + Tier1h})
		sameSamples(t, stage, got.Samples, m.raw(point.SeriesKey("d", "m", nil), t0, t0+Tier1h))
	}
	write(0, 300, 0)    // one block
	write(100, 10, 1e6) // overwrites: a second block
	check("before", 2)
	if err := db.compactWindows(context.Background(), compactPerTick, false); err != nil {
		t.Fatal(err)
	}
	check("after full scan", 1)
	write(200, 5, 2e6)
	write(50, 5, 3e6)
	check("before touched", 3)
	if err := db.compactWindows(context.Background(), compactPerTick, false); err != nil {
		t.Fatal(err)
	}
	check("after touched", 1)
}
