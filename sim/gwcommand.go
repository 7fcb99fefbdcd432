package sim

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const gatewayUsage = `usage: edgevault sim gateway [flags]

Simulates gateways: each is one MQTT client (client id = username = gateway
id) that reports the binary sim-env frames of its sensors as group envelopes
on <topic-prefix>/<id>/up, keeps every report until the platform acks it on
<topic-prefix>/<id>/down (resending it with the same id, with exponential
backoff, at most --max-in-flight at once), answers heartbeats
and executes commands once per command id.

flags:
`

// gatewayCommand runs `edgevault sim gateway ARGS`; it returns the exit code.
func gatewayCommand(args []string, stdout, stderr io.Writer) int {
	opts, asJSON, err := parseGatewayFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := RunGateways(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "sim gateway: %v\n", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		WriteGatewaySummary(stdout, rep)
	}
	if rep.Unacked > 0 || rep.Overflow > 0 {
		return 1
	}
	return 0
}

func parseGatewayFlags(args []string, stderr io.Writer) (o GatewayOptions, asJSON bool, err error) {
	fs := flag.NewFlagSet("sim gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, gatewayUsage); fs.PrintDefaults() }
	var flaky bool
	f := DefaultFlaky
	fs.StringVar(&o.Broker, "broker", "127.0.0.1:1883", "MQTT broker `host:port`")
	fs.IntVar(&o.Gateways, "gateways", 1, "number of gateways (one MQTT client each)")
	fs.IntVar(&o.Sensors, "sensors", 20, "sensors per gateway (frames per group envelope)")
	fs.DurationVar(&o.Interval, "interval", time.Second, "time between two reports of a gateway")
	fs.DurationVar(&o.Duration, "duration", 0, "how long to report (0 = until --count or Ctrl-C)")
	fs.IntVar(&o.Count, "count", 0, "reports per gateway (0 = no limit)")
	fs.BoolVar(&o.Binary, "binary", false, "send compact binary envelopes (default JSON)")
	fs.StringVar(&o.Prefix, "prefix", "gw", "gateway id prefix (ids are PREFIX-0000, PREFIX-0001, ...)")
	fs.StringVar(&o.Topics.Prefix, "topic-prefix", "gw", "gateway topic prefix (PREFIX/<id>/up, PREFIX/<id>/down)")
	fs.StringVar(&o.Password, "password", "", "MQTT password (the username is the gateway id)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed for the readings and the flaky link")
	fs.Int64Var(&o.Start, "start", 0, "deterministic timestamps: first report's ts in Unix ms (0 = wall clock)")
	fs.Int64Var(&o.Step, "step", 0, "with --start: ms between a gateway's reports (default --interval)")
	fs.DurationVar(&o.AckTimeout, "ack-timeout", 0, "first resend of a report not acked within this (default 5s), then exponential backoff")
	fs.DurationVar(&o.MaxBackoff, "max-backoff", 0, "longest wait between two sends of a report (default 8 x --ack-timeout)")
	fs.IntVar(&o.MaxInFlight, "max-in-flight", 8, "unacked reports sent at once per gateway; later ones wait (-1 = no limit)")
	fs.IntVar(&o.Buffer, "buffer", 1000, "max unacked reports kept per gateway (oldest dropped beyond)")
	fs.DurationVar(&o.Drain, "drain", 0, "after the last report, wait this long for acks (default 3s)")
	fs.IntVar(&o.ConnectConcurrency, "connect-concurrency", 100, "connects in flight at once (0 = all)")
	fs.BoolVar(&o.NeverAck, "never-ack", false, "ignore commands: no ack, no result")
	fs.BoolVar(&flaky, "flaky", false, "lossy link: drops, delays and disconnects (tune with the flags below)")
	fs.Float64Var(&f.Drop, "drop", f.Drop, "with --flaky: fraction of envelopes lost")
	fs.Float64Var(&f.Delay, "delay", f.Delay, "with --flaky: fraction of envelopes delayed up to --max-delay")
	fs.DurationVar(&f.MaxDelay, "max-delay", f.MaxDelay, "with --flaky: longest delay")
	fs.Float64Var(&f.Disconnect, "disconnect", f.Disconnect, "with --flaky: chance per report of dropping the connection")
	fs.DurationVar(&f.Down, "down", f.Down, "with --flaky: how long a dropped connection stays down")
	fs.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	if err = fs.Parse(args); err != nil {
		return o, false, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sim gateway: unexpected arguments %q\n", fs.Args())
		return o, false, errors.New("unexpected arguments")
	}
	if flaky {
		o.Flaky = f
	}
	if _, err = o.withDefaults(); err != nil {
		fmt.Fprintf(stderr, "sim gateway: %v\n", err)
		return o, false, err
	}
	return o, asJSON, nil
}

// WriteGatewaySummary prints a GatewayReport as aligned, human-readable lines.
func WriteGatewaySummary(w io.Writer, r GatewayReport) {
	form := "json"
	if r.Binary {
		form = "binary"
	}
	fmt.Fprintf(w, "gateways    %d x %d sensors, %s envelopes, %.2fs\n", r.Gateways, r.Sensors, form, r.Seconds)
	fmt.Fprintf(w, "envelopes   %d sent (%d dropped, %d delayed by the link)\n", r.Envelopes, r.Dropped, r.Delayed)
	fmt.Fprintf(w, "reports     %d made, %d sent, %d acked (%d points), %d resent, %d held\n", r.Reports, r.Sent, r.Acked, r.PointsAcked, r.Resent, r.Held)
	fmt.Fprintf(w, "buffer      %d buffered while down, %d overflowed, %d unacked at the end\n", r.Buffered, r.Overflow, r.Unacked)
	fmt.Fprintf(w, "link        %d disconnects, %d reconnects\n", r.Disconnects, r.Reconnects)
	fmt.Fprintf(w, "heartbeats  %d received, %d sent\n", r.HeartbeatsIn, r.HeartbeatsOut)
	fmt.Fprintf(w, "commands    %d received, %d executed, %d duplicates\n", r.Commands, r.Executed, r.Duplicates)
	fmt.Fprintf(w, "ack latency p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", r.P50Ms, r.P99Ms, r.MaxMs)
}
