package store

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store/chunk"
)

// series is the in-memory state of one series. Fields are guarded by DB.mu.
type series struct {
	id         uint64
	key        string
	kind       point.Kind
	hasData    bool
	minT, maxT int64
	head       head
	roll       [len(tiers)]openBucket
	names      *point.Reading // device, metric and tags parsed from key, for Tail
}

// openBucket is the in-memory rollup bucket that in-order points update.
type openBucket struct {
	ok    bool
	start int64
	dirty bool // the bucket had points before it was opened, or got an out-of-order one
	a     agg
}

// head holds the points of a series not yet sealed into a block, in arrival
// order; sorted is false once a point arrived at or before its predecessor.
// A point is its time and value bits (the series' kind says how to read
// them), 16 bytes with no pointer: the GC does not scan heads, which with
// 100,000 series at 1 Hz hold millions of points. Strings, the only values
// with a pointer, live in strs, parallel to pts, for string series only.
type head struct {
	pts    []headPoint
	strs   []string
	sorted bool
	minWAL uint64 // smallest WAL seq of a point in pts
}

type headPoint struct {
	t    int64
	bits uint64 // point.Value.FloatBits
}

func (h *head) len() int { return len(h.pts) }

func (h *head) add(t int64, v point.Value, walSeq uint64) {
	if len(h.pts) == 0 {
		h.sorted, h.minWAL = true, walSeq
	} else if t <= h.pts[len(h.pts)-1].t {
		h.sorted = false
	}
	h.pts = append(h.pts, headPoint{t: t, bits: v.FloatBits()})
	if v.Kind() == point.KindString {
		h.strs = append(h.strs, v.Str())
	}
	h.minWAL = min(h.minWAL, walSeq)
}

// appendSamples appends the points of h with a time in [from, to) to dst,
// in arrival order, as values of kind.
func (h *head) appendSamples(dst []Sample, kind point.Kind, from, to int64) []Sample {
	for i, p := range h.pts {
		if p.t < from || p.t >= to {
			continue
		}
		v := point.FromBits(kind, p.bits)
		if kind == point.KindString {
			v = point.String(h.strs[i])
		}
		dst = append(dst, Sample{T: p.t, V: v})
	}
	return dst
}

// reset empties h. Drop the slices rather than keep their capacity: with
// thousands of series the idle capacity, not the points, is what fills
// memory.
func (h *head) reset() {
	h.pts, h.strs, h.sorted, h.minWAL = nil, nil, true, 0
}

// appendBits appends the times and value bits of the points of h with a
// time in [from, to) to ts and bits, in arrival order. Not for string
// series.
func (h *head) appendBits(ts []int64, bits []uint64, from, to int64) ([]int64, []uint64) {
	for _, p := range h.pts {
		if p.t >= from && p.t < to {
			ts, bits = append(ts, p.t), append(bits, p.bits)
		}
	}
	return ts, bits
}

func (p headPoint) time() int64 { return p.t }
func (s Sample) time() int64    { return s.T }

// normalize sorts pts by time and keeps the last written of equal times.
func normalize(pts []Sample) []Sample {
	for i := 1; i < len(pts); i++ {
		if pts[i].T <= pts[i-1].T {
			return sortLastWins(pts, Sample.time)
		}
	}
	return pts
}

// sortLastWins sorts pts by time and keeps the last written of equal times.
// pts is in write order, so a stable sort keeps that order among equals.
func sortLastWins[P any](pts []P, time func(P) int64) []P {
	slices.SortStableFunc(pts, func(a, b P) int { return cmp.Compare(time(a), time(b)) })
	out := pts[:0]
	for i, p := range pts {
		if i+1 < len(pts) && time(pts[i+1]) == time(p) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func strictlyIncreasing(ts []int64) bool {
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			return false
		}
	}
	return true
}

// seal encodes the head of s into one block per window, written to b, and
// empties the head. Callers hold db.mu.
func (db *DB) seal(b *pebble.Batch, s *series) error {
	h := &s.head
	if h.len() == 0 {
		return nil
	}
	pts := normalize(h.appendSamples(make([]Sample, 0, h.len()), s.kind, math.MinInt64, math.MaxInt64))
	for len(pts) > 0 {
		w := floorTo(pts[0].T, blockWindow)
		n := 1
		for n < len(pts) && pts[n].T < w+blockWindow {
			n++
		}
		if err := db.writeBlock(b, s, w, pts[:n]); err != nil {
			return err
		}
		pts = pts[n:]
	}
	h.reset()
	return nil
}

// writeBlock writes sorted, deduplicated points of one window as a block.
func (db *DB) writeBlock(b *pebble.Batch, s *series, w int64, pts []Sample) error {
	ts := make([]int64, len(pts))
	vals := make([]point.Value, len(pts))
	for i, p := range pts {
		ts[i], vals[i] = p.T, p.V
	}
	enc, err := chunk.Encode(nil, s.kind, ts, vals)
	if err != nil {
		return fmt.Errorf("seal series %d: %w", s.id, err)
	}
	db.touched[windowRef{s.id, w}] = struct{}{}
	return b.Set(blockKey(s.id, w, db.allocSeq(b)), enc, nil)
}
