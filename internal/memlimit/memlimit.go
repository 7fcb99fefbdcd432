// Package memlimit keeps the Go runtime's soft memory limit above the
// live heap.
//
// A fixed soft limit (debug.SetMemoryLimit) keeps a small node small: the
// collector works harder near the limit instead of letting the heap double.
// But once the live heap itself reaches the limit, the collector runs
// without pause (up to the runtime's 50% CPU cap) and frees nothing: on the
// 2-core box, 1,000 gateways x 20 sensors (100,000 series) under the 100 MiB
// default acked 619 reports/s with the node's CPU at 83%, half of it in the
// collector and returning memory to the OS; with the limit out of the way,
// all 1,000 reports/s at 24% CPU. Keep therefore treats the configured
// limit as a floor: once the live heap passes half of it, the limit is
// twice the live heap (what GOGC=100 alone would allow), and it comes back
// down as the live heap shrinks. A 1.5x factor still cost 52% CPU, 61
// resent reports and a p50 report-to-ack of 407 ms on that load; 2x: 27%,
// none and 94 ms. 1,000 devices x 10 series stay at 140 MiB peak RSS
// either way (their live heap is under half the 100 MiB floor).
//
// Below the floor, collecting every time the heap doubles (GOGC=100) is
// more often than a small live heap needs: Keep raises GOGC (unless the
// environment sets it) so that the heap may grow to half the limit before
// a collection, between 100 and 400. On the QoS 1 ingest benchmark, whose
// live heap is about 15 MB, that is 15-20% more messages per second (18
// instead of 23 µs of node CPU per message) for 80 instead of 62 MiB RSS.
// Turning GOGC off and letting the limit alone trigger collections gained
// as much on ingest but doubled the time of a one-day raw query (22 instead
// of 11 ms): a heap kept at the limit makes the runtime return memory to
// the OS on the allocation path, and every large allocation fault its
// pages in again.
package memlimit

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

const liveMetric = "/gc/heap/live:bytes"

// Limit is the soft limit for a live heap of live bytes under floor.
func Limit(floor, live int64) int64 {
	return max(floor, 2*live)
}

// Percent is the GOGC that lets a live heap of live bytes grow to half of
// limit before the next collection, within [100, 400].
func Percent(limit, live int64) int {
	if live <= 0 {
		return maxPercent
	}
	p := 100 * (limit/2 - live) / live
	return int(min(max(p, 100), maxPercent))
}

const maxPercent = 400

// Keep sets the soft memory limit to floor; then every interval, until ctx
// ends, it adjusts the limit to Limit(floor, live heap) and, unless the
// GOGC environment variable is set, GOGC to Percent(limit, live heap).
// Limit changes of more than a fifth are logged.
func Keep(ctx context.Context, floor int64, interval time.Duration, log *slog.Logger) {
	debug.SetMemoryLimit(floor)
	tuneGOGC := os.Getenv("GOGC") == ""
	pct := 100
	cur := floor
	sample := []metrics.Sample{{Name: liveMetric}}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return // the runtime does not report the live heap
		}
		live := int64(sample[0].Value.Uint64())
		next := Limit(floor, live)
		if p := Percent(next, live); tuneGOGC && p != pct {
			debug.SetGCPercent(p)
			pct = p
		}
		if next == cur {
			continue
		}
		debug.SetMemoryLimit(next)
		if d := next - cur; d > cur/5 || -d > cur/5 {
			log.Info("memory limit adjusted to the live heap", "limit_mib", next>>20, "live_mib", live>>20, "floor_mib", floor>>20)
		}
		cur = next
	}
}
