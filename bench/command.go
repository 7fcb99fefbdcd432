package bench

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
	"strings"
	"syscall"
	"text/tabwriter"
)

const usage = `usage: edgevault bench <benchmark> [flags]

benchmarks:
  ingest   MQTT QoS 1 ingest, edge node vs Mosquitto (sim load, stored points verified)
  write    InfluxDB line protocol POST /write, edge node vs InfluxDB 1.6
  storage  one day of 1 Hz data: bytes per point at rest and query latency, edge node vs InfluxDB 1.6
  scale    1,000 MQTT devices x 10 series at 1 msg/s: peak RSS of the edge node
  rules    1,000 active rules: ingest with vs without, alert-to-webhook latency, memory per rule, 10,000-rule load
  gateways 1,000 gateways x 20 sensors through groups with heartbeats; 10,000 command round trips
  drain    10 million points buffered at the edge drain to an embedded cloud while live ingest continues;
           points/s, bytes per point on the wire vs line protocol and JSON, peak RSS of both
  mochi-peer  a bare mochi-mqtt broker, run by rules --mochi-peer as the Go peer of the alert latency

Peers must be installed: scripts/install-deps.sh.
Run 'edgevault bench <benchmark> -h' for its flags.
`

// Command runs `edgevault bench ARGS`; it returns the process exit code.
func Command(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	switch args[0] {
	case "ingest":
		return ingestCommand(ctx, args[1:], stdout, stderr, log)
	case "write":
		return writeCommand(ctx, args[1:], stdout, stderr, log)
	case "storage":
		return storageCommand(ctx, args[1:], stdout, stderr, log)
	case "scale":
		return scaleCommand(ctx, args[1:], stdout, stderr, log)
	case "rules":
		return rulesCommand(ctx, args[1:], stdout, stderr, log)
	case "gateways":
		return gatewaysCommand(ctx, args[1:], stdout, stderr, log)
	case "drain":
		return drainCommand(ctx, args[1:], stdout, stderr, log)
	case "mochi-peer":
		return mochiPeerCommand(ctx, args[1:], stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "bench: unknown benchmark %q\n\n%s", args[0], usage)
	return 2
}

func newFlagSet(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: edgevault bench %s [flags]\n\n%s\nflags:\n", name, help)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; done reports that the caller should return code.
func parse(fs *flag.FlagSet, args []string) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	case err != nil:
		return 2, true
	case fs.NArg() > 0:
		fmt.Fprintf(fs.Output(), "unexpected arguments %q\n", fs.Args())
		return 2, true
	}
	return 0, false
}

func ingestCommand(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	fs := newFlagSet("ingest", "Publishes the same QoS 1 load to the edge node and to Mosquitto and compares them.", stderr)
	o := IngestOptions{Log: log}
	var targets string
	var asJSON bool
	fs.DurationVar(&o.Duration, "duration", 10e9, "load duration per target")
	fs.IntVar(&o.Devices, "devices", 50, "simulated devices (one MQTT client each)")
	fs.IntVar(&o.Inflight, "inflight", 16, "outstanding QoS 1 publishes per client")
	fs.StringVar(&o.EdgeBin, "edge-bin", "", "edgevault binary to run as the edge node (default: this binary)")
	fs.StringVar(&targets, "targets", "edge,mosquitto", "comma-separated targets: edge, mosquitto")
	fs.IntVar(&o.Rounds, "rounds", 1, "runs of every target (order alternates); the ratio compares medians")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	if code, done := parse(fs, args); done {
		return code
	}
	o.Targets = strings.Split(targets, ",")
	res, err := Ingest(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "bench ingest: %v\n", err)
		return 1
	}
	if asJSON {
		writeJSON(stdout, res)
	} else {
		WriteIngestTable(stdout, res)
	}
	for _, t := range res.Targets {
		if t.Name == "edge" && !t.Verified {
			return 1
		}
	}
	return 0
}

