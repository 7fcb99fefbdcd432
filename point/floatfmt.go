package point

import (
	"math"
	"strconv"
)

// pow10 holds the exact powers of ten the fast path divides by.
var pow10 = [...]float64{1, 10, 100, 1e3, 1e4}

// appendFloat appends strconv.AppendFloat(dst, f, 'g', -1, 64) for a
// finite f. Sensor values are mostly decimals with a few places (21.25), and
// the shortest-digits search of strconv costs most of a large query answer;
// such a value is written from its integer form instead. It is the same
// text: when float64(n)/10^d == f, the decimal n·10^-d (at most 14
// significant digits here) is the only decimal of that length that maps to
// f, so it is the shortest; 'g' writes it without an exponent while
// 1e-4 <= |f| < 1e6. Everything else goes to strconv.
func appendFloat(dst []byte, f float64) []byte {
	a := math.Abs(f)
	if a < 1e-4 || a >= 1e6 {
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	}
	for d, p := range pow10 {
		n := math.Round(f * p)
		if n/p != f {
			continue
		}
		return appendDecimal(dst, int64(n), d)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// appendDecimal writes n·10^-d with d places, trailing zeros and a bare
// point dropped.
func appendDecimal(dst []byte, n int64, d int) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	var buf [24]byte
	digits := strconv.AppendInt(buf[:0], n, 10)
	for d > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		d--
	}
	if d == 0 {
		return append(dst, digits...)
	}
	if len(digits) <= d { // 0.05: leading zeros after the point
		dst = append(dst, '0', '.')
		for range d - len(digits) {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	dst = append(dst, digits[:len(digits)-d]...)
	dst = append(dst, '.')
	return append(dst, digits[len(digits)-d:]...)
}
