package routing

import (
	"strings"
	"sync"
	"time"

	"github.com/edgevault/edgevault/point"
)

// seriesID names a series without building point.SeriesKey; tags is empty
// for the common tagless series, so lookups do not allocate.
type seriesID struct {
	device, metric, tags string
}

func idOf(r *point.Reading) seriesID {
	id := seriesID{device: r.Device, metric: r.Metric}
	if len(r.Tags) > 0 {
		var b strings.Builder
		for _, t := range r.Tags {
			b.WriteString(t.Key)
			b.WriteByte(1)
			b.WriteString(t.Value)
			b.WriteByte(0)
		}
		id.tags = b.String()
	}
	return id
}

// sampler keeps the per-series state of one sample rule.
type sampler struct {
	every    uint64        // keep 1 in every; 0 for interval sampling
	interval time.Duration // keep at most one per interval
	max      int           // series tracked at most

	mu        sync.Mutex // guards the following
	series    map[seriesID]int64
	lastSweep int64 // unix ns of the last sweep of expired interval state
}

// keep reports whether the reading is kept, and whether the sampler had no
// room to track its series (the reading is then kept: never a silent drop).
func (s *sampler) keep(r *point.Reading, now func() time.Time) (kept, overflow bool) {
	id := seriesID{device: r.Device, metric: r.Metric}
	if len(r.Tags) > 0 {
		id = idOf(r)
	}
	var t int64
	if s.every == 0 {
		t = now().UnixNano()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.series == nil {
		s.series = make(map[seriesID]int64)
	}
	v, ok := s.series[id]
	if !ok && len(s.series) >= s.max && !s.sweep(t) {
		return true, true
	}
	if !ok {
		id = seriesID{strings.Clone(id.device), strings.Clone(id.metric), id.tags}
	}
	if s.every > 0 {
		s.series[id] = v + 1
		return uint64(v)%s.every == 0, false
	}
	if ok && time.Duration(t-v) < s.interval {
		return false, false
	}
	s.series[id] = t
	return true, false
}

// sweep forgets interval state that has expired (such a series would be
// kept anyway) and reports whether room was made. Counters of 1-in-N rules
// are never forgotten: that would shift their phase.
func (s *sampler) sweep(now int64) bool {
	if s.every > 0 || time.Duration(now-s.lastSweep) < s.interval {
		return false
	}
	s.lastSweep = now
	for id, last := range s.series {
		if time.Duration(now-last) >= s.interval {
			delete(s.series, id)
		}
	}
	return len(s.series) < s.max
}

// tracked is the number of series whose state is kept.
func (s *sampler) tracked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.series)
}
