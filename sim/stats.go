package sim

import (
	"math"
	"slices"
	"time"
)

// Report summarises a run. Counts are messages unless named points.
type Report struct {
	Format       Format  `json:"format"`
	QoS          byte    `json:"qos"`
	Devices      int     `json:"devices"`
	Seconds      float64 `json:"seconds"` // first publish to last completion
	Sent         int64   `json:"sent"`
	Acked        int64   `json:"acked"`  // completed without error (PUBACK/PUBCOMP for QoS 1/2)
	Failed       int64   `json:"failed"` // completed with an error or not within AckTimeout
	PointsSent   int64   `json:"points_sent"`
	PointsAcked  int64   `json:"points_acked"`
	MsgsPerSec   float64 `json:"msgs_per_sec"`   // acked / Seconds
	PointsPerSec float64 `json:"points_per_sec"` // points acked / Seconds
	// Publish-to-ack latency of acked QoS 1/2 messages, in milliseconds;
	// zero for QoS 0.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// deviceStats is what one device counted; only its own goroutines touch it
// until the run ends.
type deviceStats struct {
	sent, acked, failed int64
	lat                 []time.Duration
}

// summarize merges per-device counts into a Report.
func summarize(opts Options, elapsed time.Duration, devs []*deviceStats) Report {
	r := Report{Format: opts.Format, QoS: opts.QoS, Devices: opts.Devices, Seconds: elapsed.Seconds()}
	var lat []time.Duration
	for _, d := range devs {
		r.Sent += d.sent
		r.Acked += d.acked
		r.Failed += d.failed
		lat = append(lat, d.lat...)
	}
	ppm := int64(opts.Format.PointsPerMessage())
	r.PointsSent, r.PointsAcked = r.Sent*ppm, r.Acked*ppm
	if r.Seconds > 0 {
		r.MsgsPerSec = float64(r.Acked) / r.Seconds
		r.PointsPerSec = float64(r.PointsAcked) / r.Seconds
	}
	slices.Sort(lat)
	r.P50Ms = ms(Percentile(lat, 50))
	r.P99Ms = ms(Percentile(lat, 99))
	if len(lat) > 0 {
		r.MaxMs = ms(lat[len(lat)-1])
	}
	return r
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, or 0 when sorted is empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
