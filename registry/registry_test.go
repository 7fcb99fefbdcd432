package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTest(t testing.TB, store kv.Store) (*Registry, *clock, *[]Event) {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r, err := New(store, Options{OfflineAfter: time.Minute, Now: c.Now, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	evs := &[]Event{}
	r.Subscribe(func(e Event) { mu.Lock(); *evs = append(*evs, e); mu.Unlock() })
	return r, c, evs
}

func rd(dev, metric string, t int64, v point.Value, tags ...point.Tag) point.Reading {
	return point.Reading{Device: dev, Metric: metric, Tags: tags, Time: t, Value: v}
}

func TestPresence(t *testing.T) {
	type step struct {
		do   func(r *Registry, c *clock)
		want bool
	}
	obs := func(r *Registry, c *clock) { r.Observe("c1", []point.Reading{rd("d1", "temp", 1, point.Float(1))}, "") }
	wait := func(d time.Duration) func(*Registry, *clock) {
		return func(r *Registry, c *clock) { c.Add(d); r.Tick() }
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"message makes online", []step{{obs, true}}},
		{"timeout makes offline", []step{{obs, true}, {wait(59 * time.Second), true}, {wait(time.Second), false}}},
		{"disconnect makes offline", []step{{obs, true}, {func(r *Registry, _ *clock) { r.ClientDisconnected("c1") }, false}}},
		{"other client disconnect ignored", []step{{obs, true}, {func(r *Registry, _ *clock) { r.ClientDisconnected("c2") }, true}}},
		{"reconnect within timeout", []step{{obs, true}, {func(r *Registry, _ *clock) { r.ClientDisconnected("c1") }, false},
			{func(r *Registry, _ *clock) { r.ClientConnected("c1") }, true}}},
		{"explicit offline wins until next message", []step{{obs, true},
			{func(r *Registry, c *clock) { r.SetStatus("d1", false, c.Now()) }, false},
			{wait(time.Second), false}, {obs, true}}},
		{"explicit online survives disconnect until timeout", []step{
			{func(r *Registry, c *clock) { r.ClientDisconnected("c1"); r.SetStatus("d1", true, c.Now()) }, true},
			{wait(61 * time.Second), false}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, c, _ := newTest(t, kv.NewMem())
			for i, s := range tc.steps {
				s.do(r, c)
				d, _ := r.Get("d1")
				if d.Online != s.want {
					t.Fatalf("step %d: online = %v, want %v", i, d.Online, s.want)
				}
			}
		})
	}
}

func TestEvents(t *testing.T) {
	r, c, evs := newTest(t, kv.NewMem())
	r.Observe("c1", []point.Reading{rd("d1", "temp", 1, point.Float(1))}, "")
	r.Observe("c1", []point.Reading{rd("d1", "temp", 2, point.Float(2))}, "")
	c.Add(2 * time.Minute)
	r.Tick()
	var got []string
	for _, e := range *evs {
		got = append(got, string(e.Type)+":"+e.Device)
	}
	if want := "new:d1 online:d1 offline:d1"; strings.Join(got, " ") != want {
		t.Fatalf("events %v, want %s", got, want)
	}
	if n := r.online.Load(); n != 0 {
		t.Fatalf("online gauge %d", n)
	}
}

func TestLatestValues(t *testing.T) {
	r, _, _ := newTest(t, kv.NewMem())
	tag := point.Tag{Key: "ch", Value: "1"}
	r.Observe("c1", []point.Reading{
		rd("d1", "temp", 10, point.Float(1)), rd("d1", "temp", 5, point.Float(9)), // backfill: not latest
		rd("d1", "temp", 3, point.Int(7), tag), rd("d2", "on", 4, point.Bool(true)),
	}, "z2m")
	d, ok := r.Get("d1")
	if !ok || len(d.Series) != 2 {
		t.Fatalf("got %+v", d)
	}
	if s := d.Series[0]; s.LastT != 10 || s.Last.Float() != 1 || len(s.Tags) != 0 {
		t.Fatalf("series 0 %+v", s)
	}
	if s := d.Series[1]; s.LastT != 3 || s.Last.Int() != 7 || s.Tags[0] != tag {
		t.Fatalf("series 1 %+v", s)
	}
	if d.Contract != "z2m" || d.ClientID != "c1" {
		t.Fatalf("contract/client %q %q", d.Contract, d.ClientID)
	}
	if l := r.List(); len(l) != 2 || l[0].ID != "d1" || l[1].ID != "d2" {
		t.Fatalf("list %+v", l)
	}
}

func TestJSON(t *testing.T) {
	r, _, _ := newTest(t, kv.NewMem())
	r.Observe("c1", []point.Reading{rd("d1", "temp", 1700000000123, point.Float(21.5), point.Tag{Key: "ch", Value: "1"})}, "z2m")
	d, _ := r.Get("d1")
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"d1","name":"","type":"","meta":{},"contract":"z2m","client_id":"c1",` +
		`"first_seen":"2026-01-02T03:04:05.000Z","last_seen":"2026-01-02T03:04:05.000Z","online":true,` +
		`"series":[{"metric":"temp","tags":{"ch":"1"},"kind":"float","last":{"t":1700000000123,"v":21.5}}]}`
	if string(b) != want {
		t.Fatalf("json\n got %s\nwant %s", b, want)
	}
}

func TestPersistence(t *testing.T) {
	store := kv.NewMem()
	r, c, _ := newTest(t, store)
	r.Observe("c1", []point.Reading{rd("d1", "temp", 1, point.Float(1)), rd("d1", "msg", 1, point.String("hi"))}, "json")
	name := "Kitchen"
	if _, err := r.Update("d1", Patch{Name: &name, Meta: map[string]string{"room": "k"}}); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Second)
	r.Observe("c1", []point.Reading{rd("d1", "temp", 2, point.Float(2))}, "json")

	// Before Flush a crash loses only the latest value and last_seen.
	r2, _, _ := newTest(t, store)
	d, _ := r2.Get("d1")
	if d.Name != "Kitchen" || d.Meta["room"] != "k" || len(d.Series) != 2 || d.Series[1].Last.Float() != 1 {
		t.Fatalf("before flush %+v", d)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r3, _, _ := newTest(t, store)
	d, _ = r3.Get("d1")
	if d.Series[1].Last.Float() != 2 || d.Series[0].Last.Str() != "hi" || d.Online || !d.LastSeen.Equal(c.Now()) {
		t.Fatalf("after close %+v", d)
	}
}

func TestUpdateErrors(t *testing.T) {
	r, _, _ := newTest(t, kv.NewMem())
	r.Observe("c1", []point.Reading{rd("d1", "temp", 1, point.Float(1))}, "")
	long := strings.Repeat("x", 300)
	bigMeta := map[string]string{}
	for i := range MaxMetaEntries + 1 {
		bigMeta[fmt.Sprint(i)] = "v"
	}
	cases := []struct {
		name string
		id   string
		p    Patch
		want error
	}{
		{"unknown device", "nope", Patch{}, ErrNotFound},
		{"long name", "d1", Patch{Name: &long}, ErrInvalid},
		{"too much meta", "d1", Patch{Meta: bigMeta}, ErrInvalid},
		{"empty meta key", "d1", Patch{Meta: map[string]string{"": "v"}}, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.Update(tc.id, tc.p); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	r, err := New(kv.NewMem(), Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	r.Observe("c1", []point.Reading{rd("d1", "temp", 1, point.Float(1)), rd("d2", "temp", 1, point.Float(1))}, "")
	want := map[string]float64{"edgevault_registry_devices_online": 2, "edgevault_registry_devices": 2,
		"edgevault_registry_persist_errors_total": 0}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		got := m.GetGauge().GetValue() + m.GetCounter().GetValue()
		if got != want[mf.GetName()] {
			t.Errorf("%s = %v, want %v", mf.GetName(), got, want[mf.GetName()])
		}
		delete(want, mf.GetName())
	}
	if len(want) != 0 {
		t.Errorf("missing metrics %v", want)
	}
}

func TestConcurrentObserve(t *testing.T) {
	r, _, _ := newTest(t, kv.NewMem())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				r.Observe("c", []point.Reading{rd(fmt.Sprint("d", i%10), "m", int64(i), point.Int(int64(g)))}, "")
				if i%50 == 0 {
					r.Tick()
					_ = r.Flush()
					r.List()
				}
			}
		}()
	}
	wg.Wait()
	if n := len(r.List()); n != 10 {
		t.Fatalf("%d devices", n)
	}
}

// BenchmarkObserve measures the ingest hot path: known devices and series,
// many goroutines.
func BenchmarkObserve(b *testing.B) {
	r, _, _ := newTest(b, kv.NewMem())
	batch := make([][]point.Reading, 200)
	for i := range batch {
		batch[i] = []point.Reading{rd(fmt.Sprint("dev", i), "temp", 1, point.Float(1)),
			rd(fmt.Sprint("dev", i), "hum", 1, point.Float(1), point.Tag{Key: "ch", Value: "1"})}
		r.Observe("c", batch[i], "")
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Observe("c", batch[i%len(batch)], "")
			i++
		}
	})
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "readings/s")
}

// FuzzLoadDevice: a corrupt persisted record is an error, never a panic.
func FuzzLoadDevice(f *testing.F) {
	f.Add([]byte(`{"id":"d1","first_seen":1,"last_seen":2,"series":[{"m":"t","k":1,"t":5,"n":4611686018427387904}]}`))
	f.Add([]byte(`{"id":"d1","series":[{"m":"t","k":9}]}`))
	f.Add([]byte(`{"id":"d1","series":[{"m":"s","k":4,"s":"x","tags":[{"Key":"a","Value":"b"}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := loadDevice(b)
		if err != nil {
			return
		}
		_ = d.snapshot()
		if _, err := json.Marshal(d.snapshot()); err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkObserveOneDevice is the contended case: every goroutine
// publishes for the same device.
func BenchmarkObserveOneDevice(b *testing.B) {
	r, _, _ := newTest(b, kv.NewMem())
	batch := []point.Reading{rd("dev", "temp", 1, point.Float(1)), rd("dev", "hum", 1, point.Float(1))}
	r.Observe("c", batch, "")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Observe("c", batch, "")
		}
	})
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "readings/s")
}
