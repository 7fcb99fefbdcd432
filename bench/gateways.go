package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/edgevault/edgevault/sim"
)

// gwConnectConcurrency keeps the fleet's connects under the broker's
// max_pending_connections (default 256), as in the scale bench.
const gwConnectConcurrency = 64

// GatewaysOptions configure `bench gateways`. Zero values take the defaults
// noted.
type GatewaysOptions struct {
	Gateways  int           // 0 means 1000
	Sensors   int           // per gateway; 0 means 20
	Interval  time.Duration // between two reports of a gateway; 0 means 1s
	Duration  time.Duration // reporting time: Duration/Interval reports per gateway; 0 means 60s
	Heartbeat time.Duration // the node's gateway.heartbeat_interval; 0 means 10s
	Binary    bool          // binary envelopes instead of JSON
	// VerifyGateways is how many gateways (from the first) have every
	// series counted back over REST; 0 means 50, -1 none.
	VerifyGateways int

	Commands    int           // command round trips; 0 means 10000, -1 none
	CmdGateways int           // gateways answering commands; 0 means 50
	Concurrency int           // commands in flight; 0 means 16
	CmdTimeout  time.Duration // a command without a result within this is lost; 0 means 10s

	EdgeBin string // "" means os.Executable()
	Log     *slog.Logger
}

