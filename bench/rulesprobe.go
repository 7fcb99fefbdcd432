package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgevault/edgevault/sim"
)

// probeDevices is how many devices the probes take turns on. A device's
// alert resolves (the clearing reading follows each trigger at once)
// before its next turn; a lost resolution spoils only that device's next
// probe, counted lost.
const probeDevices = 64

// arrivals is the book of what the probes set off: the arrival times of
// triggers under the probe number their value carries (value = probeLimit
// + 1 + probe number), and the count of resolutions.
type arrivals struct {
	mu        sync.Mutex // guards the following
	triggered map[int]time.Time
	resolved  int
}

func newArrivals() *arrivals { return &arrivals{triggered: map[int]time.Time{}} }

// reset forgets the arrivals of earlier runs, whose probe numbers a new
// prober counts again from 0.
func (b *arrivals) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.triggered)
	b.resolved = 0
}

// arrived files what a probe reading of value v set off, at: the trigger
// of probe v-probeLimit-1, or a resolution (v = 0, the clearing reading).
func (b *arrivals) arrived(v float64, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if v > probeLimit {
		b.triggered[int(v)-probeLimit-1] = at
	} else {
		b.resolved++
	}
}

// collect returns the arrival times of probes first..first+n-1 (zero when
// missing) and the resolutions seen, waiting up to timeout for stragglers.
func (b *arrivals) collect(ctx context.Context, first, n int, timeout time.Duration) ([]time.Time, int) {
	deadline := time.Now().Add(timeout)
	for {
		b.mu.Lock()
		got := 0
		for i := first; i < first+n; i++ {
			if _, ok := b.triggered[i]; ok {
				got++
			}
		}
		done := got == n || time.Now().After(deadline) || ctx.Err() != nil
		if done {
			out := make([]time.Time, n)
			for i := range out {
				out[i] = b.triggered[first+i]
			}
			res := b.resolved
			b.mu.Unlock()
			return out, res
		}
		b.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

// hookReceiver is the local webhook the node's bench-hook channel posts
// to. It stamps each alert on arrival, before decoding, and files the
// transitions of ProbeRule in its book.
type hookReceiver struct {
	*arrivals
	srv   *httptest.Server
	posts atomic.Int64
	bad   atomic.Int64 // bodies that were not an alert
}

func newHookReceiver() *hookReceiver {
	h := &hookReceiver{arrivals: newArrivals()}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	return h
}

func (h *hookReceiver) url() string { return h.srv.URL + "/hook" }
func (h *hookReceiver) close()      { h.srv.Close() }

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	h.posts.Add(1)
	var a struct {
		Rule, State string
		Value       *float64
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&a); err != nil {
		h.bad.Add(1)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if a.Rule == ProbeRule {
		switch {
		case a.State == "triggered" && a.Value != nil:
			h.arrived(*a.Value, at)
		case a.State == "resolved":
			h.arrived(0, at)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// ProbeResult is publish-to-webhook latency of alert transitions.
type ProbeResult struct {
	Phase     string  `json:"phase"`
	Probes    int     `json:"probes"`     // readings that should trigger ProbeRule
	Received  int     `json:"received"`   // triggered alerts the webhook received in time
	Lost      int     `json:"lost"`       // not received within the timeout
	Resolved  int     `json:"resolved"`   // resolutions received (the clearing readings)
	UnderLoad int     `json:"under_load"` // probes published while the phase's load ran
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
}

// prober publishes probe readings over its own MQTT connection: a value
// above the limit and at once a clearing value below it, without waiting
// for either: the broker handles one connection's publishes in order, so
// the engine sees the trigger before its clearing. Latency is from the
// trigger's Publish call to its arrival in book (stamped by the webhook,
// or by the subscriber of a peer run).
type prober struct {
	client  mqtt.Client
	book    *arrivals
	timeout time.Duration
	seq     int // probes made so far, across phases
}

func newProber(broker string, book *arrivals, timeout time.Duration) (*prober, error) {
	c, err := connectProbeClient(broker, "bench-prober")
	if err != nil {
		return nil, err
	}
	book.reset()
	return &prober{client: c, book: book, timeout: timeout}, nil
}

func (p *prober) close() { p.client.Disconnect(100) }

// run makes n probes, one every interval, and counts those published
// before loadDone; then it waits for their alerts.
func (p *prober) run(ctx context.Context, phase string, n int, interval time.Duration, loadDone <-chan struct{}) (ProbeResult, error) {
	res := ProbeResult{Phase: phase, Probes: n}
	first := p.seq
	_, resolvedBefore := p.book.collect(ctx, first, 0, 0)
	sent := make([]time.Time, n)
	var toks []mqtt.Token
	next := time.Now()
	for i := range n {
		if err := sleepUntil(ctx, next); err != nil {
			return res, err
		}
		next = next.Add(interval)
		if !closed(loadDone) {
			res.UnderLoad++
		}
		dev := probeDevice(p.seq % probeDevices)
		sent[i] = time.Now()
		toks = append(toks, p.publish(dev, float64(probeLimit+1+p.seq)), p.publish(dev, 0))
		p.seq++
	}
	for _, t := range toks {
		if err := waitToken(t, p.timeout); err != nil {
			return res, fmt.Errorf("probe publish: %w", err)
		}
	}
	arrived, resolved := p.book.collect(ctx, first, n, p.timeout)
	res.Resolved = resolved - resolvedBefore
	var lat []time.Duration
	for i, at := range arrived {
		if !at.IsZero() {
			lat = append(lat, at.Sub(sent[i]))
		}
	}
	res.Received, res.Lost = len(lat), n-len(lat)
	slices.Sort(lat)
	res.P50Ms, res.P99Ms = msOf(sim.Percentile(lat, 50)), msOf(sim.Percentile(lat, 99))
	if len(lat) > 0 {
		res.MaxMs = msOf(lat[len(lat)-1])
	}
	return res, ctx.Err()
}

func (p *prober) publish(dev string, v float64) mqtt.Token {
	body := `{"ts":` + strconv.FormatInt(time.Now().UnixMilli(), 10) + `,"` + probeMetric + `":` + strconv.FormatFloat(v, 'f', -1, 64) + `}`
	return p.client.Publish(probeTopic(dev), 1, false, body)
}

// connectProbeClient connects an MQTT 3.1.1 client of the probes.
func connectProbeClient(broker, id string) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker("tcp://" + broker).SetClientID(id).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).
		SetOrderMatters(false)
	c := mqtt.NewClient(o)
	if err := waitToken(c.Connect(), 10*time.Second); err != nil {
		return nil, fmt.Errorf("%s connect: %w", id, err)
	}
	return c, nil
}

// waitToken waits up to d for tok: its error, or one saying it timed out
// (a token that has not completed has no error of its own).
func waitToken(tok mqtt.Token, d time.Duration) error {
	if !tok.WaitTimeout(d) {
		return fmt.Errorf("no answer within %v", d)
	}
	return tok.Error()
}

func probeDevice(i int) string     { return fmt.Sprintf("%s-%04d", probePrefix, i) }
func probeTopic(dev string) string { return "devices/" + dev + "/telemetry" }

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// msOf is d in milliseconds, to the microsecond.
func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
