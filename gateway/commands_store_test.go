package gateway

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/store"
)

// gateKV holds every Put until want of them are in progress at once.
type gateKV struct {
	kv.Store
	want    int32
	inside  atomic.Int32
	release chan struct{}
	once    sync.Once
}

func (g *gateKV) Put(k, v []byte) error {
	if g.inside.Add(1) >= g.want {
		g.once.Do(func() { close(g.release) })
	}
	select {
	case <-g.release:
	case <-time.After(5 * time.Second):
	}
	return g.Store.Put(k, v)
}

// TestCommandSubmitsWriteConcurrently: the durable write of one Submit does
// not wait for another's, so a synced store can commit them together.
func TestCommandSubmitsWriteConcurrently(t *testing.T) {
	db := &gateKV{Store: kv.NewMem(), want: 4, release: make(chan struct{})}
	c := NewCommands(db, func(string, []byte) error { return nil }, CommandOptions{Logger: quiet})
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			if _, err := c.Submit("d"+strconv.Itoa(i), "hub1", "open", nil, 0, 0); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("4 submits took %v: their writes ran one after another", d)
	}
	all, err := c.List(Filter{State: StateSent}, 10)
	if err != nil || len(all) != 4 {
		t.Fatalf("%d sent commands stored, %v", len(all), err)
	}
}

// slowKV takes sync per Put, as an fsync on an edge box's flash; Puts in
// parallel overlap, as a store committing concurrent writes together.
type slowKV struct {
	kv.Store
	sync time.Duration
}

func (s slowKV) Put(k, v []byte) error {
	time.Sleep(s.sync)
	return s.Store.Put(k, v)
}

// BenchmarkCommandSubmitStore is Submit -> ack -> result from 16
// goroutines, as the REST API's concurrent submitters and the gateways'
// answers: on the node's real store (Pebble, every metadata write synced;
// cheap on this disk) and on one whose writes take 1 ms.
func BenchmarkCommandSubmitStore(b *testing.B) {
	b.Run("pebble", func(b *testing.B) {
		db, err := store.Open(b.TempDir(), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		benchSubmitParallel(b, kv.WithPrefix(db.Meta(), "commands/"))
	})
	b.Run("sync=1ms", func(b *testing.B) {
		benchSubmitParallel(b, slowKV{Store: kv.NewMem(), sync: time.Millisecond})
	})
}

func benchSubmitParallel(b *testing.B, db kv.Store) {
	c := NewCommands(db, func(string, []byte) error { return nil }, CommandOptions{Logger: quiet})
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			cmd, err := c.Submit("valve1", "hub1", "close", map[string]any{"force": true}, 0, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := c.HandleAck("hub1", cmd.ID); err != nil {
				b.Fatal(err)
			}
			if err := c.HandleResult("hub1", cmd.ID, true, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
