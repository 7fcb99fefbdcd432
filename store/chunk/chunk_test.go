package chunk

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/edgevault/edgevault/point"
)

// regular returns n timestamps step ms apart from start.
func regular(start, step int64, n int) []int64 {
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = start + int64(i)*step
	}
	return ts
}

func floats(fs ...float64) []point.Value {
	vs := make([]point.Value, len(fs))
	for i, f := range fs {
		vs[i] = point.Float(f)
	}
	return vs
}

func ints(is ...int64) []point.Value {
	vs := make([]point.Value, len(is))
	for i, n := range is {
		vs[i] = point.Int(n)
	}
	return vs
}

func strs(ss ...string) []point.Value {
	vs := make([]point.Value, len(ss))
	for i, s := range ss {
		vs[i] = point.String(s)
	}
	return vs
}

func bools(bs ...bool) []point.Value {
	vs := make([]point.Value, len(bs))
	for i, b := range bs {
		vs[i] = point.Bool(b)
	}
	return vs
}

// randomWalk returns n values of a 2-decimal random walk with steps of up to
// 5 hundredths, parsed the way a payload decoder would produce them.
func randomWalk(r *rand.Rand, n int) []point.Value {
	vs := make([]point.Value, n)
	cents := int64(2137)
	for i := range vs {
		vs[i] = point.Float(float64(cents) / 100)
		cents += r.Int64N(11) - 5
	}
	return vs
}

// jittered returns n timestamps about step ms apart, each off by up to ±jit ms.
func jittered(r *rand.Rand, start, step, jit int64, n int) []int64 {
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = start + int64(i)*step + r.Int64N(2*jit+1) - jit
	}
	return ts
}

func roundTrip(t *testing.T, kind point.Kind, ts []int64, vals []point.Value) []byte {
	t.Helper()
	b, err := Encode([]byte("prefix"), kind, ts, vals)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if string(b[:6]) != "prefix" {
		t.Fatalf("Encode clobbered dst")
	}
	b = b[6:]
	k, n, minT, maxT, err := Header(b)
	if err != nil || k != kind || n != len(ts) || minT != ts[0] || maxT != ts[len(ts)-1] {
		t.Fatalf("Header = %v %d %d %d %v, want %v %d %d %d", k, n, minT, maxT, err, kind, len(ts), ts[0], ts[len(ts)-1])
	}
	gotK, gotT, gotV, err := Decode(b, []int64{-1}, []point.Value{point.Int(-1)})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if gotK != kind || len(gotT) != len(ts)+1 || len(gotV) != len(vals)+1 {
		t.Fatalf("Decode: kind %v, %d ts, %d vals; want %v, %d", gotK, len(gotT)-1, len(gotV)-1, kind, len(ts))
	}
	if gotT[0] != -1 || !gotV[0].Equal(point.Int(-1)) {
		t.Fatalf("Decode did not append")
	}
	for i := range ts {
		if gotT[i+1] != ts[i] || !gotV[i+1].Equal(vals[i]) {
			t.Fatalf("sample %d: got (%d, %v), want (%d, %v)", i, gotT[i+1], gotV[i+1], ts[i], vals[i])
		}
	}
	checkBits(t, b)
	return b
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	long := strings.Repeat("x", 100_000)
	many := make([]string, 1000)
	for i := range many {
		many[i] = strings.Repeat("s", i%37) + string(rune('a'+i%26)) + long[:i%5]
		many[i] += string(rune(i))
	}
	subnormal := math.Float64frombits(1)
	tests := []struct {
		name string
		kind point.Kind
		ts   []int64
		vals []point.Value
	}{
		{"float single", point.KindFloat, []int64{42}, floats(1.5)},
		{"float regular walk", point.KindFloat, regular(1_700_000_000_000, 1000, 3600), randomWalk(r, 3600)},
		{"float jittered walk", point.KindFloat, jittered(r, 1_700_000_000_000, 1000, 20, 1000), randomWalk(r, 1000)},
		{"float specials", point.KindFloat, regular(0, 1, 9), floats(math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0, math.MaxFloat64, -math.MaxFloat64, subnormal, math.SmallestNonzeroFloat64)},
		{"float nan payload", point.KindFloat, regular(0, 1, 3), []point.Value{point.Float(math.Float64frombits(0x7ff8dead_beef0001)), point.Float(1), point.Float(math.Float64frombits(0xfff0000000000001))}},
		{"float negative zero only", point.KindFloat, regular(5, 5, 4), floats(math.Copysign(0, -1), math.Copysign(0, -1), 0, 0)},
		{"float decimals mixed exponents", point.KindFloat, regular(0, 1000, 6), floats(1, 2.5, 3.25, -0.001, 123456.789, 1e-12)},
		{"float big integers", point.KindFloat, regular(0, 1000, 4), floats(1<<53, -(1 << 53), 1e300, 3)},
		{"float random bits", point.KindFloat, regular(-1000, 7, 500), randomBits(r, 500)},
		{"float constant", point.KindFloat, regular(0, 60_000, 1440), floats(repeatF(20.5, 1440)...)},
		{"int single", point.KindInt, []int64{-5}, ints(0)},
		{"int extremes", point.KindInt, regular(0, 1, 6), ints(math.MinInt64, math.MaxInt64, math.MinInt64, 0, math.MaxInt64, -1)},
		{"int counter", point.KindInt, regular(0, 10_000, 2000), ints(counter(2000)...)},
		{"int constant", point.KindInt, regular(0, 1000, 300), ints(make([]int64, 300)...)},
		{"int random", point.KindInt, jittered(r, 0, 100, 3, 700), ints(randomInts(r, 700)...)},
		{"bool constant true", point.KindBool, regular(0, 1000, 129), bools(repeatB(true, 129)...)},
		{"bool constant false", point.KindBool, regular(0, 1000, 3), bools(false, false, false)},
		{"bool alternating", point.KindBool, regular(0, 1000, 13), bools(true, false, true, true, false, false, true, false, true, true, true, false, true)},
		{"string single empty", point.KindString, []int64{0}, strs("")},
		{"string few", point.KindString, regular(0, 1000, 6), strs("on", "off", "on", "", "on", "standby")},
		{"string long", point.KindString, regular(0, 1000, 3), strs(long, "", long)},
		{"string many distinct", point.KindString, regular(0, 1000, len(many)), strs(many...)},
		{"time negative", point.KindInt, []int64{-3_000_000, -2_000_000, -1, 0, 1}, ints(1, 2, 3, 4, 5)},
		{"time huge gaps", point.KindInt, []int64{math.MinInt64, -1 << 40, 0, 1, 1 << 62, math.MaxInt64}, ints(1, 2, 3, 4, 5, 6)},
		{"time extremes only", point.KindFloat, []int64{math.MinInt64, math.MaxInt64}, floats(1, 2)},
		{"time bucket edges", point.KindInt, edgeTimes(), ints(make([]int64, len(edgeTimes()))...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { roundTrip(t, tc.kind, tc.ts, tc.vals) })
	}
}

// edgeTimes has delta-of-deltas at and around every bucket boundary.
func edgeTimes() []int64 {
	ts := []int64{0}
	delta := int64(1 << 30)
	for _, dod := range []int64{0, 63, -64, 64, -65, 8191, -8192, 8192, -8193, 1<<23 - 1, -1 << 23, 1 << 23, -1<<23 - 1, 1 << 40, -1 << 39} {
		delta += dod
		ts = append(ts, ts[len(ts)-1]+delta)
	}
	return ts
}

func repeatF(f float64, n int) []float64 {
	fs := make([]float64, n)
	for i := range fs {
		fs[i] = f
	}
	return fs
}

func repeatB(b bool, n int) []bool {
	bs := make([]bool, n)
	for i := range bs {
		bs[i] = b
	}
	return bs
}

func counter(n int) []int64 {
	is := make([]int64, n)
	for i := range is {
		is[i] = 1_000_000 + int64(i)*17 + int64(i%3)
	}
	return is
}

func randomInts(r *rand.Rand, n int) []int64 {
	is := make([]int64, n)
	for i := range is {
		is[i] = int64(r.Uint64()) >> r.IntN(64)
	}
	return is
}

func randomBits(r *rand.Rand, n int) []point.Value {
	vs := make([]point.Value, n)
	for i := range vs {
		vs[i] = point.Float(math.Float64frombits(r.Uint64()))
	}
	return vs
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		kind point.Kind
		ts   []int64
		vals []point.Value
		want error
	}{
		{"empty", point.KindFloat, nil, nil, ErrEmpty},
		{"length mismatch", point.KindFloat, []int64{1, 2}, floats(1), ErrLength},
		{"equal timestamps", point.KindInt, []int64{1, 1}, ints(1, 2), ErrOrder},
		{"decreasing timestamps", point.KindInt, []int64{2, 1}, ints(1, 2), ErrOrder},
		{"int in float block", point.KindFloat, []int64{1, 2}, []point.Value{point.Float(1), point.Int(2)}, ErrKind},
		{"invalid value", point.KindFloat, []int64{1}, []point.Value{{}}, ErrKind},
		{"invalid kind", point.Kind(9), []int64{1}, floats(1), ErrKind},
		{"too many", point.KindBool, regular(0, 1, MaxPoints+1), bools(repeatB(true, MaxPoints+1)...), ErrTooMany},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode([]byte{7}, tc.kind, tc.ts, tc.vals)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(b) != 1 {
				t.Fatalf("dst grew on error")
			}
		})
	}
}

