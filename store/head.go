package store

import (
	"fmt"
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
type head struct {
	pts    []Sample
	sorted bool
	minWAL uint64 // smallest WAL seq of a point in pts
}

func (h *head) add(t int64, v point.Value, walSeq uint64) {
	if len(h.pts) == 0 {
		h.sorted, h.minWAL = true, walSeq
	} else if t <= h.pts[len(h.pts)-1].T {
		h.sorted = false
	}
	h.pts = append(h.pts, Sample{T: t, V: v})
	h.minWAL = min(h.minWAL, walSeq)
}

// normalize sorts pts by time and keeps the last written of equal times.
// pts is in write order, so a stable sort keeps that order among equals.
func normalize(pts []Sample) []Sample {
	sorted := true
	for i := 1; i < len(pts); i++ {
		if pts[i].T <= pts[i-1].T {
			sorted = false
			break
		}
	}
	if sorted {
		return pts
	}
	slices.SortStableFunc(pts, func(a, b Sample) int {
		switch {
		case a.T < b.T:
			return -1
		case a.T > b.T:
			return 1
		}
		return 0
	})
	out := pts[:0]
	for i, p := range pts {
		if i+1 < len(pts) && pts[i+1].T == p.T {
			continue
		}
		out = append(out, p)
	}
	return out
}

// seal encodes the head of s into one block per window, written to b, and
// empties the head. Callers hold db.mu.
func (db *DB) seal(b *pebble.Batch, s *series) error {
	h := &s.head
	if len(h.pts) == 0 {
		return nil
	}
	pts := normalize(h.pts)
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
	// Drop the slice rather than keep its capacity: with thousands of series
	// the idle capacity, not the points, is what fills memory.
	h.pts, h.sorted, h.minWAL = nil, true, 0
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
