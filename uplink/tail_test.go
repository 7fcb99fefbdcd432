package uplink

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

// openTailed opens a store in dir with an outbox fed by its tail, as the
// edge node wires them.
func openTailed(t *testing.T, dir string, cfg Config, clk *fakeClock) (*store.DB, *Outbox) {
	t.Helper()
	db, err := store.Open(dir, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := Open(cfg, kv.WithPrefix(db.Meta(), "uplink/"), Options{Sealer: testSealer, Signer: testSigner,
		Clock: clk, Logger: slog.New(slog.DiscardHandler), Confirm: db.Confirm})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Tail(ob.Observe); err != nil {
		t.Fatal(err)
	}
	return db, ob
}

// TestTailSurvivesCrash: points durable in the store but only pending in
// the outbox's memory when the process dies reach the cloud after the
// restart, once.
func TestTailSurvivesCrash(t *testing.T) {
	c := newCloud(t, nil)
	clk := newFakeClock()
	cfg := testConfig(c.srv.URL)
	cfg.BatchPoints = 1000 // nothing is cut before the "crash"
	dir := t.TempDir()
	db, ob := openTailed(t, dir, cfg, clk)
	for i := range 5 {
		if _, err := db.Append(readings(1000+int64(i)*5, 5)); err != nil {
			t.Fatal(err)
		}
	}
	if st := ob.Status(); st.PendingPoints != 25 || st.BacklogBatches != 0 {
		t.Fatalf("before crash: %+v", st)
	}
	// The outbox dies without flushing; the store closes (a kill -9 leaves
	// the same WAL records, which TestKill9 in package store covers).
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, ob = openTailed(t, dir, cfg, clk)
	defer db.Close()
	if st := ob.Status(); st.PendingPoints != 25 {
		t.Fatalf("after restart %d points pending, want the 25 unsent", st.PendingPoints)
	}
	if _, err := db.Append([]point.Reading{{Device: "d1", Metric: "temp", Time: 5000, Value: point.Float(1)}}); err != nil {
		t.Fatal(err)
	}
	start(t, ob)
	eventually(t, clk, step, func() bool {
		return c.storedCount() >= 1 && ob.Status().PendingPoints == 0 && ob.Status().BacklogBatches == 0
	})
	assertExactlyOnce(t, c, 26)
}

// TestConfirmWaitsForPersist: the store may drop WAL records only up to
// the last commit wholly persisted in batches.
func TestConfirmWaitsForPersist(t *testing.T) {
	var confirmed []uint64
	clk := newFakeClock()
	ob, err := Open(testConfig("http://127.0.0.1:1"), kv.NewMem(), Options{Sealer: testSealer, Signer: testSigner,
		Clock: clk, Logger: slog.New(slog.DiscardHandler),
		Confirm: func(seq uint64) error { confirmed = append(confirmed, seq); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ob.Observe(7, readings(0, 4))
	ob.MarkHigh("d2", "gas", nil)
	ob.Observe(9, append(readings(10, 2), point.Reading{Device: "d2", Metric: "gas", Time: 3, Value: point.Float(1)}))
	if err := ob.cut(func(k pendKey, _ *pending) bool { return k.prio == PriorityHigh }); err != nil {
		t.Fatal(err)
	}
	if len(confirmed) > 0 && confirmed[len(confirmed)-1] >= 7 {
		t.Fatalf("confirmed %v while commits 7 and 9 are partly pending", confirmed)
	}
	if st := ob.Status(); st.HighBatches != 1 || st.PendingPoints != 6 {
		t.Fatalf("status %+v, want 1 high batch and 6 bulk pending", st)
	}
	if err := ob.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(confirmed) == 0 || confirmed[len(confirmed)-1] != 9 {
		t.Fatalf("confirmed %v, want it to end at 9", confirmed)
	}
}

// TestRepositionSequences: a node restored from a backup or from the cloud
// never reuses a sequence number the cloud may hold.
func TestRepositionSequences(t *testing.T) {
	c := newCloud(t, nil)
	clk := newFakeClock()
	s := kv.NewMem()
	if err := SkipRestored(s); err != nil { // no outbox yet: nothing to move
		t.Fatal(err)
	}
	if _, err := s.Get(keyNext); err == nil {
		t.Fatal("SkipRestored created an outbox position")
	}
	ob := openTest(t, testConfig(c.srv.URL), s, clk)
	enqueueBatches(t, ob, PriorityBulk, 0, 2) // seqs 1 and 2
	if err := SkipRestored(s); err != nil {
		t.Fatal(err)
	}
	ob = openTest(t, testConfig(c.srv.URL), s, clk)
	if ob.nextSeq <= RestoreJump {
		t.Fatalf("after SkipRestored next seq %d, want past %d", ob.nextSeq, uint64(RestoreJump))
	}
	if err := SetNextSeq(s, 5); err != nil { // never moves back
		t.Fatal(err)
	}
	if ob = openTest(t, testConfig(c.srv.URL), s, clk); ob.nextSeq <= RestoreJump {
		t.Fatalf("SetNextSeq moved back to %d", ob.nextSeq)
	}
	fresh := kv.NewMem()
	if err := SetNextSeq(fresh, 77); err != nil {
		t.Fatal(err)
	}
	if ob = openTest(t, testConfig(c.srv.URL), fresh, clk); ob.nextSeq != 77 {
		t.Fatalf("SetNextSeq on a fresh store: next %d, want 77", ob.nextSeq)
	}
}

// TestStatusWhileCutting: a batch being sealed and written is still
// counted as pending, so "nothing pending and nothing queued" means sent.
func TestStatusWhileCutting(t *testing.T) {
	sealing, release := make(chan struct{}), make(chan struct{})
	slow := func(h Header, rs []point.Reading, recs [][]byte) ([]byte, error) {
		close(sealing)
		<-release
		return testSealer(h, rs, recs)
	}
	ob, err := Open(testConfig("http://127.0.0.1:1"), kv.NewMem(), Options{Sealer: slow, Signer: testSigner,
		Clock: newFakeClock(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ob.Observe(1, readings(0, 4))
	done := make(chan error, 1)
	go func() { done <- ob.Flush() }()
	<-sealing
	if st := ob.Status(); st.PendingPoints != 4 || st.BacklogBatches != 0 {
		t.Errorf("while sealing: pending %d, queued %d; want 4 pending", st.PendingPoints, st.BacklogBatches)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := ob.Status(); st.PendingPoints != 0 || st.BacklogBatches != 1 {
		t.Errorf("after: pending %d, queued %d; want 1 batch queued", st.PendingPoints, st.BacklogBatches)
	}
}

// TestLargeCommitSplit: one group commit larger than BatchPoints becomes
// several batches of at most BatchPoints, in order.
func TestLargeCommitSplit(t *testing.T) {
	c := newCloud(t, nil)
	clk := newFakeClock()
	ob := openTest(t, testConfig(c.srv.URL), kv.NewMem(), clk) // BatchPoints 10
	ob.Observe(1, readings(0, 35))
	if err := ob.Flush(); err != nil {
		t.Fatal(err)
	}
	st := ob.Status()
	if st.BacklogBatches != 4 || st.BacklogPoints != 35 {
		t.Fatalf("queued %d batches with %d points, want 4 with 35", st.BacklogBatches, st.BacklogPoints)
	}
	start(t, ob)
	eventually(t, clk, step, func() bool { return ob.Status().BacklogBatches == 0 })
	order, _, _ := c.snapshot()
	if len(order) != 4 || !slices.IsSorted(order) {
		t.Fatalf("sent %v, want 4 batches in order", order)
	}
	assertExactlyOnce(t, c, 35)
}
