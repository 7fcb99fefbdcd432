package point

import (
	"math"
	"strconv"
)

// appendFloat appends strconv.AppendFloat(dst, f, 'g', -1, 64) for a
// finite f. Sensor values are mostly decimals with a few places (21.25), and
// the shortest-digits search of strconv costs most of a large query answer;
// such a value is written from its integer form instead. It is the same
// text: when n = round(f·10^4) and float64(n)/10^4 == f, the decimal
// n·10^-4 maps to f, and it is the only decimal of at most 4 places that
// does (below 10^6, two of them are at least 10^-4 apart, far more than
// float64's spacing there). So every shorter decimal mapping to f is it
// with trailing zeros dropped, and that is what strconv's shortest search
// finds; 'g' writes it without an exponent while 1e-4 <= |f| < 1e6.
// Everything else goes to strconv.
func appendFloat(dst []byte, f float64) []byte {
	a := math.Abs(f)
	if a < 1e-4 || a >= 1e6 {
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	}
	if n := math.Round(f * 1e4); n/1e4 == f {
		return appendDecimal(dst, int64(n), 4)
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
	var buf [20]byte
	i := len(buf)
	for n >= 100 {
		q := n / 100
		r := n - 100*q
		i -= 2
		buf[i], buf[i+1] = pairs[2*r], pairs[2*r+1]
		n = q
	}
	if n >= 10 {
		i -= 2
		buf[i], buf[i+1] = pairs[2*n], pairs[2*n+1]
	} else {
		i--
		buf[i] = byte('0' + n)
	}
	digits := buf[i:]
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

// TimeAppender writes Unix millisecond timestamps in decimal, faster than
// strconv for a run of close ones (a query answer): the digits above the
// last six are kept from the previous timestamp while they do not change
// (1,000 s at 1 Hz), and the last six come from the digit-pair table. A
// one-day raw answer spent a fifth of its server time in strconv.AppendInt
// (9.6 vs about 29 ns, go test -bench TimeAppender ./point/). The zero
// value is ready to use.
type TimeAppender struct {
	hi     int64 // t / 1e6 of the cached digits
	digits []byte
}

const lowDigits = 1000000

// Append appends the decimal form of t, as strconv.AppendInt(b, t, 10).
func (f *TimeAppender) Append(b []byte, t int64) []byte {
	if t < lowDigits {
		return strconv.AppendInt(b, t, 10)
	}
	hi, lo := t/lowDigits, t%lowDigits
	if f.digits == nil || hi != f.hi {
		f.hi, f.digits = hi, strconv.AppendInt(f.digits[:0], hi, 10)
	}
	b = append(b, f.digits...)
	for _, d := range [3]int64{lo / 10000, lo / 100 % 100, lo % 100} {
		b = append(b, pairs[2*d], pairs[2*d+1])
	}
	return b
}

// pairs holds "00" to "99": two digits per division by 100.
const pairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"
