package batch

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/edgevault/edgevault/point"
)

// group is the readings of one (series, kind), as indexes into the batch.
type group struct {
	first int // index of the reading that names the series
	kind  point.Kind
	idx   []int
}

// groupReadings groups readings by series and kind in first-seen order.
// Runs of one series skip the series-key lookup.
func groupReadings(rs []point.Reading) []group {
	var groups []group
	byKey := map[string]int{}
	var kb []byte
	last := -1
	for i := range rs {
		r := &rs[i]
		if last >= 0 && sameSeries(r, &rs[groups[last].first]) {
			groups[last].idx = append(groups[last].idx, i)
			continue
		}
		kb = append(kb[:0], byte(r.Value.Kind()))
		kb = appendSeriesKey(kb, r)
		gi, ok := byKey[string(kb)]
		if !ok {
			gi = len(groups)
			byKey[string(kb)] = gi
			groups = append(groups, group{first: i, kind: r.Value.Kind()})
		}
		groups[gi].idx = append(groups[gi].idx, i)
		last = gi
	}
	return groups
}

func sameSeries(a, b *point.Reading) bool {
	return a.Value.Kind() == b.Value.Kind() && a.Device == b.Device && a.Metric == b.Metric &&
		slices.Equal(a.Tags, b.Tags)
}

// appendSeriesKey appends the bytes of point.SeriesKey without building a
// string.
func appendSeriesKey(dst []byte, r *point.Reading) []byte {
	dst = append(append(append(dst, r.Device...), 0), r.Metric...)
	for _, t := range r.Tags {
		dst = append(append(append(append(dst, 0), t.Key...), 1), t.Value...)
	}
	return dst
}

func appendPayload(dst []byte, rs []point.Reading, recs [][]byte) ([]byte, error) {
	groups := groupReadings(rs)
	dst = binary.AppendUvarint(dst, uint64(len(groups)))
	for _, g := range groups {
		var err error
		if dst, err = appendGroup(dst, rs, g); err != nil {
			return nil, err
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(recs)))
	for _, r := range recs {
		dst = appendStr(dst, r)
	}
	return dst, nil
}

func appendStr[S string | []byte](dst []byte, s S) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func appendGroup(dst []byte, rs []point.Reading, g group) ([]byte, error) {
	r := &rs[g.first]
	dst = appendStr(dst, r.Device)
	dst = appendStr(dst, r.Metric)
	dst = binary.AppendUvarint(dst, uint64(len(r.Tags)))
	for _, t := range r.Tags {
		dst = appendStr(appendStr(dst, t.Key), t.Value)
	}
	if g.kind < point.KindFloat || g.kind > point.KindString {
		return nil, fmt.Errorf("%w: reading %d has an invalid value", ErrBadBatch, g.first)
	}
	dst = append(dst, byte(g.kind))
	dst = binary.AppendUvarint(dst, uint64(len(g.idx)))
	var prevT, prevD int64
	for j, i := range g.idx {
		t := rs[i].Time
		switch j {
		case 0:
			dst = binary.AppendVarint(dst, t)
		default:
			d := t - prevT
			dst = binary.AppendVarint(dst, d-prevD)
			prevD = d
		}
		prevT = t
	}
	return appendValues(dst, rs, g), nil
}

func appendValues(dst []byte, rs []point.Reading, g group) []byte {
	switch g.kind {
	case point.KindFloat:
		return appendFloats(dst, rs, g.idx)
	case point.KindInt:
		var prev int64
		for _, i := range g.idx {
			v := rs[i].Value.Int()
			dst = binary.AppendVarint(dst, v-prev)
			prev = v
		}
	case point.KindBool:
		start := len(dst)
		dst = append(dst, make([]byte, (len(g.idx)+7)/8)...)
		for j, i := range g.idx {
			if rs[i].Value.Bool() {
				dst[start+j/8] |= 1 << (j % 8)
			}
		}
	case point.KindString:
		for _, i := range g.idx {
			dst = appendStr(dst, rs[i].Value.Str())
		}
	}
	return dst
}

// pow10 are the exact scales a float column may use (mode 1+d).
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// maxExact bounds scaled integers so float64(x) is exact.
const maxExact = 1 << 53

// decimals returns the fewest decimals d such that every value is exactly
// float64(x)/10^d for an integer x, or -1.
func decimals(rs []point.Reading, idx []int) int {
	d := 0
	for _, i := range idx {
		f := rs[i].Value.Float()
		for !scaledExact(f, d) {
			if d++; d == len(pow10) {
				return -1
			}
		}
	}
	return d
}

func scaledExact(f float64, d int) bool {
	x := math.Round(f * pow10[d])
	if !(math.Abs(x) < maxExact) {
		return false // also NaN
	}
	return math.Float64bits(float64(int64(x))/pow10[d]) == math.Float64bits(f)
}

func appendFloats(dst []byte, rs []point.Reading, idx []int) []byte {
	d := decimals(rs, idx)
	if d < 0 {
		dst = append(dst, 0)
		var prev uint64
		for _, i := range idx {
			bits := rs[i].Value.FloatBits()
			dst = binary.LittleEndian.AppendUint64(dst, bits^prev)
			prev = bits
		}
		return dst
	}
	dst = append(dst, byte(1+d))
	var prev int64
	for _, i := range idx {
		x := int64(math.Round(rs[i].Value.Float() * pow10[d]))
		dst = binary.AppendVarint(dst, x-prev)
		prev = x
	}
	return dst
}
