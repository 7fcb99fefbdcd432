package chunk

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgevault/edgevault/point"
)

func mustEncode(t testing.TB, kind point.Kind, ts []int64, vals []point.Value) []byte {
	t.Helper()
	b, err := Encode(nil, kind, ts, vals)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// block builds a block by hand: the header, then the columns as given.
func block(kind point.Kind, count uint64, minT, maxT int64, valEnc byte, tsCol, valCol []byte) []byte {
	b := []byte{version, byte(kind)}
	b = binary.AppendUvarint(b, count)
	b = binary.AppendVarint(b, minT)
	b = binary.AppendVarint(b, maxT)
	b = append(b, encTimeDoD, valEnc)
	b = binary.AppendUvarint(b, uint64(len(tsCol)))
	b = append(b, tsCol...)
	return append(b, valCol...)
}

// tcol is the timestamp column the encoder writes for ts.
func tcol(ts ...int64) []byte { return appendTimes(nil, ts) }

func TestDecodeCorrupt(t *testing.T) {
	good := mustEncode(t, point.KindFloat, regular(0, 1000, 10), floats(1, 2, 3, 4, 5, 6, 7, 8, 9, 10.5))
	with := func(i int, c byte) []byte {
		b := append([]byte(nil), good...)
		b[i] = c
		return b
	}
	oneFloat := binary.BigEndian.AppendUint64(nil, math.Float64bits(1))
	tests := []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"version only", []byte{version}},
		{"bad version", with(0, 2)},
		{"bad kind", with(1, 0)},
		{"kind 5", with(1, 5)},
		{"trailing byte", append(append([]byte(nil), good...), 0)},
		{"count zero", block(point.KindFloat, 0, 1, 1, encFloatXOR, nil, oneFloat)},
		{"count above MaxPoints", block(point.KindBool, MaxPoints+1, 0, MaxPoints, encBoolConst, make([]byte, MaxPoints/8+1), []byte{1})},
		{"count beyond timestamp bits", block(point.KindBool, 1000, 0, 999, encBoolConst, []byte{0}, []byte{1})},
		{"count huge varint", append([]byte{version, 1}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"single point with range", block(point.KindFloat, 1, 1, 2, encFloatXOR, nil, oneFloat)},
		{"max before min", block(point.KindFloat, 2, 5, 4, encFloatXOR, []byte{0x80}, oneFloat)},
		{"last time mismatch", block(point.KindBool, 2, 0, 10, encBoolConst, tcol(0, 1), []byte{1})},
		{"time column too long", block(point.KindBool, 1, 0, 0, encBoolConst, []byte{0}, []byte{1})},
		{"time column beyond block", []byte{version, byte(point.KindBool), 2, 0, 2, encTimeDoD, encBoolConst, 9, 0x80}},
		{"not increasing", block(point.KindBool, 3, 0, 2, encBoolConst, tcol(0, 3, 2), []byte{1})},
		{"bad time encoding", func() []byte {
			b := block(point.KindBool, 1, 0, 0, encBoolConst, nil, []byte{1})
			b[len(b)-4] = 9
			return b
		}()},
		{"float with int encoding", block(point.KindFloat, 1, 0, 0, encIntPacked, nil, []byte{orderDelta, 2})},
		{"unknown value encoding", block(point.KindFloat, 1, 0, 0, 99, nil, oneFloat)},
		{"xor truncated", block(point.KindFloat, 1, 0, 0, encFloatXOR, nil, oneFloat[:7])},
		{"xor reuse without window", block(point.KindFloat, 2, 0, 1, encFloatXOR, tcol(0, 1), append(oneFloat, 0x80, 0))},
		{"xor window too wide", block(point.KindFloat, 2, 0, 1, encFloatXOR, tcol(0, 1), append(oneFloat, 0xff, 0xf8))},
		{"xor padding bits set", block(point.KindFloat, 2, 0, 1, encFloatXOR, tcol(0, 1), append(oneFloat, 0x01))},
		{"decimal bad exponent", block(point.KindFloat, 1, 0, 0, encFloatDec, nil, []byte{19, orderDelta, 2})},
		{"int bad order", block(point.KindInt, 1, 0, 0, encIntPacked, nil, []byte{3, 2})},
		{"int frame width 65", block(point.KindInt, 2, 0, 1, encIntPacked, tcol(0, 1), []byte{orderDelta, 2, 65})},
		{"int frame truncated", block(point.KindInt, 2, 0, 1, encIntPacked, tcol(0, 1), []byte{orderDelta, 2, 8})},
		{"int trailing", block(point.KindInt, 1, 0, 0, encIntPacked, nil, []byte{orderDelta, 2, 0})},
		{"bool const 2", block(point.KindBool, 1, 0, 0, encBoolConst, nil, []byte{2})},
		{"bool bitmap short", block(point.KindBool, 9, 0, 8, encBoolBitmap, tcol(regular(0, 1, 9)...), []byte{0xff})},
		{"string dict empty", block(point.KindString, 1, 0, 0, encStringDict, nil, []byte{0, 0})},
		{"string dict larger than count", block(point.KindString, 1, 0, 0, encStringDict, nil, []byte{2, 0, 0, 0})},
		{"string entry too long", block(point.KindString, 1, 0, 0, encStringDict, nil, []byte{1, 5, 'a', 0})},
		{"string index out of range", block(point.KindString, 1, 0, 0, encStringDict, nil, []byte{1, 1, 'a', 1, 1})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts0, vals0 := []int64{7}, floats(7)
			k, ts, vals, err := Decode(tc.b, ts0, vals0)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if k != 0 || len(ts) != 1 || len(vals) != 1 {
				t.Fatalf("Decode returned kind %v, %d ts, %d vals on error", k, len(ts), len(vals))
			}
			checkBits(t, tc.b)
		})
	}
}

