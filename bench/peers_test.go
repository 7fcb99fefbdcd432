package bench

import (
	"os"
	"testing"
	"time"
)

// These tests start the real peers; they skip when the peers are not
// installed (scripts/install-deps.sh installs them).

func needBinary(t *testing.T, name string) {
	t.Helper()
	if _, err := lookPath(name); err != nil {
		t.Skip(err)
	}
}

func TestIngestMosquitto(t *testing.T) {
	needBinary(t, "mosquitto")
	res, err := Ingest(t.Context(), IngestOptions{Duration: 500 * time.Millisecond, Devices: 3, Targets: []string{"mosquitto"}})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Targets[0]
	if m.Load.Acked == 0 || m.Load.Failed != 0 || m.Load.PointsAcked != 5*m.Load.Acked || m.PeakRSSBytes == 0 {
		t.Fatalf("mosquitto result %+v", m)
	}
}

func TestWriteInflux(t *testing.T) {
	needBinary(t, "influxd")
	p, err := startInflux(t.Context(), "bench")
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	bodies := LineBatches(2, 500, 10, time.Now().Add(-time.Hour).UnixMilli())
	wt, err := postBatches(t.Context(), "http://"+p.addr+"/write?db=bench", bodies, 500)
	if err != nil {
		t.Fatal(err)
	}
	if wt.Points != 2*500*fieldsPerLine {
		t.Fatalf("points %d", wt.Points)
	}
	// Every line landed: SELECT count(*) sums to the points written.
	if err := wt.verifyInflux(t.Context(), p.addr); err != nil || !wt.Verified || wt.StoredPoints != wt.Points {
		t.Fatalf("verify: %v, %+v", err, wt)
	}
}

// TestIngestEdge runs the ingest bench against a built edgevault binary
// named by EDGEVAULT_BIN (go build -o /tmp/ev ./cmd/edgevault).
func TestIngestEdge(t *testing.T) {
	bin := os.Getenv("EDGEVAULT_BIN")
	if bin == "" {
		t.Skip("EDGEVAULT_BIN not set")
	}
	res, err := Ingest(t.Context(), IngestOptions{Duration: time.Second, Devices: 3, Targets: []string{"edge"}, EdgeBin: bin})
	if err != nil {
		t.Fatal(err)
	}
	e := res.Targets[0]
	if !e.Verified || e.StoredPoints == 0 || e.Disk.Apparent == 0 || e.PeakRSSBytes == 0 {
		t.Fatalf("edge result %+v", e)
	}
}

// TestStorageInflux runs the storage bench against a real influxd on two
// hours of one device: load, count, stop, measure, restart and both
// queries with their counts. The compaction wait is cut short.
func TestStorageInflux(t *testing.T) {
	needBinary(t, "influxd")
	res, err := Storage(t.Context(), StorageOptions{Devices: 1, Seconds: 7200, Runs: 2, InfluxSettle: time.Second,
		Targets: []string{"influxdb"}})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Targets[0]
	if !m.Verified || m.StoredPoints != 14400 || m.Disk.Allocated == 0 || m.BytesPerPoint == 0 {
		t.Fatalf("influxdb at rest: %+v", m)
	}
	if m.Raw.Points != 7200 || m.Avg.Points != 120 || m.Raw.P50Ms <= 0 || m.Avg.Runs != 2 {
		t.Fatalf("influxdb queries: raw %+v, avg %+v", m.Raw, m.Avg)
	}
}
