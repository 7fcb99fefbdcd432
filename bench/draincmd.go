package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
)

func drainCommand(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	fs := newFlagSet("drain", "Loads the edge node over POST /write while its cloud (edgevault cloud, embedded store) is unreachable,\n"+
		"then lets the cloud be reached and measures the drain of the backlog while a live load continues:\n"+
		"points/s, bytes per point on the wire against line protocol and JSON, peak RSS of both; every point is counted back in the cloud.", stderr)
	o := DrainOptions{Log: log}
	var asJSON bool
	fs.IntVar(&o.Devices, "devices", 100, "loaded devices (2 series each)")
	fs.IntVar(&o.Seconds, "seconds", 50_000, "points per series, 1 s apart (points = devices x 2 x seconds)")
	fs.IntVar(&o.BatchLines, "batch-lines", 5000, "lines per POST /write while loading")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the random walks")
	fs.IntVar(&o.DrainRate, "drain-rate", 0, "uplink.drain_rate in points/s, -1 unpaced (default: the uplink default)")
	fs.IntVar(&o.BatchPoints, "batch-points", 0, "uplink.batch_points (default: the uplink default)")
	fs.IntVar(&o.LiveRate, "live-rate", 5000, "points/s written to the edge during the drain, -1 none")
	fs.IntVar(&o.LiveDevices, "live-devices", 50, "devices of the live load")
	fs.StringVar(&o.EdgeProfile, "edge-cpuprofile", "", "write a CPU profile of the edge taken during the drain to this file")
	fs.IntVar(&o.ProfileSeconds, "profile-seconds", 10, "length of the edge CPU profile")
	fs.DurationVar(&o.Timeout, "timeout", 0, "bound of each wait: backlog filled, drain, settle (default 5m)")
	fs.StringVar(&o.EdgeBin, "edge-bin", "", "edgevault binary to run as edge and cloud (default: this binary)")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	if code, done := parse(fs, args); done {
		return code
	}
	res, err := Drain(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "bench drain: %v\n", err)
		return 1
	}
	if asJSON {
		writeJSON(stdout, res)
	} else {
		WriteDrainTable(stdout, res)
	}
	if !res.Verified {
		return 1
	}
	return 0
}

// WriteDrainTable prints a DrainResult as aligned tables.
func WriteDrainTable(w io.Writer, r DrainResult) {
	fmt.Fprintf(w, "drain: %d devices x %d metrics x %d s at 1 Hz = %d points (2-decimal random walks), POST /write %d-line batches\n",
		r.Devices, len(storageMetrics), r.Seconds, r.Points, r.BatchLines)
	fmt.Fprintf(w, "edge uplink: drain_rate %d points/s, batch_points %d, backoff 100ms..1s, the rest default; cloud: embedded store, loopback\n\n",
		r.DrainRate, r.BatchPoints)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tseconds\tpoints/s\tdetail\t")
	fmt.Fprintf(tw, "load (cloud down)\t%.1f\t%.0f\t%d requests refused\t\n", r.LoadSeconds, r.LoadPointsPerSec, r.Refused)
	fmt.Fprintf(tw, "until all queued\t%.1f\t-\t%d batches, %d items, %.1f MiB\t\n", r.BacklogSeconds, r.BacklogBatches,
		r.BacklogItems, mib(r.BacklogBytes))
	fmt.Fprintf(tw, "drain\t%.2f\t%.0f\t%d points in %d batches, first request after %.0f ms, cloud answering %.0f%% of the time\t%s\t\n",
		r.DrainSeconds, r.DrainPointsPerSec, r.Wire.Points, r.Wire.Batches, r.FirstRequestMs,
		100*r.Wire.CloudSeconds/max(r.DrainSeconds, 1e-9), target(r.DrainPointsPerSec >= DrainTargetRate))
	l := r.Live
	fmt.Fprintf(tw, "live load (during drain)\t%.2f\t%.0f\tof %d; POST p50 %.1f ms, p99 %.1f ms, %d errors\t\n", l.Seconds,
		l.PointsPerSec, l.TargetRate, l.P50Ms, l.P99Ms, l.Errors)
	fmt.Fprintf(tw, "settle (live stopped)\t%.2f\t-\t%d points in %d batches after opening\t\n", r.SettleSeconds,
		r.AfterWire.Points, r.AfterWire.Batches)
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "encoding of the loaded points\tbytes\tbytes/point\tvs wire\t")
	perPt := func(b int64) float64 { return float64(b) / float64(max(1, r.Points)) }
	wire := r.WirePerPoint(false)
	row := func(name string, b int64, extra string) {
		bpp := perPt(b)
		ratio := "-"
		if wire > 0 {
			ratio = fmt.Sprintf("%.1fx", bpp/wire)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%s\t%s\t\n", name, b, bpp, ratio, extra)
	}
	fmt.Fprintf(tw, "wire: sealed batch bodies\t%d\t%.3f\t1.0x\t%s\t\n", r.Wire.BodyBytes, wire, target(wire > 0 && wire <= DrainTargetWireByte))
	fmt.Fprintf(tw, "wire: bodies + HTTP request headers\t%d\t%.3f\t-\t\t\n", r.Wire.BodyBytes+r.Wire.HeaderBytes, r.WirePerPoint(true))
	fmt.Fprintf(tw, "edge outbox (queued records, incl. %d metadata items)\t%d\t%.3f\t-\t\t\n", r.BacklogItems-r.Points,
		r.BacklogBytes, perPt(r.BacklogBytes))
	row("line protocol (precision s)", r.Sizes.LineProtocol, "")
	row("JSON object per point", r.Sizes.JSONPoint, "")
	row("JSON object per device-second", r.Sizes.JSONDeviceSecond, "")
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "process\tpeak RSS load MiB\tpeak RSS drain MiB\tVmHWM MiB\t\tCPU s in drain\tcores\t")
	for _, p := range []string{"edge", "cloud"} {
		hwm := r.RSS[p+"_hwm"]
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%s\t%.1f\t%.2f\t\n", p, mib(r.RSS[p+"_load"]), mib(r.RSS[p+"_drain"]), mib(hwm),
			target(hwm > 0 && hwm < DrainTargetRSS), r.DrainCPU[p], r.DrainCPU[p]/max(r.DrainSeconds, 1e-9))
	}
	tw.Flush()

	fmt.Fprintf(w, "\ncloud: %d series counted back, %d points, expected %d: %s\n", r.SeriesChecked, r.CloudPoints,
		r.ExpectPoints, okOr(r.Verified, "MISMATCH"))
	fmt.Fprintf(w, "targets: drain >= %d points/s, wire <= %.0f bytes/point, VmHWM < %.0f MB (%.1f MiB) for edge and cloud\n",
		DrainTargetRate, DrainTargetWireByte, DrainTargetRSS/1e6, DrainTargetRSS/(1<<20))
	fmt.Fprintf(w, "load average at the drain's start and end: %s / %s (other work on the machine shows here)\n", r.LoadAvg[0], r.LoadAvg[1])
	fmt.Fprintln(w, "drain: from opening the way to the cloud until the last batch queued at that moment was acknowledged")
	fmt.Fprintln(w, "wire: the backlog's telemetry batches as the bench's forwarding proxy saw them (readings only, metadata batches apart)")
	fmt.Fprintln(w, "JSON sizes: shortest numbers (21 for 21.00), ts in Unix ms; the device-second object names the device in its MQTT topic, not counted")
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func target(ok bool) string {
	if ok {
		return "target met"
	}
	return "TARGET MISSED"
}