func writeCommand(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	fs := newFlagSet("write", "POSTs line-protocol batches over one keep-alive connection to the edge node and to InfluxDB 1.6.", stderr)
	o := WriteOptions{Log: log}
	var targets string
	var asJSON bool
	fs.IntVar(&o.Batches, "batches", 20, "POSTs per target")
	fs.IntVar(&o.BatchLines, "batch-lines", 5000, "lines per POST (5 fields each)")
	fs.IntVar(&o.Series, "series", 100, "distinct devices in the data")
	fs.StringVar(&o.EdgeBin, "edge-bin", "", "edgevault binary to run as the edge node (default: this binary)")
	fs.StringVar(&targets, "targets", "edge,influxdb", "comma-separated targets: edge, influxdb")
	fs.IntVar(&o.Rounds, "rounds", 1, "runs of every target (order alternates); the ratio compares medians")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	if code, done := parse(fs, args); done {
		return code
	}
	o.Targets = strings.Split(targets, ",")
	res, err := Write(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "bench write: %v\n", err)
		return 1
	}
	if asJSON {
		writeJSON(stdout, res)
	} else {
		WriteWriteTable(stdout, res)
	}
	for _, t := range res.Targets {
		if !t.Verified {
			return 1
		}
	}
	return 0
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// WriteIngestTable prints an IngestResult as an aligned table.
func WriteIngestTable(w io.Writer, r IngestResult) {
	o := r.Options
	fmt.Fprintf(w, "ingest: %d devices, QoS %d, %s (5 points/msg), inflight %d, %.0fs per target\n\n",
		o.Devices, o.QoS, o.Format, o.Inflight, o.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tround\tacked msgs\tfailed\tmsgs/s\tpoints/s\tp50 ms\tp99 ms\tstored pts\tbytes/pt\tsst B/pt\tdu MiB\tpeak RSS MiB\t")
	for _, t := range r.Targets {
		stored, bpp, sst, du := "-", "-", "-", "-"
		if t.Name == "edge" {
			stored = fmt.Sprintf("%d %s", t.StoredPoints, map[bool]string{true: "ok", false: "MISMATCH"}[t.Verified])
			bpp, sst = fmt.Sprintf("%.2f", t.BytesPerPoint), fmt.Sprintf("%.2f", t.SSTPerPoint)
			du = fmt.Sprintf("%.1f", float64(t.Disk.Allocated)/(1<<20))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%.0f\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t%.1f\t\n", t.Name, t.Round, t.Load.Acked,
			t.Load.Failed, t.Load.MsgsPerSec, t.Load.PointsPerSec, t.Load.P50Ms, t.Load.P99Ms, stored, bpp, sst, du,
			float64(t.PeakRSSBytes)/(1<<20))
	}
	tw.Flush()
	if r.Ratio > 0 {
		fmt.Fprintf(w, "\nedgevault/mosquitto msgs/s (medians): %.2f\n", r.Ratio)
	}
	fmt.Fprintln(w, "bytes/pt: data dir file sizes / stored points; sst B/pt: compacted SSTables only; du: allocated blocks")
	writeNotes(w, r.Targets, func(t IngestTarget) []string { return t.Notes })
}

// WriteWriteTable prints a WriteResult as an aligned table.
func WriteWriteTable(w io.Writer, r WriteResult) {
	fmt.Fprintf(w, "write: %d-line batches (%d fields/line) over one keep-alive connection, %d series\n\n",
		r.BatchLines, fieldsPerLine, r.Series)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tround\tbatches\tpoints\tseconds\tpoints/s\tbatch p50 ms\tbatch p99 ms\tstored pts\tpeak RSS MiB\t")
	for _, t := range r.Targets {
		stored := fmt.Sprintf("%d %s", t.StoredPoints, map[bool]string{true: "ok", false: "MISMATCH"}[t.Verified])
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%.0f\t%.1f\t%.1f\t%s\t%.1f\t\n", t.Name, t.Round, t.Batches, t.Points, t.Seconds,
			t.PointsPerSec, t.P50Ms, t.P99Ms, stored, float64(t.PeakRSSBytes)/(1<<20))
	}
	tw.Flush()
	if r.Ratio > 0 {
		fmt.Fprintf(w, "\nedgevault/influxdb points/s (medians): %.2f\n", r.Ratio)
	}
	writeNotes(w, r.Targets, func(t WriteTarget) []string { return t.Notes })
}

func writeNotes[T interface{ name() string }](w io.Writer, ts []T, notes func(T) []string) {
	for _, t := range ts {
		for _, n := range notes(t) {
			fmt.Fprintf(w, "note (%s): %s\n", t.name(), n)
		}
	}
}
