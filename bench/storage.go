package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// StorageOptions configure `bench storage`. Zero values take the defaults
// noted.
type StorageOptions struct {
	Devices    int      // 0 means 10 (two series each)
	Seconds    int      // points per series at 1 Hz; 0 means 86400 (one day)
	BatchLines int      // lines per POST /write; 0 means 5000
	Runs       int      // timed runs of every query after one warm-up; 0 means 20
	Seed       uint64   // seeds the random walks; 0 means 1
	EdgeBin    string   // edgevault binary; "" means os.Executable()
	Targets    []string // "edge", "influxdb"; nil means both
	// InfluxSettle bounds the wait for InfluxDB's own TSM compaction after
	// the load; 0 means 5 minutes.
	InfluxSettle time.Duration
	Log          *slog.Logger
	Now          func() time.Time
}

func (o *StorageOptions) defaults() {
	o.Devices = orDefault(o.Devices, 10)
	o.Seconds = orDefault(o.Seconds, 86400)
	o.BatchLines = orDefault(o.BatchLines, 5000)
	o.Runs = orDefault(o.Runs, 20)
	o.Seed = orDefault(o.Seed, 1)
	o.InfluxSettle = orDefault(o.InfluxSettle, 5*time.Minute)
	if o.Targets == nil {
		o.Targets = []string{"edge", "influxdb"}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// QueryStat is the HTTP wall time of one query, run Runs times after a
// warm-up: request sent to last byte of the last page read.
type QueryStat struct {
	Query  string  `json:"query"`
	Runs   int     `json:"runs"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MinMs  float64 `json:"min_ms"`
	Points int     `json:"points"` // points or buckets returned (every run checked)
	Bytes  int     `json:"bytes"`  // response body size
	Source string  `json:"source,omitempty"`
}

// StorageTarget is the outcome of the storage bench against one server.
type StorageTarget struct {
	Name         string  `json:"name"`
	Points       int64   `json:"points"`
	WriteSeconds float64 `json:"write_seconds"`
	PointsPerSec float64 `json:"write_points_per_sec"`
	StoredPoints int64   `json:"stored_points"`
	Verified     bool    `json:"verified"`
	// Disk is measured with the server stopped: edge data dir after
	// POST /api/v1/admin/compact; InfluxDB data and wal dirs after its own
	// compaction settled.
	Disk          DiskUsage `json:"disk"`
	BytesPerPoint float64   `json:"bytes_per_point"`    // Disk.Apparent / StoredPoints
	DuPerPoint    float64   `json:"du_bytes_per_point"` // Disk.Allocated / StoredPoints
	// DataFileBytes are the engine's own data files only: the edge's
	// SSTables (*.sst), InfluxDB's TSM files (*.tsm).
	DataFileBytes    int64   `json:"data_file_bytes"`
	DataFilePerPoint float64 `json:"data_file_bytes_per_point"`
	// Reopened is the same directories measured again once the restarted
	// server is up: Pebble deletes on open the WAL files it kept for
	// recycling, InfluxDB replays and may rewrite its WAL.
	Reopened         DiskUsage `json:"reopened_disk"`
	ReopenedPerPoint float64   `json:"reopened_bytes_per_point"` // Reopened.Apparent / StoredPoints
	Compacted        bool      `json:"compacted"`
	Raw              QueryStat `json:"raw"`
	Avg              QueryStat `json:"avg_1m"`
	PeakRSSBytes     int64     `json:"peak_rss_bytes,omitempty"` // VmHWM after the load
	Notes            []string  `json:"notes,omitempty"`
}

func (t StorageTarget) name() string { return t.Name }

// StorageResult is the outcome of `bench storage`.
type StorageResult struct {
	Devices    int             `json:"devices"`
	Metrics    int             `json:"metrics_per_device"`
	Seconds    int             `json:"seconds"`
	Points     int64           `json:"points"`
	BatchLines int             `json:"batch_lines"`
	From       int64           `json:"from_ms"`
	To         int64           `json:"to_ms"`
	Series     string          `json:"queried_series"`
	Targets    []StorageTarget `json:"targets"`
}

// storageRun is one target's run: the data, the window and the options.
type storageRun struct {
	o        StorageOptions
	bodies   [][]byte
	points   int64
	from, to int64 // ms
	device   string
	metric   string
}

// Storage loads the same day of data into each target in turn, measures it
// at rest, restarts the target and times the raw and 1-minute average
// queries of one series.
func Storage(ctx context.Context, o StorageOptions) (StorageResult, error) {
	o.defaults()
	day := o.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2) // whole past days, within any retention
	r := storageRun{o: o, from: day.UnixMilli(), to: day.UnixMilli() + int64(o.Seconds)*1000,
		device: storageDevice(0), metric: storageMetrics[0].name}
	r.bodies = StorageBatches(o.Devices, o.Seconds, o.BatchLines, day.Unix(), o.Seed)
	r.points = int64(o.Devices) * int64(o.Seconds) * int64(len(storageMetrics))
	res := StorageResult{Devices: o.Devices, Metrics: len(storageMetrics), Seconds: o.Seconds, Points: r.points,
		BatchLines: o.BatchLines, From: r.from, To: r.to, Series: r.device + "/" + r.metric}
	for _, name := range o.Targets {
		var t StorageTarget
		var err error
		switch name {
		case "edge":
			t, err = r.edge(ctx)
		case "influxdb":
			t, err = r.influx(ctx)
		default:
			err = fmt.Errorf("unknown storage target %q (want edge or influxdb)", name)
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", name, err)
		}
		res.Targets = append(res.Targets, t)
	}
	return res, nil
}

func (r storageRun) edge(ctx context.Context) (StorageTarget, error) {
	log := r.o.Log.With("target", "edge")
	log.Info("starting")
	p, _, err := startEdge(ctx, r.o.EdgeBin)
	if err != nil {
		return StorageTarget{}, err
	}
	defer p.close()
	t := StorageTarget{Name: "edge"}
	if err := r.load(ctx, log, &t, p); err != nil {
		return t, err
	}
	ids := make([]string, r.o.Devices)
	for i := range ids {
		ids[i] = storageDevice(i)
	}
	log.Info("verifying stored points over REST")
	if err := r.verifyEdge(ctx, &t, "http://"+p.addr, ids); err != nil {
		return t, err
	}
	log.Info("compacting")
	switch err := compact(ctx, &http.Client{}, "http://"+p.addr); {
	case err == nil:
		t.Compacted = true
	default:
		t.Notes = append(t.Notes, "not compacted: "+err.Error())
	}
	if err := r.atRest(log, &t, p, []string{p.data}, ".sst"); err != nil {
		return t, err
	}
	log.Info("restarting on the same data dir")
	if _, err := runEdge(ctx, p, r.o.EdgeBin); err != nil {
		return t, fmt.Errorf("restart: %w", err)
	}
	if err := t.reopened([]string{p.data}); err != nil {
		return t, err
	}
	return t, r.queries(ctx, log, &t, edgeQueries(p.addr, r))
}

func (r storageRun) verifyEdge(ctx context.Context, t *StorageTarget, base string, ids []string) error {
	c := &http.Client{Timeout: time.Minute}
	for _, id := range ids {
		for _, m := range storageMetrics {
			n, err := countSeries(ctx, c, base, id, m.name, r.from, r.to)
			if err != nil {
				return err
			}
			t.StoredPoints += n
		}
	}
	t.verified(r.points)
	return nil
}

func (t *StorageTarget) verified(wrote int64) {
	t.Verified = t.StoredPoints == wrote
	if !t.Verified {
		t.Notes = append(t.Notes, fmt.Sprintf("stored %d points, wrote %d", t.StoredPoints, wrote))
	}
}

// influxColdSettings make influxd snapshot its cache and fully compact a
// shard soon after writes stop (defaults: 10 minutes and 4 hours), so the
// bench can measure its data at rest in minutes rather than hours.
var influxColdSettings = []string{
	`cache-snapshot-write-cold-duration = "5s"`,
	`compact-full-write-cold-duration = "15s"`,
}

func (r storageRun) influx(ctx context.Context) (_ StorageTarget, err error) {
	log := r.o.Log.With("target", "influxdb")
	log.Info("starting")
	p, err := newPeer("influxdb")
	if err != nil {
		return StorageTarget{}, err
	}
	defer p.close()
	if err := runInflux(ctx, p, influxColdSettings...); err != nil {
		return StorageTarget{}, err
	}
	if err := createInfluxDB(ctx, p.addr, "bench"); err != nil {
		return StorageTarget{}, err
	}
	t := StorageTarget{Name: "influxdb"}
	if err := r.load(ctx, log, &t, p); err != nil {
		return t, err
	}
	if t.StoredPoints, err = influxCount(ctx, p.addr, "SELECT count(*) FROM bench..env"); err != nil {
		return t, fmt.Errorf("count: %w", err)
	}
	t.verified(r.points)
	dirs := []string{filepath.Join(p.dir, "data"), filepath.Join(p.dir, "wal")}
	log.Info("waiting for InfluxDB's own compaction", "limit", r.o.InfluxSettle)
	t.Compacted = influxSettled(ctx, dirs, 5*time.Second, 30*time.Second, r.o.InfluxSettle)
	if !t.Compacted {
		t.Notes = append(t.Notes, fmt.Sprintf("TSM files still changing after %v", r.o.InfluxSettle))
	}
	if err := r.atRest(log, &t, p, dirs, ".tsm"); err != nil {
		return t, err
	}
	log.Info("restarting on the same directories")
	if err := runInflux(ctx, p, influxColdSettings...); err != nil {
		return t, fmt.Errorf("restart: %w", err)
	}
	if err := t.reopened(dirs); err != nil {
		return t, err
	}
	return t, r.queries(ctx, log, &t, influxQueries(p.addr, r))
}

// load POSTs the day to p's /write and reads the peak RSS.
func (r storageRun) load(ctx context.Context, log *slog.Logger, t *StorageTarget, p *peer) error {
	log.Info("load", "points", r.points, "batches", len(r.bodies))
	w, err := postBatches(ctx, "http://"+p.addr+"/write?db=bench&precision=s", r.bodies, r.o.BatchLines)
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	t.Points, t.WriteSeconds = r.points, w.Seconds
	if w.Seconds > 0 {
		t.PointsPerSec = float64(r.points) / w.Seconds
	}
	if t.PeakRSSBytes, err = peakRSS(p.pid()); err != nil {
		t.Notes = append(t.Notes, err.Error())
	}
	return nil
}

// atRest stops p cleanly and measures dirs; files ending in dataSuffix are
// the engine's data files.
func (r storageRun) atRest(log *slog.Logger, t *StorageTarget, p *peer, dirs []string, dataSuffix string) error {
	log.Info("stopping (SIGTERM)")
	if err := p.halt(time.Minute); err != nil {
		t.Notes = append(t.Notes, err.Error())
	}
	for _, d := range dirs {
		u, err := dirUsage(d)
		if err != nil {
			return err
		}
		t.Disk.Apparent += u.Apparent
		t.Disk.Allocated += u.Allocated
		t.Disk.SST += u.SST
		n, err := suffixBytes(d, dataSuffix)
		if err != nil {
			return err
		}
		t.DataFileBytes += n
	}
	if t.StoredPoints > 0 {
		n := float64(t.StoredPoints)
		t.BytesPerPoint, t.DuPerPoint = float64(t.Disk.Apparent)/n, float64(t.Disk.Allocated)/n
		t.DataFilePerPoint = float64(t.DataFileBytes) / n
	}
	log.Info("at rest", "bytes", t.Disk.Apparent, "bytes_per_point", t.BytesPerPoint)
	return nil
}

// reopened measures dirs with the restarted server up.
func (t *StorageTarget) reopened(dirs []string) error {
	t.Reopened = DiskUsage{}
	for _, d := range dirs {
		u, err := dirUsage(d)
		if err != nil {
			return err
		}
		t.Reopened.Apparent += u.Apparent
		t.Reopened.Allocated += u.Allocated
		t.Reopened.SST += u.SST
	}
	if t.StoredPoints > 0 {
		t.ReopenedPerPoint = float64(t.Reopened.Apparent) / float64(t.StoredPoints)
	}
	return nil
}

// influxSettled waits until the wal dirs hold no WAL bytes and the TSM
// files have not changed for quiet, or limit passes; it reports whether
// they settled.
func influxSettled(ctx context.Context, dirs []string, every, quiet, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	var prev string
	stable := time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		state, wal := tsmState(dirs)
		if state != prev {
			prev, stable = state, time.Now()
		} else if wal == 0 && time.Since(stable) >= quiet {
			return true
		}
		time.Sleep(every)
	}
	return false
}

// tsmState lists the TSM files with their sizes (a fingerprint that changes
// with every compaction) and sums the size of the WAL segments.
func tsmState(dirs []string) (state string, walBytes int64) {
	var files []string
	for _, d := range dirs {
		filepath.WalkDir(d, func(path string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			info, err := e.Info()
			if err != nil {
				return nil
			}
			switch {
			case strings.HasSuffix(path, ".wal"):
				walBytes += info.Size()
			case strings.Contains(filepath.Base(path), ".tsm"):
				files = append(files, fmt.Sprintf("%s:%d", path, info.Size()))
			}
			return nil
		})
	}
	slices.Sort(files)
	return strings.Join(files, ","), walBytes
}

// suffixBytes sums the sizes of the files under dir whose name ends in
// suffix.
func suffixBytes(dir, suffix string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, suffix) {
			return err
		}
		info, err := e.Info()
		n += info.Size()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("disk usage: %w", err)
	}
	return n, nil
}
