package store

import (
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
)

func TestRetention(t *testing.T) {
	clock := &fakeClock{t: time.UnixMilli(t0)}
	db := openT(t, t.TempDir(), Options{Now: clock.Now, Retention: 2 * time.Hour,
		RollupRetention: 5 * time.Hour})
	var rs []point.Reading
	for i := int64(0); i < 4*3600; i += 60 { // 4 hours, one point a minute
		rs = append(rs, rd("d", "m", t0+i*1000, point.Float(1)))
	}
	mustAppend(t, db, rs...)
	clock.Set(time.UnixMilli(t0 + 4*Tier1h + 10*Tier1m))
	if err := db.checkpoint(true); err != nil {
		t.Fatal(err)
	}
	if err := db.applyRetention(); err != nil {
		t.Fatal(err)
	}
	// now-2h = t0+2h10m: hours 0 and 1 have ended before it, hour 2 has not.
	raw := query(t, db, Query{Device: "d", Metric: "m", From: t0, To: t0 + 5*Tier1h})
	if len(raw.Samples) != 120 || raw.Samples[0].T != t0+2*Tier1h {
		t.Fatalf("raw after retention: %d samples from %d", len(raw.Samples), raw.Samples[0].T-t0)
	}
	hourly := query(t, db, Query{Device: "d", Metric: "m", From: t0, To: t0 + 4*Tier1h,
		Step: Tier1h, Agg: AggCount})
	if len(hourly.Samples) != 4 || hourly.Source != "rollup:1h" {
		t.Fatalf("rollups kept longer: %+v", hourly)
	}
	clock.Set(time.UnixMilli(t0 + 7*Tier1h))
	if err := db.applyRetention(); err != nil {
		t.Fatal(err)
	}
	hourly = query(t, db, Query{Device: "d", Metric: "m", From: t0, To: t0 + 4*Tier1h,
		Step: Tier1h, Agg: AggCount})
	if len(hourly.Samples) != 2 || hourly.Samples[0].T != t0+2*Tier1h {
		t.Fatalf("rollups after retention: %+v", hourly)
	}
}

// TestBackground checks that the maintenance loop alone truncates the WAL
// and applies retention.
func TestBackground(t *testing.T) {
	clock := &fakeClock{t: time.UnixMilli(t0 + 30*Tier1h)}
	db := openT(t, t.TempDir(), Options{Now: clock.Now, Retention: 24 * time.Hour,
		CheckpointInterval: 10 * time.Millisecond, FsyncInterval: 5 * time.Millisecond})
	mustAppend(t, db, rd("d", "m", t0, point.Int(1)), rd("d", "m", t0+25*Tier1h, point.Int(2)))
	deadline := time.Now().Add(5 * time.Second)
	for {
		wal := 0
		db.scan([]byte{pfxWAL}, func(_, _ []byte) error { wal++; return nil })
		raw := query(t, db, Query{Device: "d", Metric: "m", From: t0, To: t0 + 30*Tier1h})
		if wal == 0 && len(raw.Samples) == 1 && raw.Samples[0].T == t0+25*Tier1h {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5s: %d WAL records, raw %+v", wal, raw.Samples)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
