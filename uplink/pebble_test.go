package uplink

import (
	"testing"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/store"
)

// TestPebbleReopen runs the outbox over the store's durable metadata KV: the
// process stops without a clean shutdown and a new one delivers the queued
// batches.
func TestPebbleReopen(t *testing.T) {
	dir := t.TempDir()
	open := func() (*store.DB, kv.Store) {
		db, err := store.Open(dir, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return db, kv.WithPrefix(db.Meta(), "uplink/")
	}
	c := newCloud(t, nil)
	clk := newFakeClock()

	db, meta := open()
	ob := openTest(t, testConfig(c.srv.URL), meta, clk)
	enqueueBatches(t, ob, PriorityBulk, 1000, 3)
	enqueueBatches(t, ob, PriorityHigh, 50000, 1)
	if err := db.Close(); err != nil { // no Run, no Flush: as after kill -9
		t.Fatal(err)
	}

	db, meta = open()
	defer db.Close()
	ob = openTest(t, testConfig(c.srv.URL), meta, clk)
	if st := ob.Status(); st.BacklogBatches != 4 || st.HighBatches != 1 {
		t.Fatalf("after reopen: %d batches, %d high; want 4 and 1", st.BacklogBatches, st.HighBatches)
	}
	stop := start(t, ob)
	eventually(t, clk, step, func() bool { return ob.Status().BacklogBatches == 0 })
	stop()
	assertExactlyOnce(t, c, 40)
	if order, _, _ := c.snapshot(); order[0] != 4 {
		t.Errorf("order %v: want the high batch (seq 4) first", order)
	}
	n := 0
	if err := meta.Scan([]byte("q"), func(k, v []byte) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("%d queued records left after acks (err %v)", n, err)
	}
}
