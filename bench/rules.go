package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/edgevault/edgevault/rules"
	"github.com/edgevault/edgevault/sim"
)

// RulesOptions configure `bench rules`. Zero values take the defaults noted.
type RulesOptions struct {
	Rules         int           // active rules in the mix; 0 means 1000
	FleetEvery    int           // every FleetEvery-th rule watches every device; 0 means 10
	LoadRules     int           // rules of the load-time run; 0 means 10000
	Devices       int           // 0 means 50
	Inflight      int           // per client; 0 means 16
	Duration      time.Duration // saturating load per run; 0 means 10s
	PacedDuration time.Duration // paced load per run; 0 means 10s
	PacedRate     float64       // messages per second per device when paced; 0 means 100
	Probes        int           // latency probes per phase; 0 means 200
	ProbeTimeout  time.Duration // 0 means 5s
	Rounds        int           // baseline and rules runs, order alternating; 0 means 1
	// IdleLoad runs the sim load under the SCHED_IDLE policy, so that it
	// takes only the CPU the node leaves (as devices on other machines
	// would); the probes and their webhook receiver keep the normal policy.
	IdleLoad bool
	// NoPeer skips the runs through a bare Mosquitto (PeerRun) that give
	// the probes' floor under the same loads.
	NoPeer bool
	// MochiPeer adds runs through a bare mochi-mqtt broker (MochiRun), the
	// library of the node's own broker: a Go broker's floor.
	MochiPeer bool
	EdgeBin   string // "" means os.Executable()
	Log       *slog.Logger
}

