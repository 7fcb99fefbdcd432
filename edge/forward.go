package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/routing"
)

// forwarder carries out routing forwards (MQTT topic or webhook) off the
// ingest path: a bounded queue, one worker, every outcome counted.
type forwarder struct {
	publish func(topic string, payload []byte, qos byte, retain bool) error
	client  *http.Client
	log     *slog.Logger
	queue   chan []routing.Target
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	total   *prometheus.CounterVec
}

func newForwarder(publish func(string, []byte, byte, bool) error, log *slog.Logger, prom prometheus.Registerer) *forwarder {
	f := &forwarder{publish: publish, client: &http.Client{Timeout: 10 * time.Second}, log: log,
		queue: make(chan []routing.Target, 1024), stop: make(chan struct{})}
	f.total = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgevault_forwards_total",
		Help: "Routing forwards by outcome: delivered, failed, or queue_full (dropped because the forwarder fell behind).",
	}, []string{"outcome"})
	prom.MustRegister(f.total)
	return f
}

// enqueue never blocks ingest; a full queue is counted and logged.
func (f *forwarder) enqueue(ts []routing.Target) {
	select {
	case f.queue <- ts:
	default:
		f.total.WithLabelValues("queue_full").Add(float64(len(ts)))
		f.log.Warn("forward queue full, forwards dropped", "targets", len(ts))
	}
}

func (f *forwarder) start() {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			select {
			case <-f.stop:
				return
			case ts := <-f.queue:
				for _, t := range ts {
					f.send(t)
				}
			}
		}
	}()
}

func (f *forwarder) close() {
	f.once.Do(func() { close(f.stop); f.wg.Wait() })
}

// forwarded is the JSON form of forwarded readings.
type forwarded struct {
	Device string            `json:"device"`
	Metric string            `json:"metric"`
	Tags   map[string]string `json:"tags,omitempty"`
	T      int64             `json:"t"`
	V      point.Value       `json:"v"`
}

func (f *forwarder) send(t routing.Target) {
	out := make([]forwarded, len(t.Readings))
	for i, r := range t.Readings {
		out[i] = forwarded{Device: r.Device, Metric: r.Metric, T: r.Time, V: r.Value}
		if len(r.Tags) > 0 {
			out[i].Tags = make(map[string]string, len(r.Tags))
			for _, tg := range r.Tags {
				out[i].Tags[tg.Key] = tg.Value
			}
		}
	}
	body, err := json.Marshal(out)
	if err == nil {
		if t.Topic != "" {
			err = f.publish(t.Topic, body, 0, false)
		} else {
			err = f.post(t.URL, body)
		}
	}
	if err != nil {
		f.total.WithLabelValues("failed").Inc()
		f.log.Warn("forward failed", "rule", t.Rule, "topic", t.Topic, "url", t.URL, "err", err)
		return
	}
	f.total.WithLabelValues("delivered").Inc()
}

func (f *forwarder) post(url string, body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
