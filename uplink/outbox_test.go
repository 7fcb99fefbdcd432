package uplink

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/edgevault/edgevault/kv"
)

const step = time.Minute // how far eventually may jump the fake clock

func TestDeliversInOrderExactlyOnce(t *testing.T) {
	c := newCloud(t, nil)
	clk := newFakeClock()
	ob := openTest(t, testConfig(c.srv.URL), kv.NewMem(), clk)
	enqueueBatches(t, ob, PriorityBulk, 1000, 25)
	start(t, ob)
	eventually(t, clk, step, func() bool { return ob.Status().BacklogBatches == 0 && c.storedCount() == 25 })
	order, _, attempts := c.snapshot()
	if !slices.IsSorted(order) || order[0] != 1 || order[24] != 25 {
		t.Errorf("order = %v, want 1..25", order)
	}
	for seq, n := range attempts {
		if n != 1 {
			t.Errorf("seq %d sent %d times, want 1", seq, n)
		}
	}
	assertExactlyOnce(t, c, 250)
	st := ob.Status()
	if st.SentBatches != 25 || st.SentPoints != 250 || st.LastAckedSeq != 25 || st.LastSuccess.IsZero() || st.BacklogBytes != 0 {
		t.Errorf("status = %+v", st)
	}
}

func TestRetriesWithSameKey(t *testing.T) {
	tests := []struct {
		name string
		fail action
	}{
		{"500 then 200", act500},
		{"commit then reset", actCommitReset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCloud(t, func(seq uint64, attempt int) action {
				if attempt == 1 {
					return tt.fail
				}
				return actOK
			})
			clk := newFakeClock()
			ob := openTest(t, testConfig(c.srv.URL), kv.NewMem(), clk)
			enqueueBatches(t, ob, PriorityBulk, 1000, 3)
			start(t, ob)
			eventually(t, clk, step, func() bool { return ob.Status().BacklogBatches == 0 })
			order, _, attempts := c.snapshot()
			if !slices.Equal(order, []uint64{1, 2, 3}) {
				t.Errorf("order = %v", order)
			}
			c.mu.Lock()
			for seq := uint64(1); seq <= 3; seq++ {
				if attempts[seq] != 2 {
					t.Errorf("seq %d: %d attempts, want 2", seq, attempts[seq])
				}
				want := IdempotencyKey("edge-1", seq)
				for _, k := range c.keys[seq] {
					if k != want {
						t.Errorf("seq %d sent with key %q, want %q", seq, k, want)
					}
				}
			}
			c.mu.Unlock()
			assertExactlyOnce(t, c, 30)
			if st := ob.Status(); st.LastError == "" || st.SentBatches != 3 {
				t.Errorf("status = %+v, want a last error and 3 sent", st)
			}
		})
	}
}

func TestRestartResumesUnacked(t *testing.T) {
	down := true
	c := newCloud(t, func(seq uint64, attempt int) action {
		if down {
			return act500
		}
		return actOK
	})
	store := kv.NewMem()
	clk := newFakeClock()
	ob := openTest(t, testConfig(c.srv.URL), store, clk)
	enqueueBatches(t, ob, PriorityBulk, 1000, 4)
	// Pending readings are persisted when Run stops.
	if err := ob.Enqueue("telemetry", PriorityBulk, readings(5000, 3), nil); err != nil {
		t.Fatal(err)
	}
	stop := start(t, ob)
	eventually(t, clk, step, func() bool { _, _, a := c.snapshot(); return a[1] >= 2 })
	stop()
	if n := c.storedCount(); n != 0 {
		t.Fatalf("cloud stored %d batches while down", n)
	}

	c.mu.Lock()
	down = false
	c.mu.Unlock()
	ob2 := openTest(t, testConfig(c.srv.URL), store, clk)
	if st := ob2.Status(); st.BacklogBatches != 5 || st.BacklogPoints != 43 {
		t.Fatalf("reopened backlog = %d batches %d points, want 5 and 43", st.BacklogBatches, st.BacklogPoints)
	}
	start(t, ob2)
	eventually(t, clk, step, func() bool { return ob2.Status().BacklogBatches == 0 })
	order, _, _ := c.snapshot()
	if !slices.Equal(order, []uint64{1, 2, 3, 4, 5}) {
		t.Errorf("order = %v", order)
	}
	assertExactlyOnce(t, c, 43)

	// Sequence numbers are never reused, even with nothing left queued.
	ob3 := openTest(t, testConfig(c.srv.URL), store, clk)
	enqueueBatches(t, ob3, PriorityBulk, 9000, 1)
	start(t, ob3)
	eventually(t, clk, step, func() bool { return c.storedCount() == 6 })
	if order, _, _ := c.snapshot(); order[5] <= 5 {
		t.Errorf("seq after restart = %d, want a new one above 5", order[5])
	}
}