func (o *GatewaysOptions) defaults() {
	o.Gateways = orDefault(o.Gateways, 1000)
	o.Sensors = orDefault(o.Sensors, 20)
	o.Interval = orDefault(o.Interval, time.Second)
	o.Duration = orDefault(o.Duration, 60*time.Second)
	o.Heartbeat = orDefault(o.Heartbeat, 10*time.Second)
	o.VerifyGateways = min(orDefault(o.VerifyGateways, 50), o.Gateways)
	o.Commands = orDefault(o.Commands, 10000)
	o.CmdGateways = orDefault(o.CmdGateways, 50)
	o.Concurrency = orDefault(o.Concurrency, 16)
	o.CmdTimeout = orDefault(o.CmdTimeout, 10*time.Second)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// GatewayReports is the outcome of the reporting phase.
type GatewayReports struct {
	Load         sim.GatewayReport `json:"load"`
	Count        int               `json:"reports_per_gateway"`
	OfferedPerS  float64           `json:"offered_reports_per_sec"` // gateways / interval
	AckedPerS    float64           `json:"acked_reports_per_sec"`   // acked / max(run seconds, reports x interval)
	PointsPerS   float64           `json:"acked_points_per_sec"`
	NoBacklog    bool              `json:"no_backlog"` // every report acked, none resent, none left over
	VerifiedGWs  int               `json:"verified_gateways"`
	StoredPoints int64             `json:"stored_points"` // of the verified gateways, counted over REST
	WantPoints   int64             `json:"want_points"`   // verified gateways x sensors x 5 x reports
	Verified     bool              `json:"verified"`
	Registered   int               `json:"registered_sensors"` // sensor devices GET /api/v1/devices lists
	PeakRSS      int64             `json:"peak_rss_bytes"`
}

// GatewaysResult is the outcome of `bench gateways`.
type GatewaysResult struct {
	Options struct {
		Gateways, Sensors, Commands, CmdGateways, Concurrency int
		IntervalS, DurationS, HeartbeatS                      float64
		Binary                                                bool
	} `json:"options"`
	Reports  GatewayReports  `json:"reports"`
	Commands *CommandsResult `json:"commands,omitempty"`
	Notes    []string        `json:"notes,omitempty"`
}

// Gateways runs the gateway benchmark on one edge node: a fleet reporting
// through groups, then command round trips over REST.
func Gateways(ctx context.Context, o GatewaysOptions) (GatewaysResult, error) {
	o.defaults()
	var res GatewaysResult
	ro := &res.Options
	ro.Gateways, ro.Sensors, ro.Commands, ro.CmdGateways, ro.Concurrency = o.Gateways, o.Sensors, o.Commands, o.CmdGateways, o.Concurrency
	ro.IntervalS, ro.DurationS, ro.HeartbeatS, ro.Binary = o.Interval.Seconds(), o.Duration.Seconds(), o.Heartbeat.Seconds(), o.Binary
	o.Log.Info("starting edge node")
	p, mqttAddr, _, err := startEdgeConfig(ctx, o.EdgeBin, EdgeConfig{SimEnv: true, HeartbeatInterval: o.Heartbeat})
	if err != nil {
		return res, err
	}
	defer p.close()
	base := "http://" + p.addr
	if res.Reports, err = gatewayReports(ctx, o, mqttAddr, base, p.pid()); err != nil {
		return res, err
	}
	if o.Commands > 0 {
		c, err := commandRoundTrips(ctx, o, mqttAddr, base)
		res.Commands = &c
		if err != nil {
			return res, fmt.Errorf("commands: %w", err)
		}
	}
	return res, ctx.Err()
}

func gatewayReports(ctx context.Context, o GatewaysOptions, mqttAddr, base string, pid int) (GatewayReports, error) {
	r := GatewayReports{Count: max(int(o.Duration/o.Interval), 1), OfferedPerS: float64(o.Gateways) / o.Interval.Seconds()}
	gw := sim.GatewayOptions{Broker: mqttAddr, Gateways: o.Gateways, Sensors: o.Sensors, Interval: o.Interval,
		Count: r.Count, Binary: o.Binary, Prefix: "bgw", Seed: 1, Start: time.Now().Add(-time.Hour).UnixMilli(),
		ConnectConcurrency: gwConnectConcurrency, ConnectTimeout: time.Minute, Logger: o.Log}
	o.Log.Info("gateway load", "gateways", o.Gateways, "sensors", o.Sensors, "reports", r.Count)
	var err error
	if r.Load, err = sim.RunGateways(ctx, gw); err != nil {
		return r, fmt.Errorf("gateway load: %w", err)
	}
	l := r.Load
	// The run spans Count-1 intervals plus the last ack; a gateway keeping
	// up acks Count reports per Count intervals.
	if secs := max(l.Seconds, float64(r.Count)*o.Interval.Seconds()); secs > 0 {
		r.AckedPerS, r.PointsPerS = float64(l.Acked)/secs, float64(l.PointsAcked)/secs
	}
	r.NoBacklog = l.Acked == int64(o.Gateways*r.Count) && l.Resent == 0 && l.Unacked == 0 && l.Overflow == 0
	if r.PeakRSS, err = peakRSS(pid); err != nil {
		return r, err
	}
	if err := r.verify(ctx, o, gw, base); err != nil {
		return r, err
	}
	return r, ctx.Err()
}

// verify counts back every series of the first VerifyGateways gateways and
// the sensors the registry lists.
func (r *GatewayReports) verify(ctx context.Context, o GatewaysOptions, gw sim.GatewayOptions, base string) error {
	var devs devicesList
	if err := getJSON(ctx, &http.Client{Timeout: time.Minute}, base+"/api/v1/devices", &devs); err != nil {
		return fmt.Errorf("list devices: %w", err)
	}
	c := census(devs, gw.Prefix+"-", o.Gateways*o.Sensors, sim.PointsPerFrame)
	r.Registered = c.Complete
	if o.VerifyGateways <= 0 {
		return nil
	}
	var ids []string
	for g := range o.VerifyGateways {
		for s := range o.Sensors {
			ids = append(ids, sim.SensorID(gw.GatewayID(g), s))
		}
	}
	o.Log.Info("verifying stored points over REST", "series", len(ids)*sim.PointsPerFrame)
	n, err := countParallel(ctx, base, ids, simEnvMetrics, gw.Start, gw.Start+int64(r.Count)*gw.Interval.Milliseconds()+1, 4)
	if err != nil {
		return err
	}
	r.VerifiedGWs, r.StoredPoints = o.VerifyGateways, n
	r.WantPoints = int64(o.VerifyGateways*o.Sensors*sim.PointsPerFrame) * int64(r.Count)
	r.Verified = r.StoredPoints == r.WantPoints
	return nil
}

// simEnvMetrics are the metrics the sim-env contract decodes from a frame.
var simEnvMetrics = []string{"temperature", "humidity", "battery", "motion", "co2"}

// countParallel is storedPoints over several keep-alive connections.
func countParallel(ctx context.Context, base string, ids, metrics []string, from, to int64, workers int) (int64, error) {
	type job struct{ id, metric string }
	jobs := make(chan job)
	var mu sync.Mutex
	var total int64
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			c := &http.Client{Timeout: time.Minute}
			for j := range jobs {
				n, err := countSeries(ctx, c, base, j.id, j.metric, from, to)
				mu.Lock()
				total += n
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		for _, m := range metrics {
			select {
			case jobs <- job{id, m}:
			case <-ctx.Done():
			}
		}
	}
	close(jobs)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return total, first
}

// deviceURL is the REST path of one device.
func deviceURL(base, id string) string { return base + "/api/v1/devices/" + url.PathEscape(id) }