func (o *RulesOptions) defaults() {
	o.Rules = orDefault(o.Rules, 1000)
	o.LoadRules = orDefault(o.LoadRules, 10000)
	o.FleetEvery = orDefault(o.FleetEvery, 10)
	o.Devices = orDefault(o.Devices, 50)
	o.Inflight = orDefault(o.Inflight, 16)
	o.Duration = orDefault(o.Duration, 10*time.Second)
	o.PacedDuration = orDefault(o.PacedDuration, 10*time.Second)
	o.PacedRate = orDefault(o.PacedRate, 100)
	o.Probes = orDefault(o.Probes, 200)
	o.ProbeTimeout = orDefault(o.ProbeTimeout, 5*time.Second)
	o.Rounds = orDefault(o.Rounds, 1)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// RulesRun is one edge node under the paced then the saturating load,
// without rules (baseline) or with the mix and the probe rule (rules); a
// peer run is Mosquitto (PeerRun) or a bare mochi-mqtt (MochiRun) under the
// same loads and probes.
type RulesRun struct {
	Name      string     `json:"name"`
	Round     int        `json:"round"`
	Rules     int        `json:"rules"`      // loaded, the probe rule included
	StartupMs float64    `json:"startup_ms"` // process start to /healthz answering 200
	IdleHeap  HeapStats  `json:"idle_heap"`  // after start, before any load
	Paced     sim.Report `json:"paced"`
	Load      sim.Report `json:"load"` // saturating
	// LoadCPU is the CPU time the server (the edge node, or Mosquitto in
	// a peer run) and the load generator spent per acknowledged message of
	// the saturating load. On the 2
	// vCPUs they share, msgs/s is about 2 s over the sum of the two; the
	// edge's figure shows what the rules cost the edge itself, without the
	// generator's share diluting it.
	LoadCPU CPUPerMsg     `json:"load_cpu_per_msg"`
	Heap    HeapStats     `json:"heap"` // after both loads
	PeakRSS int64         `json:"peak_rss_bytes"`
	Probes  []ProbeResult `json:"probes,omitempty"`
	// PacedRulesDropped and RulesDropped count batches of stored readings the engine never saw
	// because its queue was full (edgevault_rules_dropped_total{stage="input"});
	// a batch is one message's readings.
	PacedRulesDropped float64  `json:"paced_rules_dropped_batches"` // after the paced load
	RulesDropped      float64  `json:"rules_dropped_batches"`       // after both loads
	OutputsDropped    float64  `json:"rules_dropped_outputs"`
	AlertsRecorded    float64  `json:"alerts_recorded"`
	RuleErrors        int      `json:"rule_errors"` // rules in the error state at the end
	Notes             []string `json:"notes,omitempty"`
}

func (r RulesRun) name() string { return r.Name }

// CPUPerMsg is CPU time (user + system) per acknowledged message, in µs.
type CPUPerMsg struct {
	Server float64 `json:"server_us"` // the edge node, or Mosquitto in a peer run
	Load   float64 `json:"load_us"`   // the sim process
}

// RulesLoad is the node started with LoadRules rules and no traffic.
type RulesLoad struct {
	Rules          int       `json:"rules"`
	StartupMs      float64   `json:"startup_ms"`
	ExtraStartupMs float64   `json:"extra_startup_ms"` // minus the median baseline startup
	IdleHeap       HeapStats `json:"idle_heap"`
	BytesPerRule   float64   `json:"idle_heap_bytes_per_rule"` // minus the median baseline idle heap
	PutMs          float64   `json:"put_ms"`                   // one POST /api/v1/rules with Rules loaded
	Notes          []string  `json:"notes,omitempty"`
}

// RulesResult is the outcome of `bench rules`.
type RulesResult struct {
	Options struct {
		Rules, LoadRules, Devices, Inflight, Probes, FleetEvery int
		Seconds, PacedSeconds, PacedRate                        float64
		Format                                                  string
		QoS                                                     int
		IdleLoad, Peer, MochiPeer                               bool
	} `json:"options"`
	Mix map[string]int `json:"mix"`
	// RulesPerReading is how many rules of the mix one reading reaches on
	// average.
	RulesPerReading float64    `json:"rules_per_reading"`
	Runs            []RulesRun `json:"runs"`
	// Ratio is the median saturating msgs/s with rules over without.
	Ratio float64 `json:"ratio_rules_baseline"`
	// RoundRatios is each round's saturating msgs/s with rules over
	// without: the two runs of a round are back to back, so the spread of
	// these shows how far the box drifts.
	RoundRatios []float64 `json:"round_ratios"`
	// RoundCPU is each round's edge CPU per saturating message with rules
	// over without, each first divided by the load generator's CPU per
	// message in the same run. The generator does the same work per
	// message in both runs, so it measures the box's speed of the moment,
	// which drifts by ±20 % here from one minute to the next; the ratio of
	// ratios is what the rules cost the node itself, and it drifts far
	// less than RoundRatios do. 1/median is the msgs/s with rules over
	// without that a node with the CPUs to itself (its devices elsewhere,
	// as in a home or a plant) would reach.
	RoundCPU []float64 `json:"round_cpu_ratios"`
	// EdgeCPU is the median LoadCPU.Server of the runs without and with rules.
	EdgeCPU struct {
		Baseline float64 `json:"baseline_us"`
		Rules    float64 `json:"rules_us"`
		Load     float64 `json:"load_us"` // the load generator's, median of all runs
	} `json:"edge_cpu_per_msg"`
	// ActiveBytesPerRule is the median heap after the loads with rules
	// minus without, per loaded rule: the rules, their state and what
	// they produced (alert history, derived series).
	ActiveBytesPerRule float64   `json:"active_heap_bytes_per_rule"`
	Load               RulesLoad `json:"load"`
	// P99 is, per phase, the median over rounds of the probes' p99.
	P99 []PhaseP99 `json:"p99_ms"`
}

// PhaseP99 is the median p99 of one phase's probes: publish to webhook
// for the alerts, publish to subscriber through Mosquitto and through a
// bare mochi-mqtt for the peers (0 without their runs).
type PhaseP99 struct {
	Phase string  `json:"phase"`
	Alert float64 `json:"alert"`
	Peer  float64 `json:"mosquitto"`
	Mochi float64 `json:"mochi,omitempty"`
}

// roundRatios is each round's saturating msgs/s with rules over without
// (RoundRatios).
func roundRatios(runs []RulesRun) []float64 {
	return perRound(runs, func(r RulesRun) (float64, bool) { return r.Load.MsgsPerSec, true })
}

// roundCPU is each round's server CPU per message with rules over without,
// each over its own run's load generator CPU per message (RoundCPU); a run
// whose CPU was not measured has none.
func roundCPU(runs []RulesRun) []float64 {
	return perRound(runs, func(r RulesRun) (float64, bool) {
		c := r.LoadCPU
		return c.Server / c.Load, c.Server > 0 && c.Load > 0
	})
}

// perRound pairs the rules and baseline runs of each round and gives f of
// the one over f of the other, where f has a value for both (and the
// baseline's is not 0).
func perRound(runs []RulesRun, f func(RulesRun) (float64, bool)) []float64 {
	var out []float64
	for _, r := range runs {
		x, ok := f(r)
		if r.Name != "rules" || !ok {
			continue
		}
		for _, b := range runs {
			if y, ok := f(b); b.Name == "baseline" && b.Round == r.Round && ok && y > 0 {
				out = append(out, x/y)
			}
		}
	}
	return out
}

func medianP99(runs []RulesRun, name, phase string) float64 {
	var vs []float64
	for _, r := range runs {
		for _, p := range r.Probes {
			if r.Name == name && p.Phase == phase {
				vs = append(vs, p.P99Ms)
			}
		}
	}
	return median(vs)
}

// Rules runs the analytics benchmark: throughput with and without the
// rule mix, alert latency, memory per rule and the load of many rules.
func Rules(ctx context.Context, o RulesOptions) (RulesResult, error) {
	o.defaults()
	var res RulesResult
	res.Options.Rules, res.Options.LoadRules, res.Options.Devices, res.Options.FleetEvery = o.Rules, o.LoadRules, o.Devices, o.FleetEvery
	res.Options.Inflight, res.Options.Probes, res.Options.Format, res.Options.QoS = o.Inflight, o.Probes, string(sim.FormatJSON), 1
	res.Options.Seconds, res.Options.PacedSeconds, res.Options.PacedRate = o.Duration.Seconds(), o.PacedDuration.Seconds(), o.PacedRate
	res.Options.IdleLoad, res.Options.Peer, res.Options.MochiPeer = o.IdleLoad, !o.NoPeer, o.MochiPeer
	mix := append(RuleMix(o.Rules, o.Devices, "bench", o.FleetEvery), probeRuleDef())
	res.Mix, res.RulesPerReading = mixCounts(mix), rulesPerReading(mix, o.Devices, "bench")
	hook := newHookReceiver()
	defer hook.close()
	for round := 1; round <= o.Rounds; round++ {
		for _, name := range roundOrder([]string{"baseline", "rules"}, round) {
			var rs []rules.Rule
			if name == "rules" {
				rs = mix
			}
			run, err := rulesRun(ctx, o, hook, name, rs)
			if err != nil {
				return res, fmt.Errorf("%s run: %w", name, err)
			}
			run.Round = round
			res.Runs = append(res.Runs, run)
		}
		for _, peer := range []struct {
			name string
			on   bool
		}{{PeerRun, !o.NoPeer}, {MochiRun, o.MochiPeer}} {
			if !peer.on {
				continue
			}
			run, err := rulesPeerRun(ctx, o, peer.name)
			if err != nil {
				return res, fmt.Errorf("%s run: %w", peer.name, err)
			}
			run.Round = round
			res.Runs = append(res.Runs, run)
		}
	}
	for _, phase := range []string{"idle", "paced", "saturating"} {
		res.P99 = append(res.P99, PhaseP99{Phase: phase, Alert: medianP99(res.Runs, "rules", phase),
			Peer: medianP99(res.Runs, PeerRun, phase), Mochi: medianP99(res.Runs, MochiRun, phase)})
	}
	res.Ratio = ratio(res.Runs, "rules", "baseline", func(r RulesRun) float64 { return r.Load.MsgsPerSec })
	res.RoundRatios = roundRatios(res.Runs)
	res.RoundCPU = roundCPU(res.Runs)
	edgeCPU := func(r RulesRun) float64 { return r.LoadCPU.Server }
	res.EdgeCPU.Baseline, res.EdgeCPU.Rules = medianOf(res.Runs, "baseline", edgeCPU), medianOf(res.Runs, "rules", edgeCPU)
	var loads []float64
	for _, r := range res.Runs {
		loads = append(loads, r.LoadCPU.Load)
	}
	res.EdgeCPU.Load = median(loads)
	heapOf := func(name string) float64 {
		return medianOf(res.Runs, name, func(r RulesRun) float64 { return float64(r.Heap.HeapAlloc) })
	}
	res.ActiveBytesPerRule = (heapOf("rules") - heapOf("baseline")) / float64(len(mix))
	var err error
	res.Load, err = rulesLoad(ctx, o, hook, res.Runs)
	return res, err
}

func medianOf[T interface{ name() string }](ts []T, name string, f func(T) float64) float64 {
	var vs []float64
	for _, t := range ts {
		if t.name() == name {
			vs = append(vs, f(t))
		}
	}
	return median(vs)
}

// rulesRun starts a node with rs and drives it with the paced then the
// saturating load; with rules, probes run before (idle) and during both.
func rulesRun(ctx context.Context, o RulesOptions, hook *hookReceiver, name string, rs []rules.Rule) (RulesRun, error) {
	run := RulesRun{Name: name, Rules: len(rs)}
	o.Log.Info("starting edge node", "run", name, "rules", len(rs))
	p, mqttAddr, started, err := startEdgeConfig(ctx, o.EdgeBin, EdgeConfig{Rules: rs, WebhookURL: hook.url()})
	if err != nil {
		return run, err
	}
	defer p.close()
	run.StartupMs = msOf(time.Since(started))
	base := "http://" + p.addr
	if run.IdleHeap, err = heapAfterGC(ctx, base, p.pid()); err != nil {
		return run, err
	}
	var pr *prober
	if len(rs) > 0 {
		if pr, err = newProber(mqttAddr, hook.arrivals, o.ProbeTimeout); err != nil {
			return run, err
		}
		defer pr.close()
	}
	// Readings carry the wall clock, as real ones do: the engine's Tick moves
	// window watermarks to the wall clock, so older readings would be late
	// and skip the windows. (Two messages of a device within a millisecond
	// overwrite one point in the store; the rules see both.)
	if pr != nil {
		if err := run.idleProbes(ctx, pr, o); err != nil {
			return run, err
		}
	}
	paced := o.pacedLoad(mqttAddr)
	o.Log.Info("paced load", "run", name, "rate", o.PacedRate, "duration", o.PacedDuration)
	if run.Paced, _, err = loadWithProbes(ctx, paced, pr, &run, "paced", o); err != nil {
		return run, err
	}
	if run.PacedRulesDropped, err = metricSum(ctx, base, "edgevault_rules_dropped_total", `stage="input"`); err != nil {
		run.Notes = append(run.Notes, err.Error())
	}
	o.Log.Info("saturating load", "run", name, "duration", o.Duration)
	if err := run.saturate(ctx, paced, pr, o, p.pid()); err != nil {
		return run, err
	}
	run.measureAfter(ctx, base, p.pid())
	return run, ctx.Err()
}

// pacedLoad is the paced load of a run against broker; saturate derives
// the saturating one from it.
func (o RulesOptions) pacedLoad(broker string) sim.Options {
	return sim.Options{Broker: broker, Devices: o.Devices, Rate: o.PacedRate, Duration: o.PacedDuration,
		Format: sim.FormatJSON, QoS: 1, Inflight: o.Inflight, Prefix: "bench", Seed: 1}
}

// idleProbes measures the pipeline's own latency, without queueing behind
// a load: probes 10 ms apart.
func (run *RulesRun) idleProbes(ctx context.Context, pr *prober, o RulesOptions) error {
	idle := make(chan struct{})
	close(idle)
	res, err := pr.run(ctx, "idle", o.Probes, 10*time.Millisecond, idle)
	if err != nil {
		return fmt.Errorf("idle probes: %w", err)
	}
	run.Probes = append(run.Probes, res)
	return nil
}

// saturate runs the paced load's saturating twin with the probes, and the
// CPU per message of the server (pid) and of the load generator.
func (run *RulesRun) saturate(ctx context.Context, paced sim.Options, pr *prober, o RulesOptions, pid int) error {
	sat := paced
	sat.Rate, sat.Duration = 0, o.Duration
	cpu0, cpuErr := cpuSeconds(pid)
	var loadCPU time.Duration
	var err error
	if run.Load, loadCPU, err = loadWithProbes(ctx, sat, pr, run, "saturating", o); err != nil {
		return err
	}
	cpu1, err := cpuSeconds(pid)
	if err = errors.Join(cpuErr, err); err != nil {
		run.Notes = append(run.Notes, err.Error())
	} else if n := float64(run.Load.Acked); n > 0 {
		run.LoadCPU = CPUPerMsg{Server: (cpu1 - cpu0) * 1e6 / n, Load: float64(loadCPU.Microseconds()) / n}
	}
	return nil
}

// loadWithProbes runs the load and, when pr is set, the probes beside it,
// spread over the load's duration; it returns the load's report and the
// CPU time of its process.
func loadWithProbes(ctx context.Context, load sim.Options, pr *prober, run *RulesRun, phase string, o RulesOptions) (sim.Report, time.Duration, error) {
	done := make(chan struct{})
	probed := make(chan error, 1)
	if pr != nil {
		interval := max((load.Duration-time.Second)/time.Duration(o.Probes), 5*time.Millisecond)
		go func() {
			if err := sleepUntil(ctx, time.Now().Add(500*time.Millisecond)); err != nil {
				probed <- err
				return
			}
			res, err := pr.run(ctx, phase, o.Probes, interval, done)
			run.Probes = append(run.Probes, res)
			probed <- err
		}()
	} else {
		probed <- nil
	}
	rep, cpu, err := runSimProc(ctx, o.EdgeBin, load, o.IdleLoad)
	close(done)
	if perr := <-probed; err == nil && perr != nil {
		err = fmt.Errorf("probes: %w", perr)
	}
	if err != nil {
		return rep, cpu, fmt.Errorf("%s load: %w", phase, err)
	}
	if rep.Failed > 0 {
		run.Notes = append(run.Notes, fmt.Sprintf("%s load: %d publishes failed", phase, rep.Failed))
	}
	return rep, cpu, nil
}

// measureAfter reads the heap, the rules' counters and their states.
func (run *RulesRun) measureAfter(ctx context.Context, base string, pid int) {
	note := func(err error) {
		if err != nil {
			run.Notes = append(run.Notes, err.Error())
		}
	}
	var err error
	run.Heap, err = heapAfterGC(ctx, base, pid)
	note(err)
	run.PeakRSS, err = peakRSS(pid)
	note(err)
	run.RulesDropped, err = metricSum(ctx, base, "edgevault_rules_dropped_total", `stage="input"`)
	note(err)
	run.OutputsDropped, err = metricSum(ctx, base, "edgevault_rules_dropped_total", `stage="output"`)
	note(err)
	run.AlertsRecorded, err = metricSum(ctx, base, "edgevault_alerts_recorded_total")
	note(err)
	if run.Rules > 0 {
		run.RuleErrors, err = ruleErrors(ctx, base)
		note(err)
	}
}

// ruleErrors counts the rules GET /api/v1/rules lists in the error state.
func ruleErrors(ctx context.Context, base string) (int, error) {
	var l struct {
		Items []struct {
			Status struct{ State string } `json:"status"`
		} `json:"items"`
	}
	if err := getJSON(ctx, &http.Client{Timeout: time.Minute}, base+"/api/v1/rules", &l); err != nil {
		return 0, fmt.Errorf("list rules: %w", err)
	}
	n := 0
	for _, it := range l.Items {
		if it.Status.State == "error" {
			n++
		}
	}
	return n, nil
}

// rulesLoad starts a node with LoadRules rules and no traffic: startup
// time, idle heap, and one rule added over REST (the service compiles the
// whole set again on every change).
func rulesLoad(ctx context.Context, o RulesOptions, hook *hookReceiver, runs []RulesRun) (RulesLoad, error) {
	rs := append(RuleMix(o.LoadRules-1, o.Devices, "bench", o.FleetEvery), probeRuleDef())
	l := RulesLoad{Rules: len(rs)}
	o.Log.Info("starting edge node", "run", "load", "rules", len(rs))
	p, _, started, err := startEdgeConfig(ctx, o.EdgeBin, EdgeConfig{Rules: rs, WebhookURL: hook.url()})
	if err != nil {
		return l, err
	}
	defer p.close()
	l.StartupMs = msOf(time.Since(started))
	l.ExtraStartupMs = l.StartupMs - medianOf(runs, "baseline", func(r RulesRun) float64 { return r.StartupMs })
	base := "http://" + p.addr
	if l.IdleHeap, err = heapAfterGC(ctx, base, p.pid()); err != nil {
		return l, err
	}
	idle0 := medianOf(runs, "baseline", func(r RulesRun) float64 { return float64(r.IdleHeap.HeapAlloc) })
	l.BytesPerRule = (float64(l.IdleHeap.HeapAlloc) - idle0) / float64(len(rs))
	extra := RuleMix(o.LoadRules+1, o.Devices, "bench", o.FleetEvery)[o.LoadRules]
	extra.ID = "bench-rest-rule"
	if l.PutMs, err = postRule(ctx, base, extra); err != nil {
		l.Notes = append(l.Notes, err.Error())
	}
	return l, ctx.Err()
}

// postRule creates a rule over REST and times the request.
func postRule(ctx context.Context, base string, r rules.Rule) (float64, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/rules", bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return 0, fmt.Errorf("post rule: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	d := msOf(time.Since(t0))
	if resp.StatusCode/100 != 2 {
		return d, fmt.Errorf("post rule: status %s: %s", resp.Status, body)
	}
	return d, nil
}
