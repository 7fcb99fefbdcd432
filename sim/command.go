package sim

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: edgevault sim [flags]
       edgevault sim gateway [flags]   (gateways; see its -h)

Simulates devices publishing telemetry over MQTT 3.1.1, each device its own
client, and prints sent, acked, failed, msgs/s, points and ack latency.

flags:
`

// Command runs `edgevault sim ARGS`; it returns the process exit code.
// `edgevault sim gateway ARGS` runs gateways instead (RunGateways).
func Command(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "gateway" {
		return gatewayCommand(args[1:], stdout, stderr)
	}
	opts, asJSON, record, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if record != "" {
		f, err := os.Create(record)
		if err != nil {
			fmt.Fprintf(stderr, "sim: %v\n", err)
			return 1
		}
		defer f.Close()
		opts.Record = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "sim: %v\n", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		WriteSummary(stdout, rep)
	}
	if rep.Failed > 0 {
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (o Options, asJSON bool, record string, err error) {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	var format string
	var qos uint
	fs.StringVar(&o.Broker, "broker", "127.0.0.1:1883", "MQTT broker `host:port`")
	fs.IntVar(&o.Devices, "devices", 1, "number of simulated devices (one MQTT client each)")
	fs.Float64Var(&o.Rate, "rate", 1, "messages per second per device; 0 = as fast as --inflight allows")
	fs.DurationVar(&o.Duration, "duration", 0, "how long to publish (0 = until --count or Ctrl-C)")
	fs.IntVar(&o.Count, "count", 0, "messages per device (0 = no limit)")
	fs.StringVar(&format, "format", "json", "payload format: json|json10|zigbee2mqtt|tasmota|line|binary")
	fs.UintVar(&qos, "qos", 1, "MQTT QoS: 0, 1 or 2")
	fs.StringVar(&o.Username, "username", "", "MQTT username")
	fs.StringVar(&o.Password, "password", "", "MQTT password")
	fs.IntVar(&o.Inflight, "inflight", 16, "max outstanding publishes per client")
	fs.IntVar(&o.ConnectConcurrency, "connect-concurrency", 64, "connects in flight at once, as a fleet that does not connect in one instant (0 = all)")
	fs.StringVar(&o.Prefix, "prefix", "sim", "device id prefix (ids are PREFIX-0000, PREFIX-0001, ...)")
	fs.StringVar(&o.Topic, "topic", "", "topic override, {device} = device id (default: the format's topic)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed for the readings")
	fs.Int64Var(&o.Start, "start", 0, "deterministic timestamps: first message's ts in Unix ms (0 = wall clock)")
	fs.Int64Var(&o.Interval, "interval", 1000, "with --start: ms between a device's messages")
	fs.DurationVar(&o.AckTimeout, "ack-timeout", 0, "per publish ack timeout (default 10s)")
	fs.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	fs.StringVar(&record, "record", "", "write '<device> <ts-ms> ack|fail' per publish to `FILE`")
	if err = fs.Parse(args); err != nil {
		return o, false, "", err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sim: unexpected arguments %q\n", fs.Args())
		return o, false, "", errors.New("unexpected arguments")
	}
	if qos > 2 {
		fmt.Fprintf(stderr, "sim: --qos must be 0, 1 or 2\n")
		return o, false, "", errors.New("bad qos")
	}
	o.Format, o.QoS = Format(format), byte(qos)
	if _, err = o.withDefaults(); err != nil {
		fmt.Fprintf(stderr, "sim: %v\n", err)
		return o, false, "", err
	}
	return o, asJSON, record, nil
}

// WriteSummary prints a Report as aligned, human-readable lines.
func WriteSummary(w io.Writer, r Report) {
	fmt.Fprintf(w, "format      %s, qos %d, %d devices, %.2fs\n", r.Format, r.QoS, r.Devices, r.Seconds)
	fmt.Fprintf(w, "sent        %d msgs (%d points)\n", r.Sent, r.PointsSent)
	fmt.Fprintf(w, "acked       %d msgs (%d points)\n", r.Acked, r.PointsAcked)
	fmt.Fprintf(w, "failed      %d msgs\n", r.Failed)
	fmt.Fprintf(w, "throughput  %.0f msgs/s acked, %.0f points/s\n", r.MsgsPerSec, r.PointsPerSec)
	if r.QoS > 0 {
		fmt.Fprintf(w, "ack latency p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", r.P50Ms, r.P99Ms, r.MaxMs)
	}
}
