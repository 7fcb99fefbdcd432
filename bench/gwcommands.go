package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgevault/edgevault/gateway"
	"github.com/edgevault/edgevault/sim"
)

// CommandsResult is the outcome of the command phase.
type CommandsResult struct {
	Commands    int     `json:"commands"`
	Concurrency int     `json:"concurrency"`
	Gateways    int     `json:"gateways"` // answering gateways (reporting every interval meanwhile)
	Seconds     float64 `json:"seconds"`
	PerSec      float64 `json:"commands_per_sec"` // completed round trips per second
	Completed   int     `json:"completed"`        // results observed within the timeout
	Lost        int     `json:"lost"`
	// Round trip: POST sent -> the gateway's command_result seen on its
	// up topic by a subscriber of the node's broker (routed only after the
	// node handled it: the command is succeeded by then).
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// POST /api/v1/devices/{id}/commands answered (202): stored and sent.
	PostP50Ms float64 `json:"post_p50_ms"`
	PostP99Ms float64 `json:"post_p99_ms"`
	// The node's own view: created -> updated of the succeeded commands
	// (GET /api/v1/commands?state=succeeded).
	Succeeded   int     `json:"succeeded"`
	Failed      int     `json:"failed"`
	Expired     int     `json:"expired"`
	ServerP50Ms float64 `json:"server_p50_ms"`
	ServerP99Ms float64 `json:"server_p99_ms"`
	// What the answering gateways counted.
	Fleet sim.GatewayReport `json:"fleet"`
}

// resultWatch records when each command's result passes the broker.
type resultWatch struct {
	mu      sync.Mutex // guards the following
	seen    map[string]time.Time
	waiting map[string]chan time.Time
}

func (w *resultWatch) observe(payload []byte) {
	at := time.Now()
	env, err := gateway.DecodeEnvelope(payload)
	if err != nil || env.Type != gateway.TypeCommandResult {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.seen[env.ID]; dup {
		return
	}
	w.seen[env.ID] = at
	if c, ok := w.waiting[env.ID]; ok {
		c <- at
		delete(w.waiting, env.ID)
	}
}

// wait returns when id's result was seen, up to timeout from now.
func (w *resultWatch) wait(ctx context.Context, id string, timeout time.Duration) (time.Time, bool) {
	w.mu.Lock()
	if at, ok := w.seen[id]; ok {
		w.mu.Unlock()
		return at, true
	}
	c := make(chan time.Time, 1)
	w.waiting[id] = c
	w.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case at := <-c:
		return at, true
	case <-t.C:
	case <-ctx.Done():
	}
	w.mu.Lock()
	delete(w.waiting, id)
	w.mu.Unlock()
	return time.Time{}, false
}

// watchResults subscribes to every gateway's up topic.
func watchResults(broker string) (mqtt.Client, *resultWatch, error) {
	w := &resultWatch{seen: map[string]time.Time{}, waiting: map[string]chan time.Time{}}
	o := mqtt.NewClientOptions().AddBroker("tcp://" + broker).SetClientID("bench-command-watch").
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).SetOrderMatters(false)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, nil, fmt.Errorf("watch connect: %v", tok.Error())
	}
	up := gateway.Topics{}.UpFilter()
	tok := c.Subscribe(up, 1, func(_ mqtt.Client, m mqtt.Message) { w.observe(m.Payload()) })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		c.Disconnect(0)
		return nil, nil, fmt.Errorf("watch subscribe %s: %v", up, tok.Error())
	}
	return c, w, nil
}

// commandRoundTrips runs an answering fleet, waits until its sensors are
// registered, then sends Commands commands from Concurrency workers.
func commandRoundTrips(ctx context.Context, o GatewaysOptions, mqttAddr, base string) (CommandsResult, error) {
	r := CommandsResult{Commands: o.Commands, Concurrency: o.Concurrency, Gateways: o.CmdGateways}
	fleetCtx, stopFleet := context.WithCancel(ctx)
	defer stopFleet()
	gw := sim.GatewayOptions{Broker: mqttAddr, Gateways: o.CmdGateways, Sensors: o.Sensors, Interval: o.Interval,
		Binary: o.Binary, Prefix: "cgw", Seed: 3, ConnectConcurrency: gwConnectConcurrency, Drain: time.Second, Logger: o.Log}
	fleetDone := make(chan error, 1)
	go func() {
		var err error
		r.Fleet, err = sim.RunGateways(fleetCtx, gw)
		fleetDone <- err
	}()
	watch, results, err := watchResults(mqttAddr)
	if err != nil {
		return r, err
	}
	defer watch.Disconnect(100)
	targets := make([]string, 0, o.CmdGateways*o.Sensors)
	for g := range o.CmdGateways {
		for s := range o.Sensors {
			targets = append(targets, sim.SensorID(gw.GatewayID(g), s))
		}
	}
	o.Log.Info("waiting for the answering fleet's sensors", "sensors", len(targets))
	if err := waitDevices(ctx, base, targets, time.Minute); err != nil {
		return r, err
	}
	o.Log.Info("commands", "n", o.Commands, "concurrency", o.Concurrency)
	rt, post, ids := sendCommands(ctx, o, base, targets, results)
	stopFleet()
	if err := <-fleetDone; err != nil {
		return r, fmt.Errorf("answering fleet: %w", err)
	}
	r.summarize(rt, post)
	if err := r.serverView(ctx, base, ids); err != nil {
		return r, err
	}
	return r, ctx.Err()
}

