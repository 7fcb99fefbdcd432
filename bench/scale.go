package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/edgevault/edgevault/sim"
)

// scaleFormat is the payload of the scale bench: 10 metrics per message.
const scaleFormat = sim.FormatJSON10

// scaleConnectConcurrency keeps the fleet's connects in flight under the
// broker's max_pending_connections (default 256), which refuses the excess
// of a thousand simultaneous connects.
const scaleConnectConcurrency = 64

// ScaleOptions configure `bench scale`. Zero values take the defaults noted.
type ScaleOptions struct {
	Devices  int           // MQTT clients, one device each; 0 means 1000
	Rate     float64       // messages per second per device; 0 means 1
	Duration time.Duration // 0 means 60s
	Inflight int           // per client; 0 means 16
	EdgeBin  string        // edgevault binary; "" means os.Executable()
	Log      *slog.Logger
	Now      func() time.Time
}

func (o *ScaleOptions) defaults() {
	o.Devices = orDefault(o.Devices, 1000)
	o.Rate = orDefault(o.Rate, 1)
	o.Duration = orDefault(o.Duration, 60*time.Second)
	o.Inflight = orDefault(o.Inflight, 16)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// ScaleResult is the outcome of `bench scale`.
type ScaleResult struct {
	Devices  int        `json:"devices"`
	Rate     float64    `json:"rate_per_device"`
	Seconds  float64    `json:"seconds"`
	Format   string     `json:"format"`
	Load     sim.Report `json:"load"`
	Registry Census     `json:"registry"` // GET /api/v1/devices after the load
	// Verified: every device registered with every series.
	Verified     bool     `json:"verified"`
	PeakRSSBytes int64    `json:"peak_rss_bytes"` // VmHWM of the edge process
	RSSBytes     int64    `json:"rss_bytes"`      // VmRSS at the end
	Notes        []string `json:"notes,omitempty"`
}

// Census counts what GET /api/v1/devices lists.
type Census struct {
	Devices     int `json:"devices"`      // devices with the bench's prefix
	Series      int `json:"series"`       // their series
	Complete    int `json:"complete"`     // devices with exactly the expected series
	AllDevices  int `json:"all_devices"`  // every listed device
	MinSeries   int `json:"min_series"`   // fewest series of one bench device
	MaxSeries   int `json:"max_series"`   // most series of one bench device
	WantSeries  int `json:"want_series"`  // expected series per device
	WantDevices int `json:"want_devices"` // expected devices
}

// Scale runs many slow devices against one edge node and reports its
// memory.
func Scale(ctx context.Context, o ScaleOptions) (ScaleResult, error) {
	o.defaults()
	res := ScaleResult{Devices: o.Devices, Rate: o.Rate, Seconds: o.Duration.Seconds(), Format: string(scaleFormat)}
	o.Log.Info("starting edge node")
	p, mqttAddr, err := startEdge(ctx, o.EdgeBin)
	if err != nil {
		return res, err
	}
	defer p.close()
	load := sim.Options{Broker: mqttAddr, Devices: o.Devices, Rate: o.Rate, Duration: o.Duration,
		Format: scaleFormat, QoS: 1, Inflight: o.Inflight, Prefix: "scale", Seed: 1, ConnectTimeout: time.Minute,
		ConnectConcurrency: scaleConnectConcurrency}
	o.Log.Info("load", "devices", o.Devices, "rate", o.Rate, "duration", o.Duration)
	if res.Load, err = sim.Run(ctx, load); err != nil {
		return res, fmt.Errorf("load: %w", err)
	}
	var devs devicesList
	if err := getJSON(ctx, &http.Client{Timeout: time.Minute}, "http://"+p.addr+"/api/v1/devices", &devs); err != nil {
		return res, fmt.Errorf("list devices: %w", err)
	}
	res.Registry = census(devs, "scale-", o.Devices, scaleFormat.PointsPerMessage())
	res.Verified = res.Registry.Complete == o.Devices && res.Registry.Devices == o.Devices
	if !res.Verified {
		res.Notes = append(res.Notes, fmt.Sprintf("registry: %d of %d devices complete", res.Registry.Complete, o.Devices))
	}
	if res.Load.Failed > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d publishes failed", res.Load.Failed))
	}
	if res.PeakRSSBytes, res.RSSBytes, err = rss(p.pid()); err != nil {
		res.Notes = append(res.Notes, err.Error())
	}
	return res, ctx.Err()
}

// devicesList is what the census needs of GET /api/v1/devices.
type devicesList struct {
	Items []struct {
		ID     string `json:"id"`
		Series []struct {
			Metric string `json:"metric"`
		} `json:"series"`
	} `json:"items"`
}

// census counts the devices whose id starts with prefix and their series.
func census(l devicesList, prefix string, wantDevices, wantSeries int) Census {
	c := Census{AllDevices: len(l.Items), WantDevices: wantDevices, WantSeries: wantSeries}
	for _, d := range l.Items {
		if !strings.HasPrefix(d.ID, prefix) {
			continue
		}
		n := len(d.Series)
		if c.Devices == 0 || n < c.MinSeries {
			c.MinSeries = n
		}
		c.MaxSeries = max(c.MaxSeries, n)
		c.Devices++
		c.Series += n
		if n == wantSeries {
			c.Complete++
		}
	}
	return c
}
