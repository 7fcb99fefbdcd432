package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/edgevault/edgevault/uplink"
)

// drainEdgeID is the edge id the cloud of `bench drain` knows.
const drainEdgeID = "bench-edge"

// Targets of the cloud issue that `bench drain` checks.
const (
	DrainTargetRate     = 500_000 // points/s
	DrainTargetRSS      = 250e6   // bytes, either process
	DrainTargetWireByte = 3.0     // bytes per point on the wire
)

// DrainOptions configure `bench drain`. Zero values take the defaults noted.
type DrainOptions struct {
	Devices    int    // loaded devices, 2 series each; 0 means 100
	Seconds    int    // points per series, 1 s apart; 0 means 50,000 (10,000,000 points with 100 devices)
	BatchLines int    // lines per POST /write while loading; 0 means 5000
	Seed       uint64 // seed of the random walks; 0 means 1
	// DrainRate is written as uplink.drain_rate (points/s, -1 unpaced);
	// 0 leaves the uplink default (uplink.DefaultConfig).
	DrainRate int
	// BatchPoints is written as uplink.batch_points; 0 leaves the default.
	BatchPoints int
	// LiveRate is the points/s written to the edge while it drains; 0
	// means 5000, -1 none. LiveDevices share it; 0 means 50.
	LiveRate    int
	LiveDevices int
	// EdgeProfile, if set, is where a CPU profile of the edge taken during
	// the drain is written (ProfileSeconds long; 0 means 10).
	EdgeProfile    string
	ProfileSeconds int
	// Timeout bounds each wait (backlog filled, drain, settle); 0 means 5m.
	Timeout time.Duration
	EdgeBin string // edgevault binary for both sides; "" means os.Executable()
	Log     *slog.Logger
	Now     func() time.Time
}

