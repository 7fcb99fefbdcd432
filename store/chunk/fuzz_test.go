package chunk

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/edgevault/edgevault/point"
)

func FuzzDecode(f *testing.F) {
	f.Add(mustEncode(f, point.KindFloat, regular(0, 1000, 50), randomWalkSeed(50)))
	f.Add(mustEncode(f, point.KindFloat, []int64{1, 5, 9}, floats(math.NaN(), 1.5, math.Copysign(0, -1))))
	f.Add(mustEncode(f, point.KindInt, []int64{math.MinInt64, math.MaxInt64}, ints(math.MaxInt64, math.MinInt64)))
	f.Add(mustEncode(f, point.KindBool, regular(0, 1000, 20), bools(repeatB(true, 20)...)))
	f.Add(mustEncode(f, point.KindBool, []int64{1, 2, 3}, bools(true, false, true)))
	f.Add(mustEncode(f, point.KindString, []int64{1, 2, 3}, strs("on", "off", "on")))
	f.Add([]byte{version, 1, 0xff, 0xff, 0x3f, 0, 0x80, 0x80, 0x80, 1, 1, 1, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) { checkStable(t, b) })
}

// FuzzRoundTrip builds a block from fuzzed timestamps steps and value bits.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(1), int64(1_700_000_000_000), []byte{1, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint8(2), int64(math.MinInt64), binary.LittleEndian.AppendUint64(nil, math.MaxUint64))
	f.Add(uint8(3), int64(-5), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17})
	f.Add(uint8(4), int64(0), []byte("on\x00off\x00on\x00on\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, kind uint8, start int64, data []byte) {
		k := point.Kind(1 + kind%4)
		var ts []int64
		var vals []point.Value
		t0 := start
		for len(data) >= 8 && len(ts) < 2000 {
			u := binary.LittleEndian.Uint64(data)
			data = data[8:]
			ts = append(ts, t0)
			vals = append(vals, valueFromBits(k, u))
			step := int64(u>>40) + 1 // mostly small, always positive
			if t0+step <= t0 {
				break
			}
			t0 += step
		}
		if len(ts) == 0 {
			return
		}
		roundTrip(t, k, ts, vals)
	})
}

func valueFromBits(k point.Kind, u uint64) point.Value {
	switch k {
	case point.KindFloat:
		if u&1 == 0 { // half the time a decimal, to exercise that encoding
			return point.Float(float64(int64(u)>>44) / 100)
		}
		return point.Float(math.Float64frombits(u))
	case point.KindInt:
		return point.Int(int64(u))
	case point.KindBool:
		return point.Bool(u&1 == 1)
	}
	return point.String(string(rune('a' + u%5)))
}

func randomWalkSeed(n int) []point.Value {
	vs := make([]point.Value, n)
	for i := range vs {
		vs[i] = point.Float(float64(2137+(i*7)%11-5) / 100)
	}
	return vs
}
