package uplink

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/edgevault/edgevault/kv"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		name  string
		round int
		want  time.Duration
	}{
		{"first round", 1, 500 * time.Millisecond},
		{"second round doubles", 2, time.Second},
		{"fifth round", 5, 8 * time.Second},
		{"capped", 20, 30 * time.Second},
		{"huge round does not overflow", 1 << 30, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := backoff(500*time.Millisecond, 30*time.Second, tt.round); got != tt.want {
				t.Errorf("backoff = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	tests := []struct {
		status int
		want   bool
	}{
		{400, true}, {401, true}, {403, true}, {413, true},
		{408, false}, {425, false}, {429, false},
		{500, false}, {502, false}, {503, false}, {200, false},
	}
	for _, tt := range tests {
		if got := permanent(tt.status); got != tt.want {
			t.Errorf("permanent(%d) = %v, want %v", tt.status, got, tt.want)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	clk := newFakeClock()
	ob := openTest(t, testConfig("http://127.0.0.1:1"), kv.NewMem(), clk)
	rs := readings(clk.Now().Add(-time.Minute).UnixMilli(), 10)
	if err := ob.Enqueue("telemetry", PriorityBulk, rs, nil); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ob.Status())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"backlog_batches":1`, `"backlog_points":10`, `"lag_seconds":60`,
		`"oldest_unsent":"2025-12-31T23:59:00Z"`, `"when_full":"block"`, `"url":"http://127.0.0.1:1"`,
		`"active":true`, `"rejected":[]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("status JSON lacks %s: %s", want, b)
		}
	}
	if strings.Contains(string(b), "last_success") {
		t.Errorf("zero last_success not omitted: %s", b)
	}
}