func TestPriorities(t *testing.T) {
	tests := []struct {
		name       string
		bulk, high int
		want       string // b = bulk, h = high, in arrival order
	}{
		{"high first", 3, 2, "hhbbb"},
		{"bulk not starved", 3, 10, "hhhhbhhhhbhhb"},
		{"only bulk", 2, 0, "bb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCloud(t, nil)
			clk := newFakeClock()
			ob := openTest(t, testConfig(c.srv.URL), kv.NewMem(), clk)
			enqueueBatches(t, ob, PriorityBulk, 1000, tt.bulk)
			enqueueBatches(t, ob, PriorityHigh, 100000, tt.high)
			start(t, ob)
			eventually(t, clk, step, func() bool { return ob.Status().BacklogBatches == 0 })
			order, _, _ := c.snapshot()
			var got []byte
			for _, seq := range order {
				if seq <= uint64(tt.bulk) {
					got = append(got, 'b')
				} else {
					got = append(got, 'h')
				}
			}
			if string(got) != tt.want {
				t.Errorf("arrival order %s (seqs %v), want %s", got, order, tt.want)
			}
			assertExactlyOnce(t, c, 10*(tt.bulk+tt.high))
		})
	}
}

func TestFlushInterval(t *testing.T) {
	c := newCloud(t, nil)
	clk := newFakeClock()
	ob := openTest(t, testConfig(c.srv.URL), kv.NewMem(), clk)
	start(t, ob)
	if err := ob.Enqueue("telemetry", PriorityBulk, readings(1000, 3), nil); err != nil {
		t.Fatal(err)
	}
	if err := ob.Enqueue("alerts", PriorityHigh, nil, [][]byte{[]byte(`{"alert":"hot"}`)}); err != nil {
		t.Fatal(err)
	}
	if st := ob.Status(); st.PendingPoints != 4 || st.OldestUnsent.IsZero() {
		t.Errorf("status before flush = %+v", st)
	}
	waitFor(t, func() bool { return clk.advanceToNext(time.Second) }) // the first flush tick
	waitFor(t, func() bool { return c.storedCount() == 2 })
	if order, _, _ := c.snapshot(); order[0] != 1 {
		t.Errorf("alert batch not first: %v", order)
	}
}

func TestFailover(t *testing.T) {
	bad := newCloud(t, func(uint64, int) action { return act500 })
	good := newCloud(t, nil)
	clk := newFakeClock()
	ob := openTest(t, testConfig(bad.srv.URL, good.srv.URL), kv.NewMem(), clk)
	enqueueBatches(t, ob, PriorityBulk, 1000, 5)
	start(t, ob)
	eventually(t, clk, step, func() bool { return ob.Status().BacklogBatches == 0 })
	if n := bad.storedCount(); n != 0 {
		t.Errorf("failing URL stored %d", n)
	}
	assertExactlyOnce(t, good, 50)
	st := ob.Status()
	if len(st.URLs) != 2 || st.URLs[0].ConsecutiveFailures == 0 || st.URLs[0].LastError == "" ||
		st.URLs[1].LastSuccess.IsZero() || !st.URLs[1].Active {
		t.Errorf("url status = %+v", st.URLs)
	}
}

