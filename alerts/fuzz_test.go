package alerts

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/rules"
)

func sampleAlert() Alert {
	return Alert{ID: 42, Rule: "r", Key: "rooms{room=hall}", Device: "rooms", Tags: []point.Tag{{Key: "room", Value: "hall"}},
		Metric: "co2", Severity: rules.SeverityCritical, State: rules.AlertResolved, Value: 1200, Message: "high",
		TriggeredAt: t0, AcknowledgedAt: t0.Add(time.Minute), AcknowledgedBy: "ann",
		ResolvedAt: t0.Add(time.Hour), ResolvedBy: "bob"}
}

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		a    Alert
	}{
		{"full", sampleAlert()},
		{"open, no tags", Alert{ID: 1, Rule: "r", Key: "d", Device: "d", State: rules.AlertTriggered, TriggeredAt: t0}},
		{"negative time", Alert{ID: math.MaxUint64, TriggeredAt: time.UnixMilli(-5).UTC(), Value: math.Inf(-1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeRecord(encodeRecord(&tc.a))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.a) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got, tc.a)
			}
		})
	}
	full := encodeRecord(&tests[0].a)
	for i := range full {
		if _, err := decodeRecord(full[:i]); err == nil {
			t.Fatalf("truncated at %d decoded", i)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	a := sampleAlert()
	f.Add(encodeRecord(&a))
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{2, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeRecord(b)
		if err != nil {
			return
		}
		back, err := decodeRecord(encodeRecord(&a))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if math.IsNaN(a.Value) {
			a.Value, back.Value = 0, 0
		}
		if !reflect.DeepEqual(a, back) {
			t.Fatalf("re-encode changed the record\n got %+v\nwant %+v", back, a)
		}
	})
}

func BenchmarkRecordLifecycle(b *testing.B) {
	h := open(b, kvMem(), Options{MaxEntries: 10000})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a := trig("r", "dev", time.Duration(i)*time.Second)
		mustRecord(b, h, a)
		mustRecord(b, h, step(a, rules.AlertResolved, time.Duration(i)*time.Second+1, ""))
	}
}

func BenchmarkListFiltered(b *testing.B) {
	h := open(b, kvMem(), Options{})
	for i := range 100000 {
		a := trig([]string{"hot", "cold", "wet"}[i%3], "dev"+string(rune('a'+i%26)), time.Duration(i)*time.Second)
		mustRecord(b, h, a)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := h.List(Filter{Rule: "wet", Device: "devq", Limit: 50}); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzAlertJSON(f *testing.F) {
	a := sampleAlert()
	b, _ := a.MarshalJSON()
	f.Add(b)
	f.Add([]byte(`{"id":1,"value":null,"triggered_at":"2026-01-02T03:04:05.678+01:00"}`))
	f.Add([]byte(`{"tags":{"a":"b"},"resolved_at":"yesterday"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a Alert
		if a.UnmarshalJSON(data) != nil {
			return
		}
		out, err := a.MarshalJSON()
		if err != nil {
			t.Fatalf("marshal decoded alert: %v", err)
		}
		var back Alert
		if err := back.UnmarshalJSON(out); err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
	})
}
