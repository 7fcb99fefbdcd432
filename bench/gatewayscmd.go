package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
)

func gatewaysCommand(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	fs := newFlagSet("gateways", "Drives the edge node with simulated gateways reporting sensor groups (with heartbeats), then sends\n"+
		"commands over REST to sensors behind answering gateways and times the round trips.", stderr)
	o := GatewaysOptions{Log: log}
	var asJSON bool
	fs.IntVar(&o.Gateways, "gateways", 1000, "reporting gateways (one MQTT client each)")
	fs.IntVar(&o.Sensors, "sensors", 20, "sensors per gateway (frames per group envelope, 5 readings each)")
	fs.DurationVar(&o.Interval, "interval", 1e9, "time between two reports of a gateway")
	fs.DurationVar(&o.Duration, "duration", 60e9, "reporting time (duration/interval reports per gateway)")
	fs.DurationVar(&o.Heartbeat, "heartbeat", 10e9, "the node's gateway.heartbeat_interval")
	fs.BoolVar(&o.Binary, "binary", false, "binary envelopes (default JSON)")
	fs.IntVar(&o.VerifyGateways, "verify-gateways", 50, "gateways whose every series is counted back over REST (-1: none)")
	fs.IntVar(&o.Commands, "commands", 10000, "command round trips (-1: none)")
	fs.IntVar(&o.CmdGateways, "command-gateways", 50, "gateways answering commands (reporting meanwhile)")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "commands in flight")
	fs.DurationVar(&o.CmdTimeout, "command-timeout", 10e9, "a command without a result within this is lost")
	fs.StringVar(&o.EdgeBin, "edge-bin", "", "edgevault binary to run as the edge node (default: this binary)")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	if code, done := parse(fs, args); done {
		return code
	}
	res, err := Gateways(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "bench gateways: %v\n", err)
		return 1
	}
	if asJSON {
		writeJSON(stdout, res)
	} else {
		WriteGatewaysTable(stdout, res)
	}
	if !res.Reports.NoBacklog || (res.Reports.VerifiedGWs > 0 && !res.Reports.Verified) || (res.Commands != nil && res.Commands.Lost > 0) {
		return 1
	}
	return 0
}

// WriteGatewaysTable prints a GatewaysResult.
func WriteGatewaysTable(w io.Writer, r GatewaysResult) {
	o, g := r.Options, r.Reports
	l := g.Load
	form := map[bool]string{false: "json", true: "binary"}[o.Binary]
	fmt.Fprintf(w, "gateways: %d x %d sensors, a %s group every %gs, %d reports each, node heartbeat every %gs\n\n",
		o.Gateways, o.Sensors, form, o.IntervalS, g.Count, o.HeartbeatS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "reports\t%d made, %d sent, %d acked, %d resent, %d unacked, %d overflowed\t\n", l.Reports, l.Sent, l.Acked, l.Resent, l.Unacked, l.Overflow)
	fmt.Fprintf(tw, "rate\toffered %.0f reports/s, acked %.0f reports/s (%.0f points/s) over %.1fs\t\n", g.OfferedPerS, g.AckedPerS, g.PointsPerS, l.Seconds)
	fmt.Fprintf(tw, "backlog\t%s\t\n", map[bool]string{true: "none (every report acked once, nothing resent or left over)", false: "YES"}[g.NoBacklog])
	fmt.Fprintf(tw, "report -> ack\tp50 %.2f ms, p99 %.2f ms, max %.2f ms\t\n", l.P50Ms, l.P99Ms, l.MaxMs)
	fmt.Fprintf(tw, "heartbeats\t%d received from the node, %d sent\t\n", l.HeartbeatsIn, l.HeartbeatsOut)
	if g.VerifiedGWs > 0 {
		fmt.Fprintf(tw, "stored\t%d of %d points of %d gateways counted back: %s\t\n", g.StoredPoints, g.WantPoints, g.VerifiedGWs, verdict(g.Verified))
	}
	fmt.Fprintf(tw, "registry\t%d of %d sensors listed with their 5 series\t\n", g.Registered, o.Gateways*o.Sensors)
	fmt.Fprintf(tw, "peak RSS\t%.1f MiB\t\n", mib(g.PeakRSS))
	tw.Flush()
	if c := r.Commands; c != nil {
		fmt.Fprintf(w, "\ncommands: %d to sensors of %d answering gateways, %d in flight, %.1fs (%.0f/s)\n\n", c.Commands, c.Gateways, c.Concurrency, c.Seconds, c.PerSec)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "round trip\tp50 %.2f ms, p99 %.2f ms, max %.2f ms (POST -> result seen on the broker) %s (target p99 < %d ms)\t\n",
			c.P50Ms, c.P99Ms, c.MaxMs, verdict(c.P99Ms < gatewayP99TargetMs && c.Lost == 0), gatewayP99TargetMs)
		fmt.Fprintf(tw, "POST 202\tp50 %.2f ms, p99 %.2f ms\t\n", c.PostP50Ms, c.PostP99Ms)
		fmt.Fprintf(tw, "node view\t%d succeeded, %d failed, %d expired; created -> succeeded p50 %.2f ms, p99 %.2f ms\t\n",
			c.Succeeded, c.Failed, c.Expired, c.ServerP50Ms, c.ServerP99Ms)
		fmt.Fprintf(tw, "completed\t%d, lost %d\t\n", c.Completed, c.Lost)
		fmt.Fprintf(tw, "fleet\t%d command envelopes received, %d executed, %d duplicates\t\n", c.Fleet.Commands, c.Fleet.Executed, c.Fleet.Duplicates)
		tw.Flush()
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
