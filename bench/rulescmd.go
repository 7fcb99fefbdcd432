package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
)

// Targets of the analytics issue, checked in the table.
const (
	rulesRatioTarget   = 0.90 // throughput with rules within 10 % of without
	rulesP99TargetMs   = 10
	rulesBytesTarget   = 50_000
	rulesLoadTargetMs  = 2000
	gatewayP99TargetMs = 20
)

func rulesCommand(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	fs := newFlagSet("rules", "Runs the edge node without rules and with a mix of rules under the same sim load; probes alert latency\n"+
		"to a local webhook; loads many rules for startup time and memory.", stderr)
	o := RulesOptions{Log: log}
	var asJSON bool
	fs.IntVar(&o.Rules, "rules", 1000, "active rules in the mix (thresholds, expressions, windows, patterns, trends)")
	fs.IntVar(&o.FleetEvery, "fleet-every", 10, "every Nth rule of the mix watches all devices, the others one device each")
	fs.IntVar(&o.LoadRules, "load-rules", 10000, "rules of the load-time and idle-memory run")
	fs.IntVar(&o.Devices, "devices", 50, "simulated devices (one MQTT client each, json format, QoS 1)")
	fs.IntVar(&o.Inflight, "inflight", 16, "outstanding QoS 1 publishes per client")
	fs.DurationVar(&o.Duration, "duration", 10e9, "saturating load per run (as fast as the inflight window allows)")
	fs.DurationVar(&o.PacedDuration, "paced-duration", 10e9, "paced load per run, before the saturating one")
	fs.Float64Var(&o.PacedRate, "paced-rate", 100, "messages per second per device in the paced load")
	fs.IntVar(&o.Probes, "probes", 200, "alert latency probes per load phase")
	fs.DurationVar(&o.ProbeTimeout, "probe-timeout", 5e9, "a probe whose alert does not arrive within this is lost")
	fs.IntVar(&o.Rounds, "rounds", 1, "baseline and rules runs (order alternates); ratios compare medians")
	fs.BoolVar(&o.IdleLoad, "idle-load", false, "run the sim load at the SCHED_IDLE scheduling policy: it gets only the CPU the node leaves,\n"+
		"as devices on other machines would take none of it")
	peer := true
	fs.BoolVar(&peer, "peer", true, "also run the loads and probes through a bare Mosquitto, timing each probe to a subscriber:\n"+
		"the floor for the alert latency under the same load")
	fs.BoolVar(&o.MochiPeer, "mochi-peer", false, "also run them through a bare mochi-mqtt broker (the library of the node's own), in its own\n"+
		"process: a Go broker's floor")
	fs.StringVar(&o.EdgeBin, "edge-bin", "", "edgevault binary to run as the edge node (default: this binary)")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	if code, done := parse(fs, args); done {
		return code
	}
	o.NoPeer = !peer
	res, err := Rules(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "bench rules: %v\n", err)
		return 1
	}
	if asJSON {
		writeJSON(stdout, res)
	} else {
		WriteRulesTable(stdout, res)
	}
	return 0
}

