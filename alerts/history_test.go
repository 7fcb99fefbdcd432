package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/rules"
)

var t0 = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func ms(d time.Duration) int64 { return t0.Add(d).UnixMilli() }

func trig(rule, key string, at time.Duration) rules.Alert {
	return rules.Alert{Rule: rule, Key: key, Device: key, Metric: "temperature", Severity: rules.SeverityCritical,
		State: rules.AlertTriggered, Value: 12.5, Time: ms(at), Since: ms(at), Message: rule + " on " + key}
}

func step(a rules.Alert, state rules.AlertState, at time.Duration, by string) rules.Alert {
	a.State, a.Time, a.By = state, ms(at), by
	return a
}

func open(t testing.TB, store kv.Store, opts Options) *History {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0.Add(time.Hour) }
	}
	h, err := New(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustRecord(t testing.TB, h *History, a rules.Alert) Alert {
	t.Helper()
	got, err := h.Record(a)
	if err != nil {
		t.Fatalf("record %+v: %v", a, err)
	}
	return got
}

func TestLifecycleFromEngine(t *testing.T) {
	h := open(t, kv.NewMem(), Options{})
	a := trig("freezer-warm", "freezer-1", 0)
	first := mustRecord(t, h, a)
	if first.ID == 0 || first.State != rules.AlertTriggered || !first.TriggeredAt.Equal(t0) {
		t.Fatalf("trigger: %+v", first)
	}
	if again := mustRecord(t, h, a); again.ID != first.ID {
		t.Fatalf("repeated trigger made a new alert %d", again.ID)
	}
	acked := mustRecord(t, h, step(a, rules.AlertAcknowledged, time.Minute, "ann"))
	if acked.ID != first.ID || acked.AcknowledgedBy != "ann" || !acked.AcknowledgedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("ack: %+v", acked)
	}
	res := mustRecord(t, h, step(a, rules.AlertResolved, 2*time.Minute, ""))
	if res.ID != first.ID || res.State != rules.AlertResolved || res.ResolvedBy != "" || res.AcknowledgedBy != "ann" {
		t.Fatalf("resolve: %+v", res)
	}
	next := mustRecord(t, h, trig("freezer-warm", "freezer-1", time.Hour))
	if next.ID <= first.ID {
		t.Fatalf("trigger after resolution: id %d, want > %d", next.ID, first.ID)
	}
	got, err := h.Get(first.ID)
	if err != nil || got.State != rules.AlertResolved || got.Value != 12.5 || got.Message != "freezer-warm on freezer-1" {
		t.Fatalf("get: %+v, %v", got, err)
	}
}

func TestByHand(t *testing.T) {
	h := open(t, kv.NewMem(), Options{})
	a := trig("r", "dev", 0)
	id := mustRecord(t, h, a).ID
	got, err := h.Ack(id, "bob")
	if err != nil || got.State != rules.AlertAcknowledged || !got.AcknowledgedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("ack: %+v %v", got, err)
	}
	// The engine echoes the acknowledgement: nothing changes.
	echo := mustRecord(t, h, step(a, rules.AlertAcknowledged, 2*time.Hour, "bob"))
	if !echo.AcknowledgedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("echo changed the record: %+v", echo)
	}
	if _, err := h.Ack(id, "bob"); err != nil {
		t.Fatalf("second ack: %v", err)
	}
	if got, err = h.Resolve(id, "carol"); err != nil || got.ResolvedBy != "carol" {
		t.Fatalf("resolve: %+v %v", got, err)
	}
	if echo = mustRecord(t, h, step(a, rules.AlertResolved, 3*time.Hour, "carol")); echo.ID != id ||
		!echo.ResolvedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("resolve echo: %+v", echo)
	}
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"ack resolved", func() error { _, err := h.Ack(id, "x"); return err }, ErrState},
		{"resolve resolved", func() error { _, err := h.Resolve(id, "x"); return err }, ErrState},
		{"ack unknown", func() error { _, err := h.Ack(999, "x"); return err }, ErrNotFound},
		{"resolve unknown", func() error { _, err := h.Resolve(999, "x"); return err }, ErrNotFound},
		{"get unknown", func() error { _, err := h.Get(0); return err }, ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTransitionWithoutTrigger(t *testing.T) {
	h := open(t, kv.NewMem(), Options{})
	a := trig("r", "dev", 0)
	got := mustRecord(t, h, step(a, rules.AlertResolved, time.Minute, ""))
	if got.State != rules.AlertResolved || !got.TriggeredAt.Equal(t0) || !got.ResolvedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("resolve without trigger: %+v", got)
	}
}

