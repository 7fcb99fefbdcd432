package store

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/edgevault/edgevault/point"
)

// agg is the summary of the points of one bucket; rollups persist it.
type agg struct {
	count         uint64
	sum, min, max float64
	firstT, lastT int64
	first, last   point.Value
}

func (a *agg) add(t int64, v point.Value) {
	f, _ := v.AsFloat()
	if a.count == 0 {
		*a = agg{count: 1, sum: f, min: f, max: f, firstT: t, lastT: t, first: v, last: v}
		return
	}
	a.count++
	a.sum += f
	a.min = math.Min(a.min, f)
	a.max = math.Max(a.max, f)
	if t < a.firstT {
		a.firstT, a.first = t, v
	}
	if t >= a.lastT {
		a.lastT, a.last = t, v
	}
}

func (a *agg) merge(o *agg) {
	if o.count == 0 {
		return
	}
	if a.count == 0 {
		*a = *o
		return
	}
	a.count += o.count
	a.sum += o.sum
	a.min = math.Min(a.min, o.min)
	a.max = math.Max(a.max, o.max)
	if o.firstT < a.firstT {
		a.firstT, a.first = o.firstT, o.first
	}
	if o.lastT >= a.lastT {
		a.lastT, a.last = o.lastT, o.last
	}
}

// result returns the value of fn over the bucket.
func (a *agg) result(fn Agg) point.Value {
	switch fn {
	case AggCount:
		return point.Int(int64(a.count))
	case AggSum:
		return point.Float(a.sum)
	case AggAvg:
		return point.Float(a.sum / float64(a.count))
	case AggMin:
		return point.Float(a.min)
	case AggMax:
		return point.Float(a.max)
	case AggFirst:
		return a.first
	}
	return a.last
}

// encodeAgg layout: count(uvarint) sum min max (8 bytes LE each)
// firstT lastT (varint) first last (value encoding of the WAL).
func encodeAgg(dst []byte, a *agg) []byte {
	dst = binary.AppendUvarint(dst, a.count)
	for _, f := range [3]float64{a.sum, a.min, a.max} {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
	}
	dst = binary.AppendVarint(dst, a.firstT)
	dst = binary.AppendVarint(dst, a.lastT)
	dst = appendValue(dst, a.first)
	return appendValue(dst, a.last)
}

func decodeAgg(b []byte) (agg, error) {
	var a agg
	var k int
	if a.count, k = binary.Uvarint(b); k <= 0 || len(b) < k+24 {
		return agg{}, fmt.Errorf("rollup: %w", ErrCorrupt)
	}
	b = b[k:]
	a.sum = math.Float64frombits(binary.LittleEndian.Uint64(b))
	a.min = math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))
	a.max = math.Float64frombits(binary.LittleEndian.Uint64(b[16:]))
	b = b[24:]
	if a.firstT, k = binary.Varint(b); k <= 0 {
		return agg{}, fmt.Errorf("rollup: %w", ErrCorrupt)
	}
	b = b[k:]
	if a.lastT, k = binary.Varint(b); k <= 0 {
		return agg{}, fmt.Errorf("rollup: %w", ErrCorrupt)
	}
	var err error
	if a.first, b, err = readValue(b[k:]); err != nil {
		return agg{}, fmt.Errorf("rollup: %w", err)
	}
	if a.last, b, err = readValue(b); err != nil || len(b) != 0 {
		return agg{}, fmt.Errorf("rollup: %w", ErrCorrupt)
	}
	return a, nil
}