func TestFailoverWhenURLDown(t *testing.T) {
	dead := newCloud(t, nil)
	deadURL := dead.srv.URL
	dead.srv.Close() // connection refused
	good := newCloud(t, nil)
	clk := newFakeClock()
	ob := openTest(t, testConfig(deadURL, good.srv.URL), kv.NewMem(), clk)
	enqueueBatches(t, ob, PriorityBulk, 1000, 3)
	start(t, ob)
	eventually(t, clk, step, func() bool { return ob.Status().BacklogBatches == 0 })
	assertExactlyOnce(t, good, 30)
}

func TestRejectedKeptVisible(t *testing.T) {
	reject := true
	c := newCloud(t, func(seq uint64, attempt int) action {
		if seq == 2 && reject {
			return act400
		}
		return actOK
	})
	store := kv.NewMem()
	clk := newFakeClock()
	ob := openTest(t, testConfig(c.srv.URL), store, clk)
	enqueueBatches(t, ob, PriorityBulk, 1000, 3)
	start(t, ob)
	eventually(t, clk, step, func() bool { return ob.Status().BacklogBatches == 0 })
	st := ob.Status()
	if len(st.Rejected) != 1 || st.Rejected[0].Seq != 2 || st.Rejected[0].Reason == "" {
		t.Fatalf("rejected = %+v", st.Rejected)
	}
	// It survives a restart.
	if st := openTest(t, testConfig(c.srv.URL), store, clk).Status(); len(st.Rejected) != 1 {
		t.Fatalf("rejected after reopen = %+v", st.Rejected)
	}
	c.mu.Lock()
	reject = false
	c.mu.Unlock()
	if err := ob.Requeue(2); err != nil {
		t.Fatal(err)
	}
	eventually(t, clk, step, func() bool { return c.storedCount() == 3 })
	assertExactlyOnce(t, c, 30)
	if err := ob.Requeue(2); !errors.Is(err, ErrNotRejected) {
		t.Errorf("second requeue = %v, want ErrNotRejected", err)
	}
	if st := ob.Status(); len(st.Rejected) != 0 {
		t.Errorf("rejected after requeue = %+v", st.Rejected)
	}
}

func TestDiskBudgetBlock(t *testing.T) {
	c := newCloud(t, nil)
	clk := newFakeClock()
	cfg := testConfig(c.srv.URL)
	cfg.DiskBudgetBytes = 1000
	ob := openTest(t, cfg, kv.NewMem(), clk)
	var err error
	n := 0
	for ; n < 100 && err == nil; n++ {
		err = ob.Enqueue("telemetry", PriorityBulk, readings(int64(1000+n*10), 10), nil)
	}
	if !errors.Is(err, ErrBacklogFull) {
		t.Fatalf("enqueue = %v, want ErrBacklogFull", err)
	}
	accepted := n - 1
	if err := ob.Enqueue("alerts", PriorityHigh, readings(1, 1), nil); !errors.Is(err, ErrBacklogFull) {
		t.Errorf("high enqueue when full = %v, want ErrBacklogFull", err)
	}
	st := ob.Status()
	if st.BlockedEnqueue != 2 || st.BacklogBytes < cfg.DiskBudgetBytes || st.DroppedBatches != 0 {
		t.Errorf("status = %+v", st)
	}
	start(t, ob)
	eventually(t, clk, step, func() bool { return ob.Status().BacklogBatches == 0 })
	if err := ob.Enqueue("telemetry", PriorityBulk, readings(1, 1), nil); err != nil {
		t.Errorf("enqueue after drain = %v", err)
	}
	assertExactlyOnce(t, c, accepted*10)
}