func TestSupersede(t *testing.T) {
	h := open(t, kv.NewMem(), Options{})
	old := mustRecord(t, h, trig("r", "dev", 0))
	fresh := mustRecord(t, h, trig("r", "dev", time.Minute))
	if fresh.ID == old.ID {
		t.Fatal("a new trigger time did not open a new alert")
	}
	prev, _ := h.Get(old.ID)
	if prev.State != rules.AlertResolved || prev.ResolvedBy != SupersededBy {
		t.Fatalf("old alert not superseded: %+v", prev)
	}
}

func TestReopen(t *testing.T) {
	store := kv.NewMem()
	h := open(t, store, Options{})
	a := trig("r", "dev", 0)
	id := mustRecord(t, h, a).ID
	mustRecord(t, h, trig("r", "other", 0))

	h2 := open(t, store, Options{})
	if h2.Len() != 2 {
		t.Fatalf("reopened with %d records, want 2", h2.Len())
	}
	acked := mustRecord(t, h2, step(a, rules.AlertAcknowledged, time.Minute, "ann"))
	if acked.ID != id {
		t.Fatalf("ack after reopen went to %d, want %d", acked.ID, id)
	}
	n := mustRecord(t, h2, trig("r", "third", 0))
	if n.ID <= id+1 {
		t.Fatalf("id after reopen %d reuses an id", n.ID)
	}
	h3 := open(t, store, Options{})
	got, err := h3.Get(id)
	if err != nil || got.AcknowledgedBy != "ann" {
		t.Fatalf("ack not durable: %+v %v", got, err)
	}
}

func TestReopenSkipsCorrupt(t *testing.T) {
	store := kv.NewMem()
	h := open(t, store, Options{})
	mustRecord(t, h, trig("r", "dev", 0))
	if err := store.Put(recordKey(77), []byte{1, 0, 5}); err != nil {
		t.Fatal(err)
	}
	if h2 := open(t, store, Options{}); h2.Len() != 1 {
		t.Fatalf("len %d, want the one good record", h2.Len())
	}
}

func TestFilters(t *testing.T) {
	h := open(t, kv.NewMem(), Options{})
	for i, c := range []struct {
		rule, dev string
		sev       rules.Severity
	}{{"hot", "a", rules.SeverityCritical}, {"hot", "b", rules.SeverityCritical}, {"cold", "a", rules.SeverityInfo},
		{"cold", "b", rules.SeverityWarning}, {"hot", "a", rules.SeverityCritical}} {
		a := trig(c.rule, c.dev, time.Duration(i)*time.Minute)
		a.Severity = c.sev
		mustRecord(t, h, a) // the second "hot"/"a" trigger supersedes the first (id 1)
	}
	if _, err := h.Ack(2, "x"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    Filter
		want []uint64
	}{
		{"all newest first", Filter{}, []uint64{5, 4, 3, 2, 1}},
		{"rule", Filter{Rule: "hot"}, []uint64{5, 2, 1}},
		{"rule and device", Filter{Rule: "hot", Device: "a"}, []uint64{5, 1}},
		{"severity", Filter{Severity: "info"}, []uint64{3}},
		{"resolved", Filter{State: "resolved"}, []uint64{1}},
		{"acknowledged", Filter{State: "acknowledged"}, []uint64{2}},
		{"active", Filter{State: "active"}, []uint64{5, 4, 3, 2}},
		{"from", Filter{From: t0.Add(3 * time.Minute)}, []uint64{5, 4}},
		{"to", Filter{To: t0.Add(time.Minute)}, []uint64{1}},
		{"before", Filter{Before: 3}, []uint64{2, 1}},
		{"nothing", Filter{Device: "zzz"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := h.List(tc.f)
			if err != nil || next != 0 {
				t.Fatalf("list: next %d, %v", next, err)
			}
			if ids := idsOf(got); fmt.Sprint(ids) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", ids, tc.want)
			}
		})
	}
	for _, f := range []Filter{{State: "open"}, {Severity: "fatal"}} {
		if _, _, err := h.List(f); !errors.Is(err, ErrBadFilter) {
			t.Fatalf("filter %+v: %v, want ErrBadFilter", f, err)
		}
	}
}

func idsOf(as []Alert) []uint64 {
	var ids []uint64
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}

