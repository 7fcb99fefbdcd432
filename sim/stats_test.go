package sim

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{7}, 99, 7},
		{"median of ten", ten, 50, 5},
		{"p99 of ten", ten, 99, 10},
		{"p10 of ten", ten, 10, 1},
		{"p100", ten, 100, 10},
		{"tiny p clamps to first", ten, 0.001, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	opts := Options{Format: FormatTasmota, QoS: 1, Devices: 2}
	devs := []*deviceStats{
		{sent: 10, acked: 9, failed: 1, lat: []time.Duration{3 * time.Millisecond, time.Millisecond}},
		{sent: 10, acked: 10, lat: []time.Duration{2 * time.Millisecond}},
	}
	r := summarize(opts, 2*time.Second, devs)
	want := Report{Format: FormatTasmota, QoS: 1, Devices: 2, Seconds: 2, Sent: 20, Acked: 19, Failed: 1,
		PointsSent: 40, PointsAcked: 38, MsgsPerSec: 9.5, PointsPerSec: 19, P50Ms: 2, P99Ms: 3, MaxMs: 3}
	if r != want {
		t.Errorf("summarize\n got %+v\nwant %+v", r, want)
	}
}