// WriteRulesTable prints a RulesResult as aligned tables.
func WriteRulesTable(w io.Writer, r RulesResult) {
	o := r.Options
	load := "load at the normal scheduling policy, sharing the CPUs with the node"
	if o.IdleLoad {
		load = "load at the SCHED_IDLE policy, on the CPU the node leaves"
	}
	fmt.Fprintf(w, "rules: %d devices, QoS 1, json (5 points/msg); paced %.0f msg/s/device for %.0fs, then saturating (inflight %d) for %.0fs; %s\n",
		o.Devices, o.PacedRate, o.PacedSeconds, o.Inflight, o.Seconds, load)
	fmt.Fprintf(w, "mix of %d rules (+1 probe rule), 1 in %d fleet-wide: %v; a reading reaches %.1f rules on average\n\n",
		o.Rules, o.FleetEvery, r.Mix, r.RulesPerReading)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tround\trules\tstartup ms\tpaced acked\tpaced p99 ms\tsat msgs/s\tsat p50 ms\tsat p99 ms\tserver/load µs/msg\tdropped paced/all\talerts\terrors\theap MiB\tpeak RSS MiB\t")
	for _, x := range r.Runs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%d/%d\t%.2f\t%.0f\t%.2f\t%.2f\t%.1f/%.1f\t%.0f/%.0f\t%.0f\t%d\t%.1f\t%.1f\t\n", x.Name, x.Round, x.Rules,
			x.StartupMs, x.Paced.Acked, x.Paced.Sent, x.Paced.P99Ms, x.Load.MsgsPerSec, x.Load.P50Ms, x.Load.P99Ms, x.LoadCPU.Server, x.LoadCPU.Load,
			x.PacedRulesDropped, x.RulesDropped, x.AlertsRecorded, x.RuleErrors, mib(x.Heap.HeapAlloc), mib(x.PeakRSS))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nprobe latency: reading published (QoS 1) -> rules: alert's webhook POST received; mosquitto, mochi: reading received by a subscriber")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tround\tphase\tprobes\tunder load\treceived\tlost\tresolved\tp50 ms\tp99 ms\tmax ms\t")
	for _, x := range r.Runs {
		for _, p := range x.Probes {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t\n", x.Name, x.Round, p.Phase, p.Probes, p.UnderLoad, p.Received,
				p.Lost, p.Resolved, p.P50Ms, p.P99Ms, p.MaxMs)
		}
	}
	tw.Flush()
	l := r.Load
	fmt.Fprintln(w)
	fmt.Fprintf(w, "throughput with/without rules (saturating, medians): %.3f  %s (target >= %.2f)\n", r.Ratio, verdict(r.Ratio >= rulesRatioTarget), rulesRatioTarget)
	if len(r.RoundRatios) > 0 {
		fmt.Fprintf(w, "  per round (with/without, back to back): ")
		for _, x := range r.RoundRatios {
			fmt.Fprintf(w, "%.2f ", x)
		}
		fmt.Fprintf(w, "(median %.3f)\n", median(r.RoundRatios))
	}
	if len(r.RoundCPU) > 0 {
		m := median(r.RoundCPU)
		fmt.Fprintf(w, "edge CPU per message with/without rules, per round, each over its run's load generator CPU (the box's drift taken out): ")
		for _, x := range r.RoundCPU {
			fmt.Fprintf(w, "%.2f ", x)
		}
		fmt.Fprintf(w, "(median %.3f)\n  so a node with the CPUs to itself would ingest %.3f as many msgs/s with the rules  %s (target >= %.2f)\n",
			m, 1/m, verdict(1/m >= rulesRatioTarget), rulesRatioTarget)
	}
	for _, p := range r.P99 {
		fmt.Fprintf(w, "alert p99, %s (median of rounds): %.2f ms  %s (target < %d)", p.Phase, p.Alert, verdict(p.Alert < rulesP99TargetMs), rulesP99TargetMs)
		if p.Peer > 0 {
			fmt.Fprintf(w, "; through bare Mosquitto to a subscriber: %.2f ms", p.Peer)
		}
		if p.Mochi > 0 {
			fmt.Fprintf(w, "; through bare mochi-mqtt: %.2f ms", p.Mochi)
		}
		fmt.Fprintln(w)
	}
	if c := r.EdgeCPU; c.Baseline > 0 {
		fmt.Fprintf(w, "edge CPU per saturating message (medians): %.1f µs without rules, %.1f µs with (%+.0f %%); load generator %.1f µs\n",
			c.Baseline, c.Rules, 100*(c.Rules/c.Baseline-1), c.Load)
	}
	fmt.Fprintf(w, "heap per active rule (after load, with - without):   %.0f B  %s (target < %d)\n", r.ActiveBytesPerRule,
		verdict(r.ActiveBytesPerRule < rulesBytesTarget), rulesBytesTarget)
	fmt.Fprintf(w, "heap per idle rule (%d rules, no traffic):        %.0f B  %s\n", l.Rules, l.BytesPerRule, verdict(l.BytesPerRule < rulesBytesTarget))
	fmt.Fprintf(w, "startup with %d rules: %.0f ms, %.0f ms more than without  %s (target < %d)\n", l.Rules, l.StartupMs,
		l.ExtraStartupMs, verdict(l.ExtraStartupMs < rulesLoadTargetMs), rulesLoadTargetMs)
	fmt.Fprintf(w, "one POST /api/v1/rules with %d rules loaded: %.0f ms\n", l.Rules, l.PutMs)
	for _, x := range r.Runs {
		for _, n := range x.Notes {
			fmt.Fprintf(w, "note (%s %d): %s\n", x.Name, x.Round, n)
		}
	}
	for _, n := range l.Notes {
		fmt.Fprintf(w, "note (load): %s\n", n)
	}
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
