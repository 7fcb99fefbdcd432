package uplink

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
)

// sealedCloud verifies and opens real sealed batches, as the cloud does, and
// resets the connection after committing the first attempt of every batch.
type sealedCloud struct {
	keys   batch.Keys
	nonces *batch.MemNonces
	now    func() time.Time

	mu       sync.Mutex // guards the following
	seen     map[uint64]bool
	points   map[string]int // series + time -> times stored
	records  int
	attempts int
	errs     []string
}

func (c *sealedCloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	lookup := func(id string) (batch.Keys, bool) { return c.keys, id == "edge-1" }
	_, seq, err := batch.VerifyRequest(r, body, lookup, c.now(), 5*time.Minute, c.nonces)
	if err != nil {
		c.fail(w, err)
		return
	}
	b, err := batch.Open(body, c.keys, batch.Limits{})
	if err != nil || b.Header.Seq != seq {
		c.fail(w, err)
		return
	}
	c.mu.Lock()
	c.attempts++
	first := !c.seen[seq]
	if first {
		c.seen[seq] = true
		for _, rd := range b.Readings {
			c.points[rd.SeriesKey()+"@"+strconv.FormatInt(rd.Time, 10)]++
		}
		c.records += len(b.Records)
	}
	c.mu.Unlock()
	if first { // committed, but the edge never hears about it
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	w.Write([]byte(`{"acked":` + strconv.FormatUint(seq, 10) + `}`))
}

func (c *sealedCloud) fail(w http.ResponseWriter, err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err.Error())
	c.mu.Unlock()
	http.Error(w, err.Error(), http.StatusUnauthorized)
}

func TestSealedEndToEnd(t *testing.T) {
	cfg := testConfig()
	k, err := cfg.BatchKeys()
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	c := &sealedCloud{keys: k, nonces: batch.NewMemNonces(10 * time.Minute), now: clk.Now,
		seen: map[uint64]bool{}, points: map[string]int{}}
	srv := httptest.NewUnstartedServer(c)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	cfg.URLs = []string{srv.URL}
	cfg.BatchPoints = 1000
	reg := prometheus.NewPedanticRegistry()
	ob, err := Open(cfg, kv.NewMem(), Options{Clock: clk, Registerer: reg,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		rs := make([]point.Reading, 1000)
		for j := range rs {
			rs[j] = point.Reading{Device: "dev" + strconv.Itoa(j%7), Metric: "temp",
				Time: clk.Now().UnixMilli() + int64(i*1000+j), Value: point.Float(20 + float64(j%40)/10)}
		}
		if err := ob.Enqueue(batch.KindTelemetry, PriorityBulk, rs, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := ob.Enqueue(batch.KindAlerts, PriorityHigh, nil, [][]byte{[]byte(`{"rule":"hot"}`)}); err != nil {
		t.Fatal(err)
	}
	start(t, ob)
	eventually(t, clk, step, func() bool { s := ob.Status(); return s.BacklogBatches+s.PendingPoints == 0 })

	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) > 0 {
		t.Errorf("cloud refused requests: %v", c.errs)
	}
	if len(c.points) != 10000 || c.records != 1 || c.attempts != 22 {
		t.Errorf("cloud has %d points, %d records after %d attempts; want 10000, 1, 22",
			len(c.points), c.records, c.attempts)
	}
	for k, n := range c.points {
		if n != 1 {
			t.Errorf("%q stored %d times", k, n)
		}
	}
	got := gather(t, reg)
	if got["edgevault_uplink_sent_points_total"] != 10001 || got["edgevault_uplink_sent_batches_total"] != 11 {
		t.Errorf("metrics = %v", got)
	}
	if v, ok := got["edgevault_uplink_backlog_bytes"]; !ok || v != 0 {
		t.Errorf("backlog bytes metric = %v, %v", v, ok)
	}
}

// gather returns the value of every unlabelled counter and gauge.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				out[mf.GetName()] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[mf.GetName()] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}
