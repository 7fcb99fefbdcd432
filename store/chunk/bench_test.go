package chunk

import (
	"math/rand/v2"
	"testing"

	"github.com/edgevault/edgevault/point"
)

const benchPoints = 3600

func benchBlock(kind point.Kind) ([]int64, []point.Value) {
	r := rand.New(rand.NewPCG(11, 12))
	ts := regular(1_700_000_000_000, 1000, benchPoints)
	switch kind {
	case point.KindInt:
		return ts, ints(counter(benchPoints)...)
	case point.KindBool:
		return ts, randomValues(r, kind, benchPoints)
	case point.KindString:
		return ts, randomValues(r, kind, benchPoints)
	}
	return ts, randomWalk(r, benchPoints)
}

func benchEncode(b *testing.B, kind point.Kind, ts []int64, vals []point.Value) {
	var buf []byte
	for b.Loop() {
		var err error
		if buf, err = Encode(buf[:0], kind, ts, vals); err != nil {
			b.Fatal(err)
		}
	}
	report(b, len(buf))
}

func benchDecode(b *testing.B, kind point.Kind, ts []int64, vals []point.Value) {
	blk := mustEncode(b, kind, ts, vals)
	var dts []int64
	var dvals []point.Value
	for b.Loop() {
		var err error
		if _, dts, dvals, err = Decode(blk, dts[:0], dvals[:0]); err != nil {
			b.Fatal(err)
		}
	}
	report(b, len(blk))
}

// benchDecodeBits is benchDecode through DecodeBits.
func benchDecodeBits(b *testing.B, kind point.Kind, ts []int64, vals []point.Value) {
	blk := mustEncode(b, kind, ts, vals)
	var dts []int64
	var bits []uint64
	for b.Loop() {
		var err error
		if _, dts, bits, err = DecodeBits(blk, dts[:0], bits[:0]); err != nil {
			b.Fatal(err)
		}
	}
	report(b, len(blk))
}

func report(b *testing.B, size int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchPoints, "ns/point")
	b.ReportMetric(float64(size)/benchPoints, "bytes/point")
}

// BenchmarkEncodeFloat encodes a 3600-point 2-decimal random walk at 1 Hz.
func BenchmarkEncodeFloat(b *testing.B) {
	ts, vals := benchBlock(point.KindFloat)
	benchEncode(b, point.KindFloat, ts, vals)
}

// BenchmarkDecodeFloat decodes a 3600-point 2-decimal random walk at 1 Hz.
func BenchmarkDecodeFloat(b *testing.B) {
	ts, vals := benchBlock(point.KindFloat)
	benchDecode(b, point.KindFloat, ts, vals)
}

// BenchmarkDecodeBitsFloat is BenchmarkDecodeFloat into pointer-free columns.
func BenchmarkDecodeBitsFloat(b *testing.B) {
	ts, vals := benchBlock(point.KindFloat)
	benchDecodeBits(b, point.KindFloat, ts, vals)
}

// BenchmarkDecodeFloatXOR decodes floats that have no short decimal form.
func BenchmarkDecodeFloatXOR(b *testing.B) {
	r := rand.New(rand.NewPCG(13, 14))
	vals := make([]point.Value, benchPoints)
	for i := range vals {
		vals[i] = point.Float(20 + r.NormFloat64())
	}
	benchDecode(b, point.KindFloat, regular(1_700_000_000_000, 1000, benchPoints), vals)
}

func BenchmarkDecodeInt(b *testing.B) {
	ts, vals := benchBlock(point.KindInt)
	benchDecode(b, point.KindInt, ts, vals)
}

func BenchmarkDecodeBitsInt(b *testing.B) {
	ts, vals := benchBlock(point.KindInt)
	benchDecodeBits(b, point.KindInt, ts, vals)
}

func BenchmarkDecodeBool(b *testing.B) {
	ts, vals := benchBlock(point.KindBool)
	benchDecode(b, point.KindBool, ts, vals)
}

func BenchmarkDecodeBitsBool(b *testing.B) {
	ts, vals := benchBlock(point.KindBool)
	benchDecodeBits(b, point.KindBool, ts, vals)
}

func BenchmarkDecodeString(b *testing.B) {
	ts, vals := benchBlock(point.KindString)
	benchDecode(b, point.KindString, ts, vals)
}
