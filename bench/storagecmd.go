package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
)

func storageCommand(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	fs := newFlagSet("storage", "Loads one day of 1 Hz data (10 devices x 2 metrics) over POST /write into the edge node and InfluxDB 1.6,\n"+
		"measures bytes per point at rest, restarts each and times the raw and 1-minute average query of one series.", stderr)
	o := StorageOptions{Log: log}
	var targets string
	var asJSON bool
	fs.IntVar(&o.Devices, "devices", 10, "devices (2 series each)")
	fs.IntVar(&o.Seconds, "seconds", 86400, "points per series, 1 s apart")
	fs.IntVar(&o.BatchLines, "batch-lines", 5000, "lines per POST /write")
	fs.IntVar(&o.Runs, "runs", 20, "timed runs of every query after one warm-up")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the random walks")
	fs.DurationVar(&o.InfluxSettle, "influx-settle", 0, "longest wait for InfluxDB's own compaction (default 5m)")
	fs.StringVar(&o.EdgeBin, "edge-bin", "", "edgevault binary to run as the edge node (default: this binary)")
	fs.StringVar(&targets, "targets", "edge,influxdb", "comma-separated targets: edge, influxdb")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	if code, done := parse(fs, args); done {
		return code
	}
	o.Targets = strings.Split(targets, ",")
	res, err := Storage(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "bench storage: %v\n", err)
		return 1
	}
	if asJSON {
		writeJSON(stdout, res)
	} else {
		WriteStorageTable(stdout, res)
	}
	for _, t := range res.Targets {
		if !t.Verified {
			return 1
		}
	}
	return 0
}

// WriteStorageTable prints a StorageResult as two aligned tables.
func WriteStorageTable(w io.Writer, r StorageResult) {
	fmt.Fprintf(w, "storage: %d devices x %d metrics, 1 Hz for %d s = %d points, POST /write %d-line batches (precision s)\n\n",
		r.Devices, r.Metrics, r.Seconds, r.Points, r.BatchLines)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\twrite s\tpoints/s\tstored pts\tcompacted\tfiles MiB\tB/pt\tdu B/pt\tdata files B/pt\treopened B/pt\tpeak RSS MiB\t")
	for _, t := range r.Targets {
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t%d %s\t%t\t%.2f\t%.3f\t%.3f\t%.3f\t%.3f\t%.1f\t\n", t.Name, t.WriteSeconds, t.PointsPerSec,
			t.StoredPoints, okOr(t.Verified, "MISMATCH"), t.Compacted, float64(t.Disk.Apparent)/(1<<20),
			t.BytesPerPoint, t.DuPerPoint, t.DataFilePerPoint, t.ReopenedPerPoint, float64(t.PeakRSSBytes)/(1<<20))
	}
	tw.Flush()
	if len(r.Targets) > 0 {
		fmt.Fprintf(w, "\nqueries of %s, one day, after a restart; HTTP wall time over %d runs after 1 warm-up\n\n",
			r.Series, r.Targets[0].Raw.Runs)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tquery\tp50 ms\tp99 ms\tmin ms\treturned\tbody KiB\tsource\t")
	for _, t := range r.Targets {
		for _, q := range []struct {
			name string
			st   QueryStat
		}{{"raw", t.Raw}, {"1m avg", t.Avg}} {
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%.2f\t%d\t%.0f\t%s\t\n", t.Name, q.name, q.st.P50Ms, q.st.P99Ms, q.st.MinMs,
				q.st.Points, float64(q.st.Bytes)/1024, orDash(q.st.Source))
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "\nB/pt: sum of file sizes / stored points, server stopped (edge: data dir after POST /api/v1/admin/compact;")
	fmt.Fprintln(w, "influxdb: data+wal dirs after its own cache snapshot and full compaction); du: allocated blocks;")
	fmt.Fprintln(w, "data files: the engine's own data files only (edge *.sst, influxdb *.tsm);")
	fmt.Fprintln(w, "reopened: sum of file sizes again once the restarted server is up (Pebble drops its recycled WAL files on open)")
	fmt.Fprintln(w, "neither server reports its own query time; the figures are HTTP wall time to the last byte")
	writeNotes(w, r.Targets, func(t StorageTarget) []string { return t.Notes })
}

func scaleCommand(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	fs := newFlagSet("scale", "Connects many MQTT devices (json10: 10 series each) publishing QoS 1 at a slow rate to the edge node,\n"+
		"checks the registry over REST and reports the node's peak RSS.", stderr)
	o := ScaleOptions{Log: log}
	var asJSON bool
	fs.IntVar(&o.Devices, "devices", 1000, "simulated devices (one MQTT client each)")
	fs.Float64Var(&o.Rate, "rate", 1, "messages per second per device")
	fs.DurationVar(&o.Duration, "duration", 0, "load duration (default 60s)")
	fs.IntVar(&o.Inflight, "inflight", 16, "outstanding QoS 1 publishes per client")
	fs.StringVar(&o.EdgeBin, "edge-bin", "", "edgevault binary to run as the edge node (default: this binary)")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	if code, done := parse(fs, args); done {
		return code
	}
	res, err := Scale(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "bench scale: %v\n", err)
		return 1
	}
	if asJSON {
		writeJSON(stdout, res)
	} else {
		WriteScaleTable(stdout, res)
	}
	if !res.Verified {
		return 1
	}
	return 0
}

// WriteScaleTable prints a ScaleResult as an aligned table.
func WriteScaleTable(w io.Writer, r ScaleResult) {
	fmt.Fprintf(w, "scale: %d devices, %s (%d series each), QoS 1, %.3g msg/s each, %.0fs\n\n",
		r.Devices, r.Format, r.Registry.WantSeries, r.Rate, r.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "acked msgs\tfailed\tmsgs/s\tpoints/s\tp50 ms\tp99 ms\tdevices\tseries\tregistry\tpeak RSS MiB\tRSS MiB\t")
	fmt.Fprintf(tw, "%d\t%d\t%.0f\t%.0f\t%.2f\t%.2f\t%d\t%d\t%s\t%.1f\t%.1f\t\n", r.Load.Acked, r.Load.Failed, r.Load.MsgsPerSec,
		r.Load.PointsPerSec, r.Load.P50Ms, r.Load.P99Ms, r.Registry.Devices, r.Registry.Series, okOr(r.Verified, "INCOMPLETE"),
		float64(r.PeakRSSBytes)/(1<<20), float64(r.RSSBytes)/(1<<20))
	tw.Flush()
	fmt.Fprintln(w, "\nregistry: GET /api/v1/devices lists every device with every series; peak RSS: VmHWM of the edge process")
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func okOr(ok bool, bad string) string {
	if ok {
		return "ok"
	}
	return bad
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