// TestDecodeBitFlips checks that flipped bits never panic, and that whatever
// decodes re-encodes to the same samples.
func TestDecodeBitFlips(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 200 {
		kind := point.Kind(1 + i%4)
		n := 1 + r.IntN(300)
		b := mustEncode(t, kind, randomTimes(r, n), randomValues(r, kind, n))
		for range 20 {
			c := append([]byte(nil), b...)
			c[r.IntN(len(c))] ^= 1 << r.IntN(8)
			checkStable(t, c)
		}
	}
}

// checkStable decodes b and, if that works, checks encode+decode gives the
// same samples back.
func checkStable(t testing.TB, b []byte) {
	checkBits(t, b)
	kind, ts, vals, err := Decode(b, nil, nil)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		return
	}
	b2, err := Encode(nil, kind, ts, vals)
	if err != nil {
		t.Fatalf("re-encode decoded block: %v", err)
	}
	kind2, ts2, vals2, err := Decode(b2, nil, nil)
	if err != nil || kind2 != kind || len(ts2) != len(ts) || len(vals2) != len(vals) {
		t.Fatalf("decode re-encoded block: %v", err)
	}
	for i := range ts {
		if ts2[i] != ts[i] || !vals2[i].Equal(vals[i]) {
			t.Fatalf("sample %d changed: (%d, %v) -> (%d, %v)", i, ts[i], vals[i], ts2[i], vals2[i])
		}
	}
}

// checkBits checks that DecodeBits agrees with Decode on b: the same
// samples appended after what was given, or the same error with what was
// given returned untouched. A block that Header accepts as a string block
// is ErrKind instead.
func checkBits(t testing.TB, b []byte) {
	t.Helper()
	kind, ts, vals, err := Decode(b, []int64{-1}, floats(-1))
	bkind, bts, bits, berr := DecodeBits(b, []int64{-2}, []uint64{2})
	if hk, _, _, _, herr := Header(b); herr == nil && hk == point.KindString {
		if !errors.Is(berr, ErrKind) || bkind != 0 || len(bts) != 1 || len(bits) != 1 {
			t.Fatalf("DecodeBits of a string block = %v, %d ts, %d bits, %v; want ErrKind", bkind, len(bts), len(bits), berr)
		}
		return
	}
	if (err == nil) != (berr == nil) || err != nil && err.Error() != berr.Error() {
		t.Fatalf("DecodeBits error %v, Decode error %v", berr, err)
	}
	if bkind != kind || len(bts) != len(ts) || len(bits) != len(vals) {
		t.Fatalf("DecodeBits: kind %v, %d ts, %d bits; Decode: kind %v, %d ts, %d vals", bkind, len(bts), len(bits), kind, len(ts), len(vals))
	}
	if bts[0] != -2 || bits[0] != 2 {
		t.Fatalf("DecodeBits did not append: ts[0] %d, bits[0] %d", bts[0], bits[0])
	}
	for i := 1; i < len(ts); i++ {
		if bts[i] != ts[i] || vals[i].Kind() != kind || bits[i] != vals[i].FloatBits() ||
			!point.FromBits(bkind, bits[i]).Equal(vals[i]) {
			t.Fatalf("sample %d: DecodeBits (%d, %#x), Decode (%d, %v)", i, bts[i], bits[i], ts[i], vals[i])
		}
	}
}
