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

// hookReceiver is the local webhook the node's bench-hook channel posts
// to. It stamps each alert on arrival, before decoding, and files the
// triggered transitions of ProbeRule under the probe number their value
// carries (value = probeLimit + 1 + probe number).
type hookReceiver struct {
	srv   *httptest.Server
	posts atomic.Int64
	bad   atomic.Int64 // bodies that were not an alert

	mu        sync.Mutex // guards the following
	triggered map[int]time.Time
	resolved  int
}

func newHookReceiver() *hookReceiver {
	h := &hookReceiver{triggered: map[int]time.Time{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	return h
}

func (h *hookReceiver) url() string { return h.srv.URL + "/hook" }
func (h *hookReceiver) close()      { h.srv.Close() }

// reset forgets the alerts of earlier runs, whose probe numbers a new
// prober counts again from 0.
func (h *hookReceiver) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.triggered)
	h.resolved = 0
}

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

// arrived files what a probe reading of value v set off, at: the trigger
// of probe v-probeLimit-1, or a resolution (v = 0, the clearing reading).
func (h *hookReceiver) arrived(v float64, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v > probeLimit {
		h.triggered[int(v)-probeLimit-1] = at
	} else {
		h.resolved++
	}
}

// collect returns the arrival times of probes first..first+n-1 (zero when
// missing) and the resolutions seen, waiting up to timeout for stragglers.
func (h *hookReceiver) collect(ctx context.Context, first, n int, timeout time.Duration) ([]time.Time, int) {
	deadline := time.Now().Add(timeout)
	for {
		h.mu.Lock()
		got := 0
		for i := first; i < first+n; i++ {
			if _, ok := h.triggered[i]; ok {
				got++
			}
		}
		done := got == n || time.Now().After(deadline) || ctx.Err() != nil
		if done {
			out := make([]time.Time, n)
			for i := range out {
				out[i] = h.triggered[first+i]
			}
			res := h.resolved
			h.mu.Unlock()
			return out, res
		}
		h.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
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
// trigger's Publish call to the webhook's arrival stamp.
type prober struct {
	client  mqtt.Client
	hook    *hookReceiver
	timeout time.Duration
	seq     int // probes made so far, across phases
}

func newProber(broker string, hook *hookReceiver, timeout time.Duration) (*prober, error) {
	c, err := connectProbeClient(broker, "bench-prober")
	if err != nil {
		return nil, err
	}
	hook.reset()
	return &prober{client: c, hook: hook, timeout: timeout}, nil
}

func (p *prober) close() { p.client.Disconnect(100) }

// run makes n probes, one every interval, and counts those published
// before loadDone; then it waits for their alerts.
func (p *prober) run(ctx context.Context, phase string, n int, interval time.Duration, loadDone <-chan struct{}) (ProbeResult, error) {
	res := ProbeResult{Phase: phase, Probes: n}
	first := p.seq
	_, resolvedBefore := p.hook.collect(ctx, first, 0, 0)
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
		if !t.WaitTimeout(p.timeout) {
			return res, fmt.Errorf("probe publish: no ack within %v", p.timeout)
		}
		if err := t.Error(); err != nil {
			return res, fmt.Errorf("probe publish: %w", err)
		}
	}
	arrived, resolved := p.hook.collect(ctx, first, n, p.timeout)
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
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("%s connect: %v", id, tok.Error())
	}
	return c, nil
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
