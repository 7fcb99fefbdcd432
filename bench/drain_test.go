package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/cloud"
	"github.com/edgevault/edgevault/config"
	"github.com/edgevault/edgevault/point"
)

// TestDrainJSONSizes checks the JSON baselines against encoding/json.
func TestDrainJSONSizes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		hundredths []int64
	}{
		{"two decimals", []int64{2102, 4497}},
		{"whole", []int64{2100, 4500}},
		{"one decimal", []int64{2110, 4490}},
		{"negative", []int64{-5, -1234}},
		{"zero", []int64{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const ms = 1795737600000
			for m, v := range tc.hundredths {
				want, _ := json.Marshal(struct {
					Device string  `json:"device"`
					Metric string  `json:"metric"`
					TS     int64   `json:"ts"`
					Value  float64 `json:"value"`
				}{"drain-0007", storageMetrics[m].name, ms, float64(v) / 100})
				if got := appendPointJSON(nil, "drain-0007", storageMetrics[m].name, ms, v); string(got) != string(want) {
					t.Errorf("point: got %s, want %s", got, want)
				}
			}
			want, _ := json.Marshal(struct {
				TS   int64   `json:"ts"`
				Temp float64 `json:"temperature"`
				Hum  float64 `json:"humidity"`
			}{ms, float64(tc.hundredths[0]) / 100, float64(tc.hundredths[1]) / 100})
			if got := appendDeviceSecondJSON(nil, ms, tc.hundredths); string(got) != string(want) {
				t.Errorf("device-second: got %s, want %s", got, want)
			}
		})
	}
}

// TestWalkGenStreamsStorageBatches: the streamed generator yields the same
// bytes as StorageBatches and shows every line to its callback.
func TestWalkGenStreamsStorageBatches(t *testing.T) {
	const devices, seconds, lines = 3, 50, 40
	want := bytes.Join(StorageBatches(devices, seconds, lines, 1795132800, 7), nil)
	g := newWalkGen(devices, seconds, 1795132800, 7, storageDevice)
	var got []byte
	seen := 0
	for {
		var n int
		got, n = g.next(got, 17, func(int, int64, []int64) { seen++ })
		if n == 0 {
			break
		}
	}
	if !bytes.Equal(got, want) || seen != devices*seconds {
		t.Fatalf("streamed %d bytes and %d lines, want %d bytes and %d lines", len(got), seen, len(want), devices*seconds)
	}
}

func TestLiveLinesOf(t *testing.T) {
	for _, tc := range []struct {
		name            string
		lines           int64
		devices         int
		want0, wantLast int64
	}{
		{"even", 100, 4, 25, 25},
		{"remainder", 10, 4, 3, 2},
		{"fewer lines than devices", 2, 4, 1, 0},
		{"none", 0, 4, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := LiveLoad{Lines: tc.lines}
			var sum int64
			for d := range tc.devices {
				sum += l.linesOf(d, tc.devices)
			}
			if sum != tc.lines || l.linesOf(0, tc.devices) != tc.want0 || l.linesOf(tc.devices-1, tc.devices) != tc.wantLast {
				t.Fatalf("sum %d, first %d, last %d", sum, l.linesOf(0, tc.devices), l.linesOf(tc.devices-1, tc.devices))
			}
		})
	}
}

// TestDrainProxy: refused while down; once open, batches are forwarded
// and tallied by kind, duplicates are not counted twice, and the drain is
// done when the goal is acknowledged.
func TestDrainProxy(t *testing.T) {
	var forwarded atomic.Int32
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded.Add(1)
		h, err := batch.PeekHeader(mustRead(t, r.Body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		dup := r.Header.Get("X-Test-Dup") != ""
		fmt.Fprintf(w, `{"acked":%d,"duplicate":%t,"stored":%d}`, h.Seq, dup, h.Count)
	}))
	defer fake.Close()
	p := newDrainProxy(fake.URL)
	px := httptest.NewServer(p)
	defer px.Close()
	k := batch.Keys{Sign: bytes.Repeat([]byte{1}, 32), Data: bytes.Repeat([]byte{2}, 32)}
	tele := sealed(t, k, 1, batch.KindTelemetry, 3, 0)
	reg := sealed(t, k, 2, batch.KindRegistry, 0, 2)
	post := func(body []byte, dup bool) int {
		req, _ := http.NewRequest(http.MethodPost, px.URL+"/api/v1/ingest", bytes.NewReader(body))
		if dup {
			req.Header.Set("X-Test-Dup", "1")
		}
		resp, err := px.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(tele, false); code != http.StatusServiceUnavailable || p.refused.Load() != 1 || forwarded.Load() != 0 {
		t.Fatalf("down: status %d, refused %d, forwarded %d", code, p.refused.Load(), forwarded.Load())
	}
	p.open(5)
	for _, b := range [][]byte{tele, reg} {
		if code := post(b, false); code != http.StatusOK {
			t.Fatalf("open: status %d", code)
		}
	}
	if p.done().IsZero() {
		t.Fatal("not done after 5 items acked")
	}
	post(tele, true) // a duplicate ack
	post(sealed(t, k, 3, batch.KindTelemetry, 4, 0), false)
	p.mu.Lock() // the handler goroutines wrote under it
	defer p.mu.Unlock()
	w := p.backlog
	if w.Batches != 1 || w.Points != 3 || w.BodyBytes != int64(len(tele)) || w.HeaderBytes < 50 ||
		w.Other != 1 || w.OtherItems != 2 || w.OtherBytes <= int64(len(reg)) || w.CloudSeconds <= 0 {
		t.Errorf("backlog tally %+v", w)
	}
	if a := p.after; a.Batches != 1 || a.Points != 4 || p.dups != 1 || p.failed != 0 {
		t.Errorf("after tally %+v, dups %d, failed %d", a, p.dups, p.failed)
	}
}

