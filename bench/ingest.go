package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/edgevault/edgevault/sim"
)

// jsonMetrics are the metrics of sim's json format, queried back to verify.
var jsonMetrics = []string{"temperature", "humidity", "pressure", "co2", "battery"}

// IngestOptions configure `bench ingest`. Zero values take the defaults noted.
type IngestOptions struct {
	Duration time.Duration // load per target; 0 means 10s
	Devices  int           // 0 means 50
	Inflight int           // per client; 0 means 16
	EdgeBin  string        // edgevault binary; "" means os.Executable()
	Targets  []string      // "edge", "mosquitto"; nil means both
	Rounds   int           // runs of every target, order alternating per round; 0 means 1
	Log      *slog.Logger  // progress; nil discards
	Now      func() time.Time
}

func (o *IngestOptions) defaults() {
	o.Duration = orDefault(o.Duration, 10*time.Second)
	o.Devices = orDefault(o.Devices, 50)
	o.Inflight = orDefault(o.Inflight, 16)
	o.Rounds = orDefault(o.Rounds, 1)
	if o.Targets == nil {
		o.Targets = []string{"edge", "mosquitto"}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// IngestTarget is the outcome of the ingest load against one broker.
type IngestTarget struct {
	Name  string     `json:"name"`
	Round int        `json:"round"`
	Load  sim.Report `json:"load"`
	// Edge only.
	StoredPoints  int64     `json:"stored_points,omitempty"` // counted back over REST
	Verified      bool      `json:"verified"`                // StoredPoints == Load.PointsAcked
	Disk          DiskUsage `json:"disk"`                    // data dir after compaction
	BytesPerPoint float64   `json:"bytes_per_point"`         // Disk.Apparent / StoredPoints
	SSTPerPoint   float64   `json:"sst_bytes_per_point"`     // Disk.SST / StoredPoints
	Compacted     bool      `json:"compacted"`
	PeakRSSBytes  int64     `json:"peak_rss_bytes,omitempty"` // VmHWM
	Notes         []string  `json:"notes,omitempty"`
}

// IngestResult is the outcome of `bench ingest`.
type IngestResult struct {
	Options struct {
		Devices  int     `json:"devices"`
		Inflight int     `json:"inflight"`
		Seconds  float64 `json:"seconds"`
		QoS      int     `json:"qos"`
		Format   string  `json:"format"`
	} `json:"options"`
	Targets []IngestTarget `json:"targets"`
	// Ratio is the median edge msgs/s over the median mosquitto msgs/s
	// across rounds; 0 unless both ran.
	Ratio float64 `json:"ratio_edge_mosquitto"`
}

// Ingest runs the ingest benchmark against each target in turn, Rounds
// times.
func Ingest(ctx context.Context, o IngestOptions) (IngestResult, error) {
	o.defaults()
	var res IngestResult
	res.Options.Devices, res.Options.Inflight, res.Options.Seconds = o.Devices, o.Inflight, o.Duration.Seconds()
	res.Options.QoS, res.Options.Format = 1, string(sim.FormatJSON)
	for round := 1; round <= o.Rounds; round++ {
		for _, name := range roundOrder(o.Targets, round) {
			var t IngestTarget
			var err error
			switch name {
			case "edge":
				t, err = ingestEdge(ctx, o)
			case "mosquitto":
				t, err = ingestMosquitto(ctx, o)
			default:
				err = fmt.Errorf("unknown ingest target %q (want edge or mosquitto)", name)
			}
			if err != nil {
				return res, err
			}
			t.Round = round
			res.Targets = append(res.Targets, t)
		}
	}
	res.Ratio = ratio(res.Targets, "edge", "mosquitto", func(t IngestTarget) float64 { return t.Load.MsgsPerSec })
	return res, nil
}

// roundOrder reverses the targets on even rounds, so that neither always
// runs first on a machine whose load drifts.
func roundOrder(targets []string, round int) []string {
	if round%2 == 1 {
		return targets
	}
	r := slices.Clone(targets)
	slices.Reverse(r)
	return r
}

// ratio is median f(a) / median f(b) over the named targets' rounds, 0 if
// either is missing.
func ratio[T interface{ name() string }](ts []T, a, b string, f func(T) float64) float64 {
	var va, vb []float64
	for _, t := range ts {
		switch t.name() {
		case a:
			va = append(va, f(t))
		case b:
			vb = append(vb, f(t))
		}
	}
	ma, mb := median(va), median(vb)
	if ma == 0 || mb == 0 {
		return 0
	}
	return ma / mb
}

// median of vs (mean of the middle two for an even count), 0 if empty.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (t IngestTarget) name() string { return t.Name }

// loadOptions is the same load for every target. Timestamps start an hour
// back and advance 1 ms per message, so a device's messages never share a
// timestamp (a TSDB keeps one point per series and instant).
func (o IngestOptions) loadOptions(broker string) sim.Options {
	return sim.Options{Broker: broker, Devices: o.Devices, Rate: 0, Duration: o.Duration, Format: sim.FormatJSON,
		QoS: 1, Inflight: o.Inflight, Prefix: "bench", Seed: 1, Start: o.Now().Add(-time.Hour).UnixMilli(), Interval: 1}
}

func ingestMosquitto(ctx context.Context, o IngestOptions) (IngestTarget, error) {
	o.Log.Info("starting mosquitto")
	p, err := startMosquitto(ctx)
	if err != nil {
		return IngestTarget{}, err
	}
	defer p.close()
	o.Log.Info("load", "target", "mosquitto", "broker", p.addr, "duration", o.Duration)
	rep, err := sim.Run(ctx, o.loadOptions(p.addr))
	if err != nil {
		return IngestTarget{}, fmt.Errorf("mosquitto load: %w", err)
	}
	t := IngestTarget{Name: "mosquitto", Load: rep}
	if t.PeakRSSBytes, err = peakRSS(p.pid()); err != nil {
		t.Notes = append(t.Notes, err.Error())
	}
	return t, ctx.Err()
}

func ingestEdge(ctx context.Context, o IngestOptions) (IngestTarget, error) {
	o.Log.Info("starting edge node")
	p, mqttAddr, err := startEdge(ctx, o.EdgeBin)
	if err != nil {
		return IngestTarget{}, err
	}
	defer p.close()
	load := o.loadOptions(mqttAddr)
	o.Log.Info("load", "target", "edge", "broker", mqttAddr, "duration", o.Duration)
	rep, err := sim.Run(ctx, load)
	if err != nil {
		return IngestTarget{}, fmt.Errorf("edge load: %w", err)
	}
	t := IngestTarget{Name: "edge", Load: rep}
	base := "http://" + p.addr
	o.Log.Info("verifying stored points over REST", "series", o.Devices*len(jsonMetrics))
	if err := t.verify(ctx, base, load, o.Now().UnixMilli()+1); err != nil {
		return t, err
	}
	t.measureDisk(ctx, o.Log, base, p.data)
	if t.PeakRSSBytes, err = peakRSS(p.pid()); err != nil {
		t.Notes = append(t.Notes, err.Error())
	}
	return t, ctx.Err()
}

// verify counts every series back; the sum must equal the acked points.
func (t *IngestTarget) verify(ctx context.Context, base string, load sim.Options, to int64) error {
	ids := make([]string, load.Devices)
	for i := range ids {
		ids[i] = load.DeviceID(i)
	}
	n, err := storedPoints(ctx, base, ids, load.Start, to)
	if err != nil {
		return err
	}
	t.StoredPoints = n
	t.Verified = t.StoredPoints == t.Load.PointsAcked
	if !t.Verified {
		t.Notes = append(t.Notes, fmt.Sprintf("stored %d points, acked %d", t.StoredPoints, t.Load.PointsAcked))
	}
	return nil
}

// storedPoints counts the points of every jsonMetrics series of the devices
// in [from, to) over REST.
func storedPoints(ctx context.Context, base string, ids []string, from, to int64) (int64, error) {
	c := &http.Client{Timeout: time.Minute}
	var total int64
	for _, id := range ids {
		for _, m := range jsonMetrics {
			n, err := countSeries(ctx, c, base, id, m, from, to)
			if err != nil {
				return total, err
			}
			total += n
		}
	}
	return total, nil
}

// measureDisk compacts when the node can, then measures the data dir.
func (t *IngestTarget) measureDisk(ctx context.Context, log *slog.Logger, base, dir string) {
	log.Info("compacting")
	switch err := compact(ctx, &http.Client{}, base); {
	case err == nil:
		t.Compacted = true
	case errors.Is(err, ErrNoCompact):
		t.Notes = append(t.Notes, "POST /api/v1/admin/compact not available: disk measured without compaction")
	default:
		t.Notes = append(t.Notes, err.Error())
	}
	u, err := settledUsage(ctx, dir, 500*time.Millisecond, 10*time.Second)
	if err != nil {
		t.Notes = append(t.Notes, err.Error())
		return
	}
	t.Disk = u
	if t.StoredPoints > 0 {
		t.BytesPerPoint = float64(u.Apparent) / float64(t.StoredPoints)
		t.SSTPerPoint = float64(u.SST) / float64(t.StoredPoints)
	}
}

// settledUsage measures dir until two measurements every seconds apart agree,
// or limit passes: Pebble deletes the files a compaction made obsolete in the
// background, after the compaction call returned.
func settledUsage(ctx context.Context, dir string, every, limit time.Duration) (DiskUsage, error) {
	deadline := time.Now().Add(limit)
	prev, err := dirUsage(dir)
	for err == nil && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(every)
		var u DiskUsage
		if u, err = dirUsage(dir); err == nil && u == prev {
			return u, nil
		}
		prev = u
	}
	return prev, err
}
