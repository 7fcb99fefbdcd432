package store

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/edgevault/edgevault/point"
)

// TestCrash appends from several goroutines, then takes a crash image of
// the in-memory filesystem while the DB is still open and checks that every
// acknowledged point is in the reopened image. A process kill keeps what was
// written to the OS (UnsyncedDataPercent 100, with a random 50% variant
// where the unsynced tail is torn); power loss keeps only what was fsynced.
func TestCrash(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policy   FsyncPolicy
		unsynced int
		fsyncAll bool // call syncAll before the crash (power loss after the interval)
	}{
		{"kill under interval", FsyncInterval, 100, false},
		{"kill under always", FsyncAlways, 100, false},
		{"power loss under always", FsyncAlways, 0, false},
		{"power loss after interval fsync", FsyncInterval, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			db, err := Open("db", Options{Fsync: tc.policy, fs: fs, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			acked := crashWorkload(t, db)
			if tc.fsyncAll {
				if err := db.ifs.syncAll(); err != nil {
					t.Fatal(err)
				}
			}
			img := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: tc.unsynced,
				RNG: rand.New(rand.NewPCG(1, 2))})
			db.Close()
			db2, err := Open("db", Options{fs: img, Logger: quietLogger()})
			if err != nil {
				t.Fatalf("reopen crash image: %v", err)
			}
			defer db2.Close()
			for dev, want := range acked {
				got := query(t, db2, Query{Device: dev, Metric: "m", From: t0, To: t0 + 1e9})
				sameSamples(t, dev, got.Samples, want)
			}
		})
	}
}

// crashWorkload appends from 4 goroutines, with checkpoints in between, and
// returns per device the points acknowledged.
func crashWorkload(t *testing.T, db *DB) map[string][]Sample {
	acked := map[string][]Sample{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		dev := fmt.Sprint("dev", g)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(0); i < 600; i++ {
				if _, err := db.Append([]point.Reading{rd(dev, "m", t0+i*1000, point.Int(i))}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[dev] = append(acked[dev], Sample{T: t0 + i*1000, V: point.Int(i)})
				mu.Unlock()
				if g == 0 && i%200 == 100 {
					if err := db.checkpoint(false); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	return acked
}

func TestConcurrentAppendQuery(t *testing.T) {
	db := openT(t, t.TempDir(), Options{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dev := fmt.Sprint("d", g%2) // two goroutines per device: overwrites race
			for i := int64(0); i < 300; i++ {
				mustAppend(t, db, rd(dev, "m", t0+i*1000, point.Float(float64(i))))
				if i%50 == 0 {
					res := query(t, db, Query{Device: dev, Metric: "m", From: t0, To: t0 + 1e6,
						Step: Tier1m, Agg: AggCount})
					_ = res
				}
			}
		}()
	}
	wg.Wait()
	for _, dev := range []string{"d0", "d1"} {
		res := query(t, db, Query{Device: dev, Metric: "m", From: t0, To: t0 + 1e6})
		if len(res.Samples) != 300 {
			t.Fatalf("%s: %d samples", dev, len(res.Samples))
		}
		c := query(t, db, Query{Device: dev, Metric: "m", From: t0, To: t0 + 1e6, Step: Tier1h, Agg: AggCount})
		if len(c.Samples) != 1 || c.Samples[0].V.Int() != 300 {
			t.Fatalf("%s: count %+v", dev, c)
		}
	}
}
