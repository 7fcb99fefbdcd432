package chunk

import (
	"math"
	"math/bits"

	"github.com/edgevault/edgevault/point"
)

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

const (
	maxEncodeExp = 12      // the encoder tries exponents 0..maxEncodeExp
	maxScaled    = 1 << 53 // |v*10^e| bound, so the int64 is exact as a float64
)

// appendFloats writes the smaller of the XOR and the decimal column and
// returns the encoding id it chose.
func appendFloats(dst []byte, vals []point.Value) ([]byte, byte) {
	start := len(dst)
	dst = appendXOR(dst, vals)
	e, ints, ok := decimalScale(vals)
	if !ok {
		return dst, encFloatXOR
	}
	dec := appendInts([]byte{byte(e)}, ints)
	if len(dec) >= len(dst)-start {
		return dst, encFloatXOR
	}
	return append(dst[:start], dec...), encFloatDec
}

// scaled returns round(f*10^e) if dividing it by 10^e gives back exactly f.
func scaled(f float64, e int) (int64, bool) {
	s := f * pow10[e]
	if !(math.Abs(s) < maxScaled) { // also rejects NaN and Inf
		return 0, false
	}
	n := int64(math.Round(s))
	return n, math.Float64bits(float64(n)/pow10[e]) == math.Float64bits(f)
}

// decimalScale finds the smallest exponent e such that every value is an
// integer over 10^e, as ALP does, and returns those integers. -0, NaN and
// Inf never qualify.
func decimalScale(vals []point.Value) (int, []int64, bool) {
	e := 0
	for _, v := range vals {
		for {
			if _, ok := scaled(v.Float(), e); ok {
				break
			}
			if e++; e > maxEncodeExp {
				return 0, nil, false
			}
		}
	}
	ints := make([]int64, len(vals))
	for i, v := range vals {
		n, ok := scaled(v.Float(), e)
		if !ok { // a value exact at a smaller exponent but not at e
			return 0, nil, false
		}
		ints[i] = n
	}
	return e, ints, true
}

func decodeDecimal(col []byte, count int, emit func([]uint64)) error {
	if len(col) < 1 || int(col[0]) >= len(pow10) {
		return corrupt("decimal: bad exponent")
	}
	p := pow10[col[0]]
	return decodeInts(col[1:], count, func(ns []uint64) {
		for i, n := range ns {
			ns[i] = math.Float64bits(float64(int64(n)) / p)
		}
		emit(ns)
	})
}

// appendXOR writes the Gorilla XOR stream: the first value's 64 bits, then
// for each value its XOR x with the previous one:
//
//	0                                   x == 0
//	10 + meaningful bits                x fits the previous leading/trailing window
//	11 + 5 bits leading zeros + 6 bits length (0 means 64) + meaningful bits
func appendXOR(dst []byte, vals []point.Value) []byte {
	w := bitWriter{b: dst}
	prev := vals[0].FloatBits()
	w.writeBits(prev, 64)
	lead, trail := uint(0xff), uint(0)
	for _, v := range vals[1:] {
		cur := v.FloatBits()
		x := cur ^ prev
		prev = cur
		if x == 0 {
			w.writeBit(0)
			continue
		}
		l, t := uint(min(bits.LeadingZeros64(x), 31)), uint(bits.TrailingZeros64(x))
		if lead != 0xff && l >= lead && t >= trail {
			w.writeBits(0b10, 2)
			w.writeBits(x>>trail, 64-lead-trail)
			continue
		}
		lead, trail = l, t
		sig := 64 - l - t
		w.writeBits(0b11, 2)
		w.writeBits(uint64(l), 5)
		w.writeBits(uint64(sig&63), 6)
		w.writeBits(x>>t, sig)
	}
	return w.finish()
}

func decodeXOR(col []byte, count int, emit func([]uint64)) error {
	r := bitReader{b: col}
	prev, ok := r.readBits(64)
	if !ok {
		return corrupt("xor: truncated")
	}
	var out [frameLen]uint64
	out[0] = prev
	k := 1
	lead, trail := uint(0xff), uint(0)
	for i := 1; i < count; i++ {
		bit, ok := r.readBit()
		if !ok {
			return corrupt("xor: truncated")
		}
		if bit == 1 {
			if lead, trail, ok = readXOR(&r, &prev, lead, trail); !ok {
				return corrupt("xor: bad value %d", i)
			}
		}
		if k == len(out) {
			emit(out[:])
			k = 0
		}
		out[k] = prev
		k++
	}
	emit(out[:k])
	if !r.done() {
		return corrupt("xor: trailing bytes")
	}
	return nil
}

// readXOR reads one non-zero XOR after its leading 1 bit and applies it to prev.
func readXOR(r *bitReader, prev *uint64, lead, trail uint) (uint, uint, bool) {
	ctl, ok := r.readBit()
	if !ok {
		return 0, 0, false
	}
	if ctl == 1 {
		hdr, ok := r.readBits(11)
		if !ok {
			return 0, 0, false
		}
		lead = uint(hdr >> 6)
		sig := uint(hdr & 63)
		if sig == 0 {
			sig = 64
		}
		if lead+sig > 64 {
			return 0, 0, false
		}
		trail = 64 - lead - sig
	} else if lead == 0xff {
		return 0, 0, false
	}
	x, ok := r.readBits(64 - lead - trail)
	if !ok {
		return 0, 0, false
	}
	*prev ^= x << trail
	return lead, trail, true
}