// TestProperty round-trips random blocks of every kind and shape.
func TestProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 400 {
		n := 1 + r.IntN(600)
		ts := randomTimes(r, n)
		kind := point.Kind(1 + r.IntN(4))
		vals := randomValues(r, kind, n)
		b := roundTrip(t, kind, ts, vals)
		if i%10 == 0 { // every strict prefix must fail, never panic
			for cut := range b {
				if _, _, _, err := Decode(b[:cut], nil, nil); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("case %d: truncated at %d/%d: err = %v", i, cut, len(b), err)
				}
			}
		}
	}
}

func randomTimes(r *rand.Rand, n int) []int64 {
	ts := make([]int64, n)
	t := r.Int64N(1<<50) - 1<<49
	for i := range ts {
		ts[i] = t
		switch r.IntN(4) {
		case 0:
			t += 1000
		case 1:
			t += 1 + r.Int64N(100)
		case 2:
			t += 1 + r.Int64N(1<<30)
		default:
			t += 1 + r.Int64N(1<<40)
		}
	}
	return ts
}

func randomValues(r *rand.Rand, kind point.Kind, n int) []point.Value {
	vs := make([]point.Value, n)
	for i := range vs {
		switch kind {
		case point.KindFloat:
			vs[i] = []func() point.Value{
				func() point.Value { return point.Float(float64(r.IntN(100000)-50000) / 100) },
				func() point.Value { return point.Float(r.NormFloat64()) },
				func() point.Value { return point.Float(math.Float64frombits(r.Uint64())) },
			}[r.IntN(3)]()
		case point.KindInt:
			vs[i] = point.Int(int64(r.Uint64()) >> r.IntN(64))
		case point.KindBool:
			vs[i] = point.Bool(r.IntN(2) == 0)
		default:
			vs[i] = point.String(strings.Repeat("ab", r.IntN(4)) + string(rune('a'+r.IntN(20))))
		}
	}
	return vs
}
