package point

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func checkFloat(t testing.TB, f float64) {
	t.Helper()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return
	}
	want := strconv.AppendFloat(nil, f, 'g', -1, 64)
	if got := appendFloat(nil, f); string(got) != string(want) {
		t.Fatalf("appendFloat(%v) = %s, want %s (bits %x)", f, got, want, math.Float64bits(f))
	}
	// after other bytes, with and without spare capacity
	for _, dst := range [][]byte{[]byte("[1,"), append(make([]byte, 0, 64), "[1,"...)} {
		if got := appendFloat(dst, f); string(got) != "[1,"+string(want) {
			t.Fatalf("appendFloat(%q, %v) = %s", dst, f, got)
		}
	}
}

func TestAppendFloatMatchesStrconv(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 21.25, 21.1, 21.10, 0.05, -0.05, 0.0001, 0.00011,
		0.00009, 999999.99, 1e6, 1e6 - 0.01, 123456.7, 0.1 + 0.2, 1.0 / 3, 45, -273.15, 5e-324, math.MaxFloat64,
		100, 1000.5, 0.3, 2.675, 1.005, 9.995, 14.2} {
		checkFloat(t, f)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2_000_000 {
		d := r.IntN(6)
		n := r.Int64N(2_000_000_000) - 1_000_000_000
		checkFloat(t, float64(n)/math.Pow(10, float64(d)))
		checkFloat(t, math.Float64frombits(r.Uint64()))
		checkFloat(t, r.NormFloat64()*1000)
	}
}

// FuzzAppendFloat checks the fast path against strconv on any bits.
func FuzzAppendFloat(f *testing.F) {
	for _, seed := range []float64{21.25, 0.05, -0.0001, 999999.99, 0.1 + 0.2} {
		f.Add(math.Float64bits(seed))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		checkFloat(t, math.Float64frombits(bits))
		// and the decimal neighbours of the value, where the fast path runs
		v := math.Float64frombits(bits)
		for d := range 5 {
			p := math.Pow(10, float64(d))
			checkFloat(t, math.Round(v*p)/p)
		}
	})
}

func BenchmarkAppendFloat(b *testing.B) {
	vals := make([]float64, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	x := 2100
	for i := range vals {
		x += r.IntN(11) - 5
		vals[i] = float64(x) / 100
	}
	b.Run("fast", func(b *testing.B) {
		buf := make([]byte, 0, 32)
		for i := 0; i < b.N; i++ {
			buf = appendFloat(buf[:0], vals[i%len(vals)])
		}
	})
	b.Run("strconv", func(b *testing.B) {
		buf := make([]byte, 0, 32)
		for i := 0; i < b.N; i++ {
			buf = strconv.AppendFloat(buf[:0], vals[i%len(vals)], 'g', -1, 64)
		}
	})
}

// TestTimeAppender checks the timestamp writer against strconv, across the
// cache's boundaries and for values it leaves to strconv, appending to an
// empty buffer, to one without spare capacity and to a run of others.
func TestTimeAppender(t *testing.T) {
	var f TimeAppender
	var b, run, want []byte
	vals := []int64{0, 7, 999999, 1000000, 1000001, -1, -1764460800000, 1764460800000, 1764460800999,
		1764461799999, 1764461800000, 1764461800001, math.MaxInt64, math.MinInt64, 1000000000000000,
		math.MaxInt64 - 1, 999999999999999999, 1000000000000000000, 12345678}
	for t0 := int64(1764460799000); t0 < 1764460799000+3_000_000; t0 += 997 {
		vals = append(vals, t0)
	}
	for _, v := range vals {
		b = f.Append(b[:0], v)
		if want := strconv.FormatInt(v, 10); string(b) != want {
			t.Fatalf("Append(%d) = %s, want %s", v, b, want)
		}
		full := []byte("[")
		if got := f.Append(full[:1:1], v); string(got) != "["+strconv.FormatInt(v, 10) {
			t.Fatalf("Append([, %d) = %s", v, got)
		}
		run = append(f.Append(run, v), ',')
		want = append(strconv.AppendInt(want, v, 10), ',')
	}
	if string(run) != string(want) {
		t.Fatal("a run of appends differs from strconv")
	}
}

// TestAppendBitsJSON checks AppendBitsJSON against strconv and against
// AppendJSON of the same value, on special and random bits of each kind.
func TestAppendBitsJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	bits := []uint64{0, 1, 2, math.MaxUint64, 1 << 63, math.Float64bits(math.NaN()), math.Float64bits(math.Inf(1)),
		math.Float64bits(math.Inf(-1)), math.Float64bits(21.25), math.Float64bits(-0.05), math.Float64bits(1e21)}
	for range 100_000 {
		bits = append(bits, r.Uint64(), math.Float64bits(float64(r.Int64N(100_000)-50_000)/100))
	}
	for _, u := range bits {
		for _, k := range []Kind{0, KindFloat, KindInt, KindBool, KindString, 9} {
			checkBitsJSON(t, k, u)
		}
	}
}

func checkBitsJSON(t *testing.T, k Kind, u uint64) {
	t.Helper()
	want := "null"
	switch f := math.Float64frombits(u); {
	case k == KindFloat && !math.IsNaN(f) && !math.IsInf(f, 0):
		want = strconv.FormatFloat(f, 'g', -1, 64)
	case k == KindInt:
		want = strconv.FormatInt(int64(u), 10)
	case k == KindBool:
		want = strconv.FormatBool(u != 0)
	}
	got := AppendBitsJSON([]byte("x"), k, u)
	if string(got) != "x"+want {
		t.Fatalf("AppendBitsJSON(%s, %#x) = %s, want %s", k, u, got[1:], want)
	}
	if v := FromBits(k, u); k >= KindFloat && k <= KindString && string(v.AppendJSON(nil)) != want {
		t.Fatalf("FromBits(%s, %#x).AppendJSON = %s, want %s", k, u, v.AppendJSON(nil), want)
	}
}

// BenchmarkAppendPoint writes [time,value] pairs of a 1 Hz 2-decimal random
// walk as the query API does, per point.
func BenchmarkAppendPoint(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	bits := make([]uint64, 4096)
	x := 2100
	for i := range bits {
		x += r.IntN(11) - 5
		bits[i] = math.Float64bits(float64(x) / 100)
	}
	var f TimeAppender
	buf := make([]byte, 0, 64)
	for i := range b.N {
		buf = append(buf[:0], '[')
		buf = f.Append(buf, 1764460800000+int64(i%86400)*1000)
		buf = append(buf, ',')
		buf = append(AppendBitsJSON(buf, KindFloat, bits[i%len(bits)]), ']')
	}
}

func BenchmarkTimeAppender(b *testing.B) {
	var f TimeAppender
	buf := make([]byte, 0, 32)
	for i := range b.N {
		buf = f.Append(buf[:0], 1764460800000+int64(i%86400)*1000)
	}
}
