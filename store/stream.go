package store

import (
	"context"
	"fmt"

	"github.com/edgevault/edgevault/point"
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
	if st.s == nil {
		return 0, nil
	}
	db, q := st.db, st.q
	left := q.Limit
	var buf []Sample
	for cur := q.From; cur < q.To; {
		end := q.To
		if e := floorTo(cur, blockWindow) + streamSpan; e > cur && e < q.To {
			end = e
		}
		db.mu.RLock()
		if db.err != nil {
			err = db.err
		} else {
			buf, err = db.rawRangeInto(ctx, st.s, cur, end, buf)
		}
		db.mu.RUnlock()
		if err != nil {
			return 0, err
		}
		more := len(buf) > left
		if more {
			next = buf[left].T
			buf = buf[:left]
		}
		if len(buf) > 0 {
			if err := fn(buf); err != nil {
				return 0, err
			}
		}
		if more {
			return next, nil
		}
		left -= len(buf)
		cur = end
	}
	return 0, nil
}