// sendCommands runs the workers; rt holds the round trips of completed
// commands (zero for lost ones), post the POST latencies.
func sendCommands(ctx context.Context, o GatewaysOptions, base string, targets []string, w *resultWatch) (rt, post []time.Duration, ids map[string]bool) {
	jobs := make(chan int)
	var mu sync.Mutex
	ids = map[string]bool{}
	start := time.Now()
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Go(func() {
			c := &http.Client{Timeout: o.CmdTimeout}
			for i := range jobs {
				t0 := time.Now()
				id, err := postCommand(ctx, c, base, targets[i%len(targets)], i)
				t1 := time.Now()
				var at time.Time
				ok := err == nil
				if ok {
					at, ok = w.wait(ctx, id, o.CmdTimeout)
				}
				mu.Lock()
				if err == nil {
					post = append(post, t1.Sub(t0))
					ids[id] = true
				}
				if ok {
					rt = append(rt, at.Sub(t0))
				} else {
					rt = append(rt, 0)
				}
				mu.Unlock()
			}
		})
	}
	for i := range o.Commands {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	post = append(post, time.Since(start)) // the last element is the phase's duration
	return rt, post, ids
}

// postCommand sends one command and returns its id.
func postCommand(ctx context.Context, c *http.Client, base, device string, i int) (string, error) {
	body, _ := json.Marshal(map[string]any{"name": "set_level", "params": map[string]any{"level": i % 100}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, deviceURL(base, device)+"/commands", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("post command: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("post command: status %s: %s", resp.Status, b)
	}
	var cmd struct{ ID string }
	if err := json.Unmarshal(b, &cmd); err != nil || cmd.ID == "" {
		return "", fmt.Errorf("post command: no id in %s", b)
	}
	return cmd.ID, nil
}

func (r *CommandsResult) summarize(rt, post []time.Duration) {
	r.Seconds = post[len(post)-1].Seconds()
	post = post[:len(post)-1]
	var done []time.Duration
	for _, d := range rt {
		if d > 0 {
			done = append(done, d)
		}
	}
	r.Completed, r.Lost = len(done), r.Commands-len(done)
	if r.Seconds > 0 {
		r.PerSec = float64(r.Completed) / r.Seconds
	}
	slices.Sort(done)
	slices.Sort(post)
	r.P50Ms, r.P99Ms = msOf(sim.Percentile(done, 50)), msOf(sim.Percentile(done, 99))
	if len(done) > 0 {
		r.MaxMs = msOf(done[len(done)-1])
	}
	r.PostP50Ms, r.PostP99Ms = msOf(sim.Percentile(post, 50)), msOf(sim.Percentile(post, 99))
}

// serverView counts the bench's commands by final state as the node lists
// them, and their created -> updated times when succeeded.
func (r *CommandsResult) serverView(ctx context.Context, base string, ids map[string]bool) error {
	c := &http.Client{Timeout: time.Minute}
	var lat []time.Duration
	for _, st := range []gateway.State{gateway.StateSucceeded, gateway.StateFailed, gateway.StateExpired} {
		var l struct{ Items []gateway.Command }
		if err := getJSON(ctx, c, fmt.Sprintf("%s/api/v1/commands?state=%s&limit=10000", base, st), &l); err != nil {
			return fmt.Errorf("list %s commands: %w", st, err)
		}
		for _, cmd := range l.Items {
			if !ids[cmd.ID] {
				continue
			}
			switch st {
			case gateway.StateSucceeded:
				r.Succeeded++
				lat = append(lat, cmd.Updated.Sub(cmd.Created))
			case gateway.StateFailed:
				r.Failed++
			case gateway.StateExpired:
				r.Expired++
			}
		}
	}
	slices.Sort(lat)
	r.ServerP50Ms, r.ServerP99Ms = msOf(sim.Percentile(lat, 50)), msOf(sim.Percentile(lat, 99))
	return nil
}

// waitDevices polls until every device is registered.
func waitDevices(ctx context.Context, base string, ids []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &http.Client{Timeout: 10 * time.Second}
	for _, id := range ids {
		for {
			var d struct{ ID string }
			err := getJSON(ctx, c, deviceURL(base, id), &d)
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("device %s not registered: %w (last: %v)", id, ctx.Err(), err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}
