package bench

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/edgevault/edgevault/sim"
)

// liveTick is how often the live load POSTs its share of the rate.
const liveTick = 100 * time.Millisecond

// LiveLoad is the /write load that keeps coming into the edge while it
// drains: walks of other devices, lines round-robin over them, one POST per
// liveTick.
type LiveLoad struct {
	TargetRate   int     `json:"target_points_per_sec"`
	Lines        int64   `json:"lines"` // acknowledged (204)
	Points       int64   `json:"points"`
	Seconds      float64 `json:"seconds"`
	PointsPerSec float64 `json:"points_per_sec"`
	P50Ms        float64 `json:"post_p50_ms"`
	P99Ms        float64 `json:"post_p99_ms"`
	Errors       int64   `json:"errors"`
	FirstError   string  `json:"first_error,omitempty"`
}

// linesOf is how many of the acknowledged lines belong to device dev of
// devices: the walk goes round-robin over the devices.
func (l LiveLoad) linesOf(dev, devices int) int64 {
	n := l.Lines / int64(devices)
	if int64(dev) < l.Lines%int64(devices) {
		n++
	}
	return n
}

func (r *drainRun) liveGen() *walkGen {
	return newWalkGen(len(r.liveNames), 1<<30, r.startS, r.o.Seed+1, func(d int) string { return r.liveNames[d] })
}

// runLive POSTs rate points/s (2 per line) to base's /write until ctx ends.
// A POST still running then is finished, not cut off; ticks missed while a
// POST was slow are not made up, so the achieved rate shows it.
func runLive(ctx context.Context, base string, gen *walkGen, rate int) LiveLoad {
	l := LiveLoad{TargetRate: rate}
	perTick := max(1, rate/len(storageMetrics)/int(time.Second/liveTick))
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}, Timeout: time.Minute}
	defer c.CloseIdleConnections()
	url := base + "/write?db=bench&precision=s"
	t := time.NewTicker(liveTick)
	defer t.Stop()
	var lat []time.Duration
	var buf []byte
	start := time.Now()
	for {
		var n int
		buf, n = gen.next(buf[:0], perTick, nil)
		t0 := time.Now()
		if err := postOne(context.WithoutCancel(ctx), c, url, buf); err != nil {
			if l.Errors++; l.FirstError == "" {
				l.FirstError = err.Error()
			}
		} else {
			l.Lines += int64(n)
			lat = append(lat, time.Since(t0))
		}
		select {
		case <-ctx.Done():
			l.Seconds = time.Since(start).Seconds()
			l.Points = l.Lines * int64(len(storageMetrics))
			l.PointsPerSec = float64(l.Points) / l.Seconds
			slices.Sort(lat)
			l.P50Ms = float64(sim.Percentile(lat, 50).Microseconds()) / 1e3
			l.P99Ms = float64(sim.Percentile(lat, 99).Microseconds()) / 1e3
			return l
		case <-t.C:
		}
	}
}
