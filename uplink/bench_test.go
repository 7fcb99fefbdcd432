package uplink

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

func benchReadings(t0 int64, n int) []point.Reading {
	rs := make([]point.Reading, n)
	for i := range rs {
		rs[i] = point.Reading{Device: "dev" + strconv.Itoa(i%50), Metric: "temp",
			Time: t0 + int64(i/50)*1000, Value: point.Float(20 + float64(i%40)/10)}
	}
	return rs
}

// BenchmarkEnqueue measures the ingest-path cost per point, sealing
// (zstd + AES-GCM) and persisting every full batch to kv.Mem included.
func BenchmarkEnqueue(b *testing.B) {
	cfg := testConfig("http://127.0.0.1:1")
	cfg.BatchPoints = 10000
	cfg.DiskBudgetBytes = 1 << 40
	ob, err := Open(cfg, kv.NewMem(), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	const per = 10
	rs := benchReadings(1767225600000, 100000)
	b.ResetTimer()
	for i := range b.N {
		j := (i * per) % len(rs)
		if err := ob.Enqueue("telemetry", PriorityBulk, rs[j:j+per], nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/point")
	st := ob.Status()
	if st.BacklogPoints > 0 {
		b.ReportMetric(float64(st.BacklogBytes)/float64(st.BacklogPoints), "stored-bytes/point")
	}
}

// BenchmarkDrain measures how fast a backlog of sealed batches drains to a
// cloud on loopback that only acknowledges, over kv.Mem and over the store's
// synced Pebble metadata KV.
func BenchmarkDrain(b *testing.B) {
	b.Run("mem", func(b *testing.B) { benchDrain(b, func() kv.Store { return kv.NewMem() }) })
	b.Run("pebble", func(b *testing.B) {
		db, err := store.Open(b.TempDir(), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		benchDrain(b, db.Meta)
	})
}

func benchDrain(b *testing.B, newKV func() kv.Store) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		_, seq, _ := strings.Cut(r.Header.Get("Idempotency-Key"), ":")
		w.Write([]byte(`{"acked":` + seq + `}`))
	}))
	defer srv.Close()
	cfg := testConfig(srv.URL)
	cfg.BatchPoints = 10000
	cfg.DiskBudgetBytes = 1 << 40
	const batches = 50
	rs := benchReadings(1767225600000, cfg.BatchPoints)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		ob, err := Open(cfg, newKV(), Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		for range batches {
			if err := ob.Enqueue("telemetry", PriorityBulk, rs, nil); err != nil {
				b.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		b.StartTimer()
		go func() { done <- ob.Run(ctx) }()
		for ob.Status().BacklogBatches > 0 {
			time.Sleep(100 * time.Microsecond)
		}
		b.StopTimer()
		cancel()
		<-done
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*batches*cfg.BatchPoints)/b.Elapsed().Seconds(), "points/s")
}