func TestDiskBudgetDropOldest(t *testing.T) {
	clk := newFakeClock()
	cfg := testConfig("http://127.0.0.1:1")
	cfg.WhenFull = WhenFullDropOldest
	cfg.DiskBudgetBytes = 1000
	ob := openTest(t, cfg, kv.NewMem(), clk)
	enqueueBatches(t, ob, PriorityHigh, 100000, 2)
	enqueueBatches(t, ob, PriorityBulk, 1000, 20)
	st := ob.Status()
	if st.DroppedBatches == 0 || st.DroppedPoints != 10*st.DroppedBatches {
		t.Fatalf("dropped %d batches %d points", st.DroppedBatches, st.DroppedPoints)
	}
	if st.BacklogBytes > cfg.DiskBudgetBytes {
		t.Errorf("backlog %d bytes over budget %d", st.BacklogBytes, cfg.DiskBudgetBytes)
	}
	if st.HighBatches != 2 {
		t.Errorf("high batches = %d, want 2 (never dropped)", st.HighBatches)
	}
	ob.mu.Lock()
	bulk := slices.Clone(ob.queues[PriorityBulk])
	ob.mu.Unlock()
	if last := bulk[len(bulk)-1].Seq; last != 22 {
		t.Errorf("newest bulk seq = %d, want 22 kept", last)
	}
	if int64(len(bulk)) != 20-st.DroppedBatches || bulk[0].Seq != uint64(3+st.DroppedBatches) {
		t.Errorf("bulk queue %v after dropping %d: want the oldest dropped", bulk, st.DroppedBatches)
	}
	// High batches push out the remaining bulk ones, then Enqueue refuses.
	var err error
	for i := 0; i < 50 && err == nil; i++ {
		err = ob.Enqueue("alerts", PriorityHigh, readings(int64(200000+10*i), 10), nil)
	}
	if !errors.Is(err, ErrBacklogFull) {
		t.Fatalf("enqueue with only high batches = %v, want ErrBacklogFull", err)
	}
	if st := ob.Status(); st.BacklogBatches != st.HighBatches || st.DroppedBatches != 20 {
		t.Errorf("status = %+v, want every bulk batch dropped and only high left", st)
	}
}

func TestPacedDrain(t *testing.T) {
	c := newCloud(t, nil)
	clk := newFakeClock()
	cfg := testConfig(c.srv.URL)
	cfg.BatchPoints = 50
	cfg.DrainRate = 100
	cfg.FlushInterval = time.Hour // keep flush ticks out of the measured time
	ob := openTest(t, cfg, kv.NewMem(), clk)
	enqueueBatches(t, ob, PriorityBulk, 1000, 10)
	enqueueBatches(t, ob, PriorityHigh, 100000, 2) // not paced
	t0 := clk.Now()
	start(t, ob)
	eventually(t, clk, 10*time.Second, func() bool { return ob.Status().BacklogBatches == 0 })
	// 500 bulk points at 100/s with a burst of 100: 4s.
	if d := clk.Now().Sub(t0); d < 3900*time.Millisecond || d > 4100*time.Millisecond {
		t.Errorf("drain took %v of clock time, want 4s", d)
	}
	assertExactlyOnce(t, c, 600)
}

func TestEnqueueValidation(t *testing.T) {
	ob := openTest(t, testConfig("http://127.0.0.1:1"), kv.NewMem(), newFakeClock())
	if err := ob.Enqueue("x", Priority(7), readings(1, 1), nil); !errors.Is(err, ErrPriority) {
		t.Errorf("bad priority = %v", err)
	}
	if err := ob.Enqueue("x", PriorityBulk, nil, nil); err != nil {
		t.Errorf("empty enqueue = %v", err)
	}
}

func TestDiscardRejected(t *testing.T) {
	c := newCloud(t, func(uint64, int) action { return act400 })
	store := kv.NewMem()
	clk := newFakeClock()
	ob := openTest(t, testConfig(c.srv.URL), store, clk)
	enqueueBatches(t, ob, PriorityHigh, 1000, 1)
	start(t, ob)
	eventually(t, clk, step, func() bool { return len(ob.Status().Rejected) == 1 })
	if err := ob.Discard(1); err != nil {
		t.Fatal(err)
	}
	if st := ob.Status(); len(st.Rejected) != 0 || st.BacklogBatches != 0 {
		t.Errorf("status after discard = %+v", st)
	}
	if _, err := store.Get(rejectKey(1)); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("rejected record still stored: %v", err)
	}
	if err := ob.Discard(1); !errors.Is(err, ErrNotRejected) {
		t.Errorf("second discard = %v, want ErrNotRejected", err)
	}
}