func (o *DrainOptions) defaults() {
	o.Devices = orDefault(o.Devices, 100)
	o.Seconds = orDefault(o.Seconds, 50_000)
	o.BatchLines = orDefault(o.BatchLines, 5000)
	o.Seed = orDefault(o.Seed, 1)
	o.LiveRate = orDefault(o.LiveRate, 5000)
	o.LiveDevices = orDefault(o.LiveDevices, 50)
	o.ProfileSeconds = orDefault(o.ProfileSeconds, 10)
	o.Timeout = orDefault(o.Timeout, 5*time.Minute)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// DrainResult is the outcome of `bench drain`.
type DrainResult struct {
	Devices     int   `json:"devices"`
	Seconds     int   `json:"seconds"`
	Points      int64 `json:"points"`
	BatchLines  int   `json:"batch_lines"`
	DrainRate   int   `json:"drain_rate"`   // as the edge ran it
	BatchPoints int   `json:"batch_points"` // as the edge ran it
	// Loading while the cloud is down.
	LoadSeconds      float64   `json:"load_seconds"`
	LoadPointsPerSec float64   `json:"load_points_per_sec"`
	BacklogSeconds   float64   `json:"backlog_seconds"` // from the last POST until every point was in a queued batch
	BacklogBatches   int       `json:"backlog_batches"`
	BacklogItems     int64     `json:"backlog_items"` // readings and metadata records
	BacklogBytes     int64     `json:"backlog_bytes"` // queued records on the edge's disk
	Refused          int64     `json:"refused_requests"`
	Sizes            DataSizes `json:"sizes"`
	// The drain: from opening the way to the cloud until its last batch
	// that was queued at that moment was acknowledged.
	DrainSeconds      float64   `json:"drain_seconds"`
	DrainPointsPerSec float64   `json:"drain_points_per_sec"`
	FirstRequestMs    float64   `json:"first_request_ms"` // opening to the first forwarded request (uplink backoff)
	Wire              WireTally `json:"wire"`             // the backlog's batches
	AfterWire         WireTally `json:"after_wire"`       // batches cut after opening
	Live              LiveLoad  `json:"live"`
	SettleSeconds     float64   `json:"settle_seconds"` // live load stopped to edge drained
	// CPU time each process used during the drain, and the machine's load
	// average when the drain started and ended (other work on the machine
	// shows here).
	DrainCPU map[string]float64 `json:"drain_cpu_seconds"`
	LoadAvg  [2]string          `json:"loadavg"`
	// Memory: highest VmRSS sampled every 100 ms per phase, and VmHWM of
	// each process at the end of the drain (before the verification).
	RSS map[string]int64 `json:"rss"`
	// The cloud counted back, series by series.
	CloudPoints   int64    `json:"cloud_points"`
	ExpectPoints  int64    `json:"expect_points"`
	SeriesChecked int      `json:"series_checked"`
	Verified      bool     `json:"verified"`
	Notes         []string `json:"notes,omitempty"`
}

// WirePerPoint is the body bytes per point of the backlog's telemetry
// batches; with headers it adds each request's line and headers.
func (r DrainResult) WirePerPoint(headers bool) float64 {
	if r.Wire.Points == 0 {
		return 0
	}
	b := r.Wire.BodyBytes
	if headers {
		b += r.Wire.HeaderBytes
	}
	return float64(b) / float64(r.Wire.Points)
}

// drainRun holds one run's processes.
type drainRun struct {
	o          DrainOptions
	res        *DrainResult
	startS     int64 // first second of every walk
	edge       *peer
	cloud      *peer
	proxy      *drainProxy
	proxySrv   *http.Server
	rss        *rssSampler
	stopRSS    chan struct{}
	rssWG      sync.WaitGroup
	signKey    string
	dataKey    string
	loadNames  []string
	liveNames  []string
	liveLoaded LiveLoad
}

// Drain loads the edge while its cloud is unreachable, then lets the cloud
// be reached and measures how fast the backlog drains while a live load
// continues, and counts every point back in the cloud.
func Drain(ctx context.Context, o DrainOptions) (DrainResult, error) {
	o.defaults()
	res := DrainResult{Devices: o.Devices, Seconds: o.Seconds, BatchLines: o.BatchLines,
		Points: int64(o.Devices) * int64(o.Seconds) * int64(len(storageMetrics)), DrainRate: o.DrainRate,
		RSS: map[string]int64{}, DrainCPU: map[string]float64{}}
	if res.DrainRate == 0 {
		res.DrainRate = uplink.DefaultConfig().DrainRate
	}
	if res.BatchPoints = o.BatchPoints; res.BatchPoints == 0 {
		res.BatchPoints = uplink.DefaultConfig().BatchPoints
	}
	day := o.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2) // whole past days, within any retention
	r := &drainRun{o: o, res: &res, startS: day.Unix(),
		loadNames: deviceNames("drain-%04d", o.Devices), liveNames: deviceNames("live-%04d", o.LiveDevices)}
	defer r.close()
	steps := []struct {
		name string
		f    func(context.Context) error
	}{{"start", r.start}, {"load", r.load}, {"drain", r.drain}, {"verify", r.verify}}
	for _, s := range steps {
		if err := s.f(ctx); err != nil {
			return res, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return res, nil
}

func deviceNames(format string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}

// start runs the cloud, the proxy (down) and the edge pointed at it.
func (r *drainRun) start(ctx context.Context) error {
	r.signKey, r.dataKey = randomHex(32), randomHex(32)
	r.o.Log.Info("starting the cloud")
	var err error
	if r.cloud, err = r.startCloud(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	r.proxy = newDrainProxy("http://" + r.cloud.addr)
	r.proxySrv = &http.Server{Handler: r.proxy, ReadHeaderTimeout: 10 * time.Second}
	go r.proxySrv.Serve(ln)
	r.o.Log.Info("starting the edge", "uplink", ln.Addr().String())
	if r.edge, err = r.startEdge(ctx, "http://"+ln.Addr().String()); err != nil {
		return err
	}
	r.rss = &rssSampler{pids: map[string]int{"edge": r.edge.pid(), "cloud": r.cloud.pid()}, peak: map[string]int64{}}
	r.stopRSS = make(chan struct{})
	r.rssWG.Go(func() { r.rss.run(r.stopRSS, 100*time.Millisecond) })
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// close stops everything started, in reverse order, and removes the dirs.
func (r *drainRun) close() {
	if r.stopRSS != nil {
		close(r.stopRSS)
		r.rssWG.Wait()
	}
	if r.edge != nil {
		r.edge.close()
	}
	if r.proxySrv != nil {
		r.proxySrv.Close()
		r.proxy.client.CloseIdleConnections()
	}
	if r.cloud != nil {
		r.cloud.close()
	}
}

// load POSTs the walks to the edge while the cloud is down and waits until
// every point is in a queued batch.
func (r *drainRun) load(ctx context.Context) error {
	o, res := r.o, r.res
	o.Log.Info("loading while the cloud is down", "points", res.Points)
	gen := newWalkGen(o.Devices, o.Seconds, r.startS, o.Seed, func(d int) string { return r.loadNames[d] })
	sz := &sizer{names: r.loadNames}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bodies := make(chan []byte, 4)
	go func() {
		defer close(bodies)
		for {
			buf, n := gen.next(make([]byte, 0, o.BatchLines*48), o.BatchLines, sz.line)
			if n == 0 {
				return
			}
			sz.LineProtocol += int64(len(buf))
			select {
			case bodies <- buf:
			case <-ctx.Done():
				return
			}
		}
	}()
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Minute}
	url := "http://" + r.edge.addr + "/write?db=bench&precision=s"
	start, posted := time.Now(), 0
	for body := range bodies {
		if err := postOne(ctx, c, url, body); err != nil {
			return fmt.Errorf("batch %d: %w", posted, err)
		}
		posted++
	}
	loaded := time.Now()
	res.LoadSeconds = loaded.Sub(start).Seconds()
	res.LoadPointsPerSec = float64(res.Points) / res.LoadSeconds
	res.Sizes = sz.DataSizes
	if sz.Points != res.Points {
		return fmt.Errorf("generated %d points, want %d", sz.Points, res.Points)
	}
	st, err := r.waitBacklog(ctx, res.Points)
	if err != nil {
		return err
	}
	res.BacklogSeconds = time.Since(loaded).Seconds()
	res.BacklogBatches, res.BacklogItems, res.BacklogBytes = st.BacklogBatches, st.BacklogPoints, st.BacklogBytes
	res.Refused = r.proxy.refused.Load()
	r.phaseRSS("load")
	return nil
}

// edgeUplink is what the bench reads of GET /api/v1/uplink.
type edgeUplink struct {
	BacklogBatches int    `json:"backlog_batches"`
	BacklogPoints  int64  `json:"backlog_points"`
	BacklogBytes   int64  `json:"backlog_bytes"`
	PendingPoints  int    `json:"pending_points"`
	SentPoints     int64  `json:"sent_points"`
	LastError      string `json:"last_error"`
	Rejected       []any  `json:"rejected"`
}

func (r *drainRun) uplink(ctx context.Context) (edgeUplink, error) {
	var st edgeUplink
	err := getJSON(ctx, &http.Client{Timeout: 30 * time.Second}, "http://"+r.edge.addr+"/api/v1/uplink", &st)
	return st, err
}

// waitBacklog waits until nothing is pending and the queued items, which
// include metadata records, hold at least want points and stopped growing.
func (r *drainRun) waitBacklog(ctx context.Context, want int64) (edgeUplink, error) {
	var prev edgeUplink
	err := r.poll(ctx, "every point in a queued batch", 200*time.Millisecond, func(st edgeUplink) bool {
		ok := st.PendingPoints == 0 && st.BacklogPoints >= want && st.BacklogPoints == prev.BacklogPoints
		prev = st
		return ok
	})
	return prev, err
}

// poll reads the edge's uplink status every interval until done says so,
// the edge exits or the timeout passes.
func (r *drainRun) poll(ctx context.Context, what string, every time.Duration, done func(edgeUplink) bool) error {
	ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	var last edgeUplink
	for {
		st, err := r.uplink(ctx)
		if err == nil {
			if done(st) {
				return nil
			}
			last = st
		}
		select {
		case <-r.edge.exited:
			return fmt.Errorf("waiting for %s: %w: %v\n%s", what, ErrExited, r.edge.err, r.edge.out.String())
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last status %+v)", what, ctx.Err(), last)
		case <-time.After(every):
		}
	}
}

// phaseRSS records the highest VmRSS of each process since the last phase.
func (r *drainRun) phaseRSS(phase string) {
	for name, b := range r.rss.take() {
		r.res.RSS[name+"_"+phase] = b
	}
}

// drain opens the way to the cloud, runs the live load until the backlog
// is acknowledged, then waits until the live points are sent too.
func (r *drainRun) drain(ctx context.Context) error {
	o, res := r.o, r.res
	liveCtx, stopLive := context.WithCancel(ctx)
	defer stopLive()
	var wg sync.WaitGroup
	if o.LiveRate > 0 {
		wg.Go(func() { r.liveLoaded = runLive(liveCtx, "http://"+r.edge.addr, r.liveGen(), o.LiveRate) })
	}
	if o.EdgeProfile != "" {
		wg.Go(func() { r.profile(liveCtx) })
	}
	o.Log.Info("cloud reachable: draining", "queued items", res.BacklogItems)
	res.LoadAvg[0] = loadAvg()
	cpu0 := r.cpu()
	opened := r.proxy.open(res.BacklogItems)
	err := r.waitDrained(ctx)
	cpu1 := r.cpu()
	res.LoadAvg[1] = loadAvg()
	stopLive()
	wg.Wait()
	if err != nil {
		return err
	}
	for name, c := range cpu1 {
		res.DrainCPU[name] = c - cpu0[name]
	}
	r.proxy.mu.Lock()
	res.DrainSeconds = r.proxy.doneAt.Sub(opened).Seconds()
	res.FirstRequestMs = float64(r.proxy.first.Sub(opened).Microseconds()) / 1e3
	res.Wire = r.proxy.backlog
	r.proxy.mu.Unlock()
	res.DrainPointsPerSec = float64(res.Wire.Points) / res.DrainSeconds
	res.Live = r.liveLoaded
	r.phaseRSS("drain")
	r.hwm()
	o.Log.Info("backlog drained", "seconds", res.DrainSeconds, "points/s", res.DrainPointsPerSec)
	settled := time.Now()
	err = r.poll(ctx, "the edge drained after the live load", 100*time.Millisecond, func(st edgeUplink) bool {
		return st.BacklogBatches == 0 && st.PendingPoints == 0
	})
	if err != nil {
		return err
	}
	res.SettleSeconds = time.Since(settled).Seconds()
	r.proxy.mu.Lock()
	res.AfterWire = r.proxy.after
	if r.proxy.failed > 0 || r.proxy.dups > 0 || r.proxy.rejected > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("proxy saw %d failed requests, %d duplicate acks, %d readings refused by the cloud",
			r.proxy.failed, r.proxy.dups, r.proxy.rejected))
	}
	r.proxy.mu.Unlock()
	return nil
}

// waitDrained waits until the proxy saw the backlog acknowledged.
func (r *drainRun) waitDrained(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	for r.proxy.done().IsZero() {
		select {
		case <-r.edge.exited:
			return fmt.Errorf("edge %w: %v\n%s", ErrExited, r.edge.err, r.edge.out.String())
		case <-r.cloud.exited:
			return fmt.Errorf("cloud %w: %v\n%s", ErrExited, r.cloud.err, r.cloud.out.String())
		case <-ctx.Done():
			st, _ := r.uplink(context.Background())
			return fmt.Errorf("waiting for the backlog to drain: %w (edge uplink %+v)", ctx.Err(), st)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