func TestPagination(t *testing.T) {
	h := open(t, kv.NewMem(), Options{})
	for i := range 7 {
		mustRecord(t, h, trig("r", fmt.Sprint("dev", i), 0))
	}
	var pages [][]uint64
	var before uint64
	for {
		got, next, err := h.List(Filter{Limit: 3, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, idsOf(got))
		if next == 0 {
			break
		}
		before = next
	}
	if fmt.Sprint(pages) != "[[7 6 5] [4 3 2] [1]]" {
		t.Fatalf("pages %v", pages)
	}
}

func TestEviction(t *testing.T) {
	reg := prometheus.NewRegistry()
	store := kv.NewMem()
	h := open(t, store, Options{MaxEntries: 100, Registerer: reg})
	for i := range 100 {
		a := trig("r", fmt.Sprint("dev", i), 0)
		mustRecord(t, h, a)
		if i%2 == 1 { // odd devices resolve
			mustRecord(t, h, step(a, rules.AlertResolved, time.Minute, ""))
		}
	}
	mustRecord(t, h, trig("r", "dev-new", 0)) // 101 > 100: evict 1 + 1 %
	if h.Len() != 99 {
		t.Fatalf("len %d after eviction, want 99", h.Len())
	}
	for _, id := range []uint64{2, 4} { // dev1 and dev3, the oldest resolved
		if _, err := h.Get(id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("resolved alert %d not evicted: %v", id, err)
		}
	}
	if _, err := h.Get(1); err != nil {
		t.Fatalf("open alert 1 evicted before resolved ones: %v", err)
	}
	if n := counterValue(t, h.evicted); n != 2 {
		t.Fatalf("evicted counter %v, want 2", n)
	}
	if h2 := open(t, store, Options{MaxEntries: 100}); h2.Len() != 99 {
		t.Fatalf("evicted records still in the store: %d", h2.Len())
	}
	// Nothing resolved left to evict: the oldest open alerts go.
	small := open(t, kv.NewMem(), Options{MaxEntries: 3})
	for i := range 4 {
		mustRecord(t, small, trig("r", fmt.Sprint("dev", i), 0))
	}
	if got, _, _ := small.List(Filter{}); fmt.Sprint(idsOf(got)) != "[4 3 2]" {
		t.Fatalf("left %v, want [4 3 2]", idsOf(got))
	}
}

func TestConcurrentRecord(t *testing.T) {
	h := open(t, kv.NewMem(), Options{})
	const workers, each = 8, 50
	var wg sync.WaitGroup
	ids := make(chan uint64, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				a := trig("r", fmt.Sprintf("w%d-%d", w, i), 0)
				got, err := h.Record(a)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := h.Record(step(a, rules.AlertResolved, time.Minute, "")); err != nil {
					t.Error(err)
				}
				ids <- got.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[uint64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %d handed out twice", id)
		}
		seen[id] = true
	}
	if got, _, _ := h.List(Filter{State: "resolved", Limit: MaxLimit}); len(got) != workers*each {
		t.Fatalf("%d resolved, want %d", len(got), workers*each)
	}
}

func TestJSONShape(t *testing.T) {
	a := Alert{ID: 7, Rule: "r", Key: "rooms{room=kitchen}", Device: "rooms", Tags: []point.Tag{{Key: "room", Value: "kitchen"}},
		Metric: "temperature", Severity: rules.SeverityWarning, State: rules.AlertAcknowledged, Value: 21.5,
		Message: "warm", TriggeredAt: t0.Add(1500 * time.Microsecond), AcknowledgedAt: t0.Add(time.Minute), AcknowledgedBy: "ann"}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":7,"rule":"r","key":"rooms{room=kitchen}","device":"rooms","tags":{"room":"kitchen"},` +
		`"metric":"temperature","severity":"warning","state":"acknowledged","value":21.5,"message":"warm",` +
		`"triggered_at":"2026-11-22T03:00:00.001Z","acknowledged_at":"2026-11-22T03:01:00.000Z","acknowledged_by":"ann"}`
	if string(b) != want {
		t.Fatalf("json\n got %s\nwant %s", b, want)
	}
	nan := Alert{ID: 1, Value: math.NaN()}
	if b, _ := json.Marshal(nan); !strings.Contains(string(b), `"value":null`) || strings.Contains(string(b), "_at") {
		t.Fatalf("NaN value or unset times: %s", b)
	}
	var back Alert
	if err := json.Unmarshal(b, &back); err != nil || back.AcknowledgedBy != "ann" || back.Tags[0].Value != "kitchen" ||
		!back.TriggeredAt.Equal(t0.Add(time.Millisecond)) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func kvMem() kv.Store { return kv.NewMem() }