func mustRead(t *testing.T, r io.Reader) []byte {
	b, err := io.ReadAll(r)
	if err != nil {
		t.Error(err)
	}
	return b
}

func sealed(t *testing.T, k batch.Keys, seq uint64, kind string, readings, records int) []byte {
	t.Helper()
	b := batch.Batch{Header: batch.Header{EdgeID: drainEdgeID, Seq: seq, Created: 1, Kind: kind}}
	for i := range readings {
		b.Readings = append(b.Readings, point.Reading{Device: "d", Metric: "m", Time: int64(i) * 1000, Value: point.Float(1.5)})
	}
	for range records {
		b.Records = append(b.Records, []byte(`{"op":"put"}`))
	}
	b.Header.Count = readings + records
	body, err := batch.Seal(b, k)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestDrainConfigsDecode(t *testing.T) {
	sign, data := randomHex(32), randomHex(32)
	ec := DrainEdgeConfig("http://127.0.0.1:9", drainEdgeID, sign, data, 250000, 20000)
	cfg := config.Default()
	if err := config.Decode(strings.NewReader(ec), &cfg); err != nil {
		t.Fatalf("edge config: %v\n%s", err, ec)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("edge config: %v", err)
	}
	if u := cfg.Uplink; u.DrainRate != 250000 || u.BatchPoints != 20000 || u.BackoffMax != time.Second || !cfg.HTTP.Pprof {
		t.Fatalf("edge uplink %+v", u)
	}
	if _, err := cloud.ParseConfig([]byte(DrainCloudConfig(drainEdgeID, sign, data))); err != nil {
		t.Fatalf("cloud config: %v", err)
	}
}

func TestCPUSecondsAndLoadAvg(t *testing.T) {
	if _, err := cpuSeconds(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(loadAvg()); len(f) != 3 {
		t.Fatalf("loadavg %q", loadAvg())
	}
}

// TestDrainEdge runs the drain bench at tiny scale against the binary named
// by EDGEVAULT_BIN (go build -o /tmp/ev ./cmd/edgevault): load while the
// cloud is down, drain with a live load, every point counted back.
func TestDrainEdge(t *testing.T) {
	bin := os.Getenv("EDGEVAULT_BIN")
	if bin == "" {
		t.Skip("EDGEVAULT_BIN not set")
	}
	res, err := Drain(t.Context(), DrainOptions{Devices: 3, Seconds: 2000, BatchLines: 500, BatchPoints: 1000,
		LiveRate: 400, LiveDevices: 4, Timeout: time.Minute, EdgeBin: bin})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.Points != 12000 || res.CloudPoints != res.ExpectPoints || res.SeriesChecked != 14 {
		t.Fatalf("verification: %+v", res)
	}
	if res.Wire.Points != res.Points || res.Wire.Batches < 12 || res.DrainPointsPerSec <= 0 || res.Refused == 0 {
		t.Errorf("drain: wire %+v, %.0f points/s, %d refused", res.Wire, res.DrainPointsPerSec, res.Refused)
	}
	if res.Live.Lines == 0 || res.Live.Errors != 0 || res.AfterWire.Points != res.Live.Points {
		t.Errorf("live: %+v, after the backlog %+v", res.Live, res.AfterWire)
	}
	if res.RSS["edge_hwm"] == 0 || res.RSS["cloud_drain"] == 0 || res.Sizes.JSONPoint <= res.Sizes.LineProtocol {
		t.Errorf("rss %v, sizes %+v", res.RSS, res.Sizes)
	}
	var out bytes.Buffer
	WriteDrainTable(&out, res)
	if !strings.Contains(out.String(), "12000 points") {
		t.Errorf("table:\n%s", out.String())
	}
}
