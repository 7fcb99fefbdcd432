package store

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store/chunk"
)

// RawStream is a raw query answered a span of time at a time (QueryRaw).
type RawStream struct {
	db   *DB
	s    *series // nil: unknown series, no points
	q    Query
	Kind point.Kind // the series' kind; 0 for an unknown series
}

// streamSpan is the time one step of RawStream.Each reads: 4 windows, about
// 14,400 points of a 1 Hz series.
const streamSpan = 4 * blockWindow

// QueryRaw starts a raw query (q.Step must be 0). Query materialises every
// point of a page before the first is written out (86,400 points of a day
// are 3.5 MB to allocate, zero and scan); a RawStream hands them over a span
// at a time, in one reused buffer, and does not hold the store's lock while
// the caller writes them.
func (db *DB) QueryRaw(q Query) (*RawStream, error) {
	if err := checkQuery(&q); err != nil {
		return nil, err
	}
	if q.Step != 0 {
		return nil, fmt.Errorf("%w: QueryRaw with a step", ErrBadQuery)
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.err != nil {
		return nil, db.err
	}
	st := &RawStream{db: db, q: q, s: db.byKey[point.SeriesKey(q.Device, q.Metric, q.Tags)]}
	if st.s != nil {
		st.Kind = st.s.kind
	}
	return st, nil
}

// Each calls fn with the points of the query in time order, at most
// q.Limit of them, a span at a time; the slice is valid only during the
// call. It returns the time of the first point past the limit (0 when none
// is left), as Result.Next. Each span is read under the store's read lock;
// points written between two spans may be seen in the later one only.
func (st *RawStream) Each(ctx context.Context, fn func([]Sample) error) (next int64, err error) {
	var buf []Sample
	return st.walk(func(from, to int64) (n int, err error) {
		buf, err = st.db.rawRangeInto(ctx, st.s, from, to, buf)
		return len(buf), err
	}, func(i int) int64 { return buf[i].T }, func(n int) error { return fn(buf[:n]) })
}

// EachBits is Each for a series of numbers or bools, with the points as
// columns: their times, and their values' bits (point.Value.FloatBits;
// point.FromBits(st.Kind, bits[i]) is the value). The columns hold no
// pointers and are reused from span to span and from query to query, so a
// day of points costs the collector next to nothing. They are valid only
// during the call. On a string series it returns an error wrapping
// ErrBadQuery.
func (st *RawStream) EachBits(ctx context.Context, fn func(ts []int64, bits []uint64) error) (next int64, err error) {
	if st.s != nil && st.Kind == point.KindString {
		return 0, fmt.Errorf("%w: value bits of a string series", ErrBadQuery)
	}
	c := getCols()
	defer putCols(c)
	return st.walk(func(from, to int64) (int, error) {
		err := st.db.rawColsInto(ctx, st.s, from, to, c)
		return len(c.ts), err
	}, func(i int) int64 { return c.ts[i] }, func(n int) error { return fn(c.ts[:n], c.bits[:n]) })
}

// walk answers the query a span at a time: read(from, to) reads the points
// of a span into a buffer under the store's read lock and returns how many
// it holds, timeAt(i) is the time of the i-th, and emit(n) hands the first
// n to the caller.
func (st *RawStream) walk(read func(from, to int64) (int, error), timeAt func(int) int64,
	emit func(n int) error) (next int64, err error) {
	if st.s == nil {
		return 0, nil
	}
	db, q := st.db, st.q
	left := q.Limit
	for cur := q.From; cur < q.To; {
		end := q.To
		if e := floorTo(cur, blockWindow) + streamSpan; e > cur && e < q.To {
			end = e
		}
		n := 0
		db.mu.RLock()
		if db.err != nil {
			err = db.err
		} else {
			n, err = read(cur, end)
		}
		db.mu.RUnlock()
		if err != nil {
			return 0, err
		}
		more := n > left
		if more {
			next, n = timeAt(left), left
		}
		if n > 0 {
			if err := emit(n); err != nil {
				return 0, err
			}
		}
		if more {
			return next, nil
		}
		left -= n
		cur = end
	}
	return 0, nil
}

// rawCols holds raw points as columns: times and value bits
// (point.Value.FloatBits) of a series that is not of strings.
type rawCols struct {
	ts   []int64
	bits []uint64
	pts  []headPoint // scratch for normalizing out-of-order points
}

// maxPooledPoints bounds the columns kept in colsPool: a day of a 1 Hz
// series (2 MiB), far more than a span of EachBits needs.
const maxPooledPoints = 1 << 17

// colsPool lends columns to raw queries, so that a query allocates none.
var colsPool = sync.Pool{New: func() any { return new(rawCols) }}

func getCols() *rawCols { return colsPool.Get().(*rawCols) }

func putCols(c *rawCols) {
	if cap(c.ts) > maxPooledPoints || cap(c.bits) > maxPooledPoints || cap(c.pts) > maxPooledPoints {
		return
	}
	colsPool.Put(c)
}

// appendBlock appends the points of block b with a time in [from, to).
func (c *rawCols) appendBlock(b []byte, from, to int64) error {
	n := len(c.ts)
	var err error
	if _, c.ts, c.bits, err = chunk.DecodeBits(b, c.ts, c.bits); err != nil {
		return err
	}
	// A block holds at least one point, in increasing time order.
	if c.ts[n] < from || c.ts[len(c.ts)-1] >= to {
		c.keep(n, from, to)
	}
	return nil
}

// keep drops the points from index i on whose time is outside [from, to);
// those times must be increasing (one block's).
func (c *rawCols) keep(i int, from, to int64) {
	lo, _ := slices.BinarySearch(c.ts[i:], from)
	hi, _ := slices.BinarySearch(c.ts[i:], to)
	n := copy(c.ts[i:], c.ts[i+lo:i+hi])
	copy(c.bits[i:], c.bits[i+lo:i+hi])
	c.ts, c.bits = c.ts[:i+n], c.bits[:i+n]
}

// normalize sorts the points by time and keeps the last written of equal
// times, as normalize does for samples.
func (c *rawCols) normalize() {
	if strictlyIncreasing(c.ts) {
		return
	}
	pts := c.pts[:0]
	for i, t := range c.ts {
		pts = append(pts, headPoint{t: t, bits: c.bits[i]})
	}
	c.pts = pts
	pts = sortLastWins(pts, headPoint.time)
	c.ts, c.bits = c.ts[:0], c.bits[:0]
	for _, p := range pts {
		c.ts, c.bits = append(c.ts, p.t), append(c.bits, p.bits)
	}
}
